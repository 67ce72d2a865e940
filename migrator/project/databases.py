"""The project's databases as settings describe them: one ``AliasInfo`` per ``DATABASES`` entry,
the aliases that are not databases (the dummy backend), mirrors (``TEST["MIRROR"]``) and the
passwords that output must never show. Reads settings only; connects to nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import connections

from migrator.exceptions import ConfigurationError
from migrator.project.targets import replaced_passwords
from migrator.text import first_line
from migrator.types import (
    DUMMY_ENGINE,
    DUMMY_VENDOR,
    AliasInfo,
)


def alias_infos() -> tuple[AliasInfo, ...]:
    """Every ``DATABASES`` entry in settings order, without passwords.

    An alias without an ENGINE (``"default": {}``: Django's dummy backend) is listed with vendor
    ``"dummy"`` and no backend loaded: it is not a database, so it is never planned, probed or
    connected to.
    """
    infos = []
    for alias, entry in _database_settings().items():
        if is_dummy(entry):
            infos.append(AliasInfo(alias=alias, vendor=DUMMY_VENDOR, engine=DUMMY_ENGINE, name=""))
            continue
        engine = str(entry.get("ENGINE") or "")
        try:
            vendor = connections[alias].vendor
        except Exception as exc:  # ImproperlyConfigured for a backend that cannot be imported
            raise ConfigurationError(
                f"DATABASES[{alias!r}]: ENGINE {engine!r} cannot be loaded ({first_line(exc)}); "
                "install its driver (e.g. pip install 'django-migrate-all[postgres]') or fix the ENGINE."
            ) from None
        infos.append(
            AliasInfo(
                alias=alias,
                vendor=vendor,
                engine=engine,
                name=str(entry.get("NAME") or ""),
                host=str(entry.get("HOST") or ""),
                port=str(entry.get("PORT") or ""),
                user=str(entry.get("USER") or ""),
                source=_parameter_source(vendor, entry),
            )
        )
    return tuple(infos)


def _database_settings() -> Mapping[str, Mapping[str, Any]]:
    """``DATABASES`` as Django's connection handler completes it (an empty ``DATABASES`` gets
    a dummy ``default``); reading it loads no backend and connects to nothing."""
    return connections.settings


def is_dummy(entry: Mapping[str, Any]) -> bool:
    """An entry Django fills in as its dummy backend: no ENGINE (``{}``), or the dummy itself."""
    engine = str(entry.get("ENGINE") or "")
    return engine in ("", "django.db.backends.", DUMMY_ENGINE)


def _parameter_source(vendor: str, entry: Mapping[str, Any]) -> str:
    """Where the driver finds what NAME leaves out: a libpq service or a MySQL option file."""
    options: Mapping[str, Any] = entry.get("OPTIONS") or {}
    if vendor == "postgresql" and options.get("service"):
        return f"service {options['service']}"
    if vendor == "mysql" and options.get("read_default_file"):
        return f"read_default_file {options['read_default_file']}"
    return ""


def not_databases() -> tuple[str, ...]:
    """Aliases configured without an ENGINE (Django's dummy backend), in settings order."""
    return tuple(alias for alias, entry in _database_settings().items() if is_dummy(entry))


def passwords() -> tuple[str, ...]:
    """Every configured password, so that output can be scrubbed of them (those that
    ``MIGRATOR["DIRECT"]`` replaced included)."""
    found = list(replaced_passwords)
    for entry in settings.DATABASES.values():
        password = entry.get("PASSWORD")
        if password:
            found.append(str(password))
        options: Mapping[str, Any] = entry.get("OPTIONS") or {}  # type: ignore[assignment]
        found.extend(str(options[key]) for key in ("password", "passwd") if options.get(key))
    return tuple(found)


def alias_names() -> tuple[str, ...]:
    """The aliases that are databases, in settings order (no database backend is loaded): those
    configured without an ENGINE (Django's dummy backend) are left out, so the routers are never
    asked about them and no plan, check or graph includes them."""
    return tuple(alias for alias, entry in _database_settings().items() if not is_dummy(entry))


def mirrors() -> dict[str, str]:
    """Aliases declared mirrors of another (``TEST["MIRROR"]``: a replica), with that alias."""
    found = {}
    for alias, entry in settings.DATABASES.items():
        test: Mapping[str, Any] = entry.get("TEST") or {}  # type: ignore[assignment]
        if test.get("MIRROR"):
            found[alias] = str(test["MIRROR"])
    return found


def database_keys() -> dict[str, str]:
    """Per alias, what its ``DATABASES`` entry connects to (ENGINE, HOST, PORT, NAME, OPTIONS),
    as one string: aliases with equal keys are one database; ``--shard`` hashes it, so they land
    in one shard. Never shown (OPTIONS may hold a password)."""
    keys = {}
    for alias, entry in _database_settings().items():
        options: Mapping[str, Any] = entry.get("OPTIONS") or {}
        parts = [str(entry.get(name) or "") for name in ("ENGINE", "HOST", "PORT", "NAME")]
        parts.append(repr(sorted((str(k), repr(v)) for k, v in options.items())))
        keys[alias] = "\x1f".join(parts)
    return keys
