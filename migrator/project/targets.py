"""Targets from code: ``MIGRATOR["DATABASES"]`` names a callable that returns more aliases,
``{alias: settings dict}`` with the keys of a ``DATABASES`` entry (a tenant table, an API, a file
may hold them). The commands and ``migrator.api`` call it once per process, before they read the
aliases, and add its aliases to Django's ``connections`` (forked ``--parallel`` workers inherit
them); the routers decide what runs there as for any alias. Django's own commands (``check``,
``runserver``) never call it: the system checks see settings' aliases only.

``MIGRATOR["DIRECT"]`` (``{alias: {HOST, PORT, ...}}``) is merged over those aliases' entries at
the same moment, so that migrator's connections (preflight, lock, migrations) reach the server
directly where the application goes through a pooler; Django's own commands never see it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from migrator import conf
from migrator.exceptions import ConfigurationError
from migrator.text import first_line

# The aliases added in this process, and the callable's path they came from.
_loaded: dict[str, tuple[str, ...]] = {}
# The entries MIGRATOR["DIRECT"] changed, as they were before (to restore them: tests).
_replaced: dict[str, dict[str, Any]] = {}
# Passwords of the entries as they were before DIRECT replaced them: still scrubbed from output.
replaced_passwords: list[str] = []


# Off while a health check runs in the application's own process (api.health): DIRECT is for
# migrator's runs; there it would redirect the application's connections too.
_direct_here: ContextVar[bool] = ContextVar("migrator_direct_here", default=True)


@contextlib.contextmanager
def without_direct() -> Iterator[None]:
    """While active, ``load_targets`` leaves ``MIGRATOR["DIRECT"]`` unapplied (the caller reads
    through the application's own settings, e.g. a health check in a web process)."""
    token = _direct_here.set(False)
    try:
        yield
    finally:
        _direct_here.reset(token)


def load_targets() -> tuple[str, ...]:
    """Add the aliases of ``MIGRATOR["DATABASES"]`` to ``connections`` (once per process), then
    merge ``MIGRATOR["DIRECT"]`` over the entries it names; returns the callable's aliases in
    the order it gave them. Nothing is connected to."""
    added = _load_callable()
    if _direct_here.get():
        _apply_direct()
    return added


def _apply_direct() -> None:
    for alias, override in conf.direct().items():
        if alias not in connections.settings:
            raise ConfigurationError(
                f"MIGRATOR['DIRECT'] names alias {alias!r}, which is not a database alias "
                f"({', '.join(connections.settings)}); name an alias of DATABASES or of "
                "MIGRATOR['DATABASES']."
            )
        entry = connections.settings[alias]
        merged = {**entry, **override}  # OPTIONS, when given, replaces the entry's whole
        if merged == entry:  # applied already (or nothing to change: a direct connection)
            continue
        _replaced.setdefault(alias, dict(entry))
        options: Mapping[str, Any] = entry.get("OPTIONS") or {}
        for secret in (entry.get("PASSWORD"), options.get("password"), options.get("passwd")):
            if secret:
                replaced_passwords.append(str(secret))
        entry.clear()
        entry.update(merged)
        _forget_connection(alias)  # a connection made before uses the old entry


def _forget_connection(alias: str) -> None:
    with contextlib.suppress(Exception):
        connections[alias].close()
        del connections[alias]


def _load_callable() -> tuple[str, ...]:
    path = conf.targets_path()
    if path is None:
        return ()
    if path in _loaded:
        return _loaded[path]
    found = _call(path)
    entries = _validated(path, found)
    # Django's defaults, as for DATABASES (which must have a default: it is passed along as is).
    configured = connections.configure_settings(
        {DEFAULT_DB_ALIAS: connections.settings[DEFAULT_DB_ALIAS], **entries}
    )
    for alias in entries:
        connections.settings[alias] = configured[alias]
    _loaded[path] = tuple(entries)
    return _loaded[path]


def _call(path: str) -> Any:
    module_name, _, name = path.rpartition(".")
    where = f"MIGRATOR['DATABASES'] = {path!r}"
    try:
        target = getattr(import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"{where}: cannot import it ({type(exc).__name__}: {first_line(exc)}); name a "
            "callable that returns {alias: settings dict}."
        ) from None
    if not callable(target):
        raise ConfigurationError(
            f"{where} is not callable; name a function that returns the aliases."
        )
    try:
        return target()
    except Exception as exc:
        raise ConfigurationError(
            f"{where} raised {type(exc).__name__}: {first_line(exc)}. Nothing was migrated "
            "(--traceback shows where)."
        ) from exc


def _validated(path: str, found: Any) -> dict[str, dict[str, Any]]:
    where = f"MIGRATOR['DATABASES'] = {path!r}"
    if not isinstance(found, Mapping):
        raise ConfigurationError(
            f"{where} returned {type(found).__name__}; it must return a dict "
            "{alias: settings dict}."
        )
    entries: dict[str, dict[str, Any]] = {}
    for alias, entry in found.items():
        if not isinstance(alias, str) or not alias:
            raise ConfigurationError(
                f"{where} returned the alias {alias!r}; aliases are non-empty strings."
            )
        if alias in settings.DATABASES:
            raise ConfigurationError(
                f"{where} returned alias {alias!r}, which DATABASES already has; give the "
                "callable's aliases names of their own."
            )
        if not isinstance(entry, Mapping) or not entry.get("ENGINE"):
            raise ConfigurationError(
                f"{where} returned {alias!r} without an ENGINE; each value is a DATABASES entry "
                "(ENGINE, NAME, ...)."
            )
        entries[alias] = dict(entry)
    return entries


def unload_targets() -> None:
    """Remove the aliases ``load_targets`` added and restore the entries ``MIGRATOR["DIRECT"]``
    changed (for tests, and a menu that reloads)."""
    for alias, entry in _replaced.items():
        if alias in connections.settings:
            connections.settings[alias].clear()
            connections.settings[alias].update(entry)
            _forget_connection(alias)
    _replaced.clear()
    replaced_passwords.clear()
    for aliases in _loaded.values():
        for alias in aliases:
            if alias in connections.settings:
                with contextlib.suppress(Exception):
                    connections[alias].close()
                    del connections[alias]
                del connections.settings[alias]
    _loaded.clear()
