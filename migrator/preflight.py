"""Preflight: every planned alias is checked, read-only, before the first change anywhere.

Problems of all aliases are collected and reported at once. Missing schemas (PostgreSQL),
databases (MySQL/MariaDB) and folders (SQLite) are problems too, unless ``--create-schemas``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from migrator.backends import backend
from migrator.backends.pgoptions import USER_SCHEMA
from migrator.errors import ConfigurationError, PreflightError
from migrator.inspect import first_line
from migrator.types import Missing, Plan, Probe


def planned_aliases(plan: Plan) -> list[str]:
    return list(dict.fromkeys(step.alias for step in plan.steps))


def probe_all(plan: Plan, connect_timeout: float) -> tuple[Probe, ...]:
    # Without NAME, a PostgreSQL service or a MySQL option file may name the database (as
    # Django allows); the probe then asks the server which one it is.
    empty = [
        alias
        for alias in planned_aliases(plan)
        if not plan.alias_info(alias).name and not plan.alias_info(alias).source
    ]
    if empty:
        raise ConfigurationError(
            "; ".join(f"DATABASES[{alias!r}] has no NAME" for alias in empty)
            + ": set the database name (the file path for SQLite), or let "
            "OPTIONS['service'] (PostgreSQL) or OPTIONS['read_default_file'] (MySQL/MariaDB) "
            "name it. Nothing was changed."
        )
    return tuple(
        backend(plan.alias_info(alias).vendor).probe(plan.alias_info(alias), connect_timeout)
        for alias in planned_aliases(plan)
    )


def resolved(plan: Plan, probes: Iterable[Probe]) -> Plan:
    """``plan`` with each probed alias described as the server named it: the database that a
    PostgreSQL service or a MySQL option file selected, where settings have no NAME."""
    found = {probe.info.alias: probe.info for probe in probes}
    if all(found.get(info.alias, info) == info for info in plan.aliases):
        return plan
    return replace(plan, aliases=tuple(found.get(info.alias, info) for info in plan.aliases))


def _where(probe: Probe) -> str:
    info = probe.info
    return f"{info.alias} ({info.vendor} {info.location})"


def _is_user_schema(probe: Probe, missing: Missing) -> bool:
    """Whether a missing schema is the role's own, selected by ``$user`` (not by its name)."""
    return (
        missing.name == probe.user
        and USER_SCHEMA in probe.schemas
        and missing.name not in probe.schemas
    )


def problems(probes: Iterable[Probe], *, create: bool) -> list[str]:
    """One line per blocking problem, each naming the alias and the fix."""
    lines: list[str] = []
    for probe in probes:
        lines.extend(f"{_where(probe)}: {problem}" for problem in probe.problems)
        if probe.read_only:
            lines.append(
                f"{_where(probe)} is read-only ({probe.read_only}); migrations cannot run there. "
                "If it is a replica, make the routers' allow_migrate return False for it."
            )
        if create:
            continue
        for missing in probe.missing:
            if missing.kind == "schema" and _is_user_schema(probe, missing):
                path = ", ".join(probe.schemas)
                lines.append(
                    f"{missing} does not exist (search_path: {path}; $user is the role "
                    f"{probe.user}) and no schema of the path does, so PostgreSQL cannot create "
                    'tables ("no schema has been selected to create in"); run with '
                    "--create-schemas to create it, or fix OPTIONS['options']."
                )
            elif missing.kind == "schema":
                path = ", ".join(probe.schemas)
                lines.append(
                    f"{missing} does not exist (search_path: {path}); run with --create-schemas "
                    "to create it, or fix OPTIONS['options']."
                )
            else:
                fix = "NAME" if missing.kind == "database" else "the NAME path"
                lines.append(
                    f"{missing} does not exist; run with --create-schemas to create it, "
                    f"or fix {fix}."
                )
    return lines


def check(probes: Iterable[Probe], *, create: bool) -> None:
    found = problems(probes, create=create)
    if found:
        raise PreflightError(
            f"Preflight found {len(found)} problem{'s' if len(found) != 1 else ''}; nothing was "
            "changed on any database:\n  " + "\n  ".join(found)
        )


def missing(probes: Iterable[Probe]) -> list[Missing]:
    return [item for probe in probes for item in probe.missing]


_CREATE_FIXES = {
    "schema": "create it as a role allowed to (CREATE SCHEMA needs the CREATE privilege on the "
    "database; names starting with pg_ are reserved), or fix OPTIONS['options']",
    "database": "create it as a user allowed to (CREATE DATABASE needs the CREATE privilege), "
    "or fix NAME",
    "folder": "create it by hand, or fix NAME",
}


def create_missing(probes: Iterable[Probe], plan: Plan, connect_timeout: float) -> list[Missing]:
    """Create every missing schema/database/folder; returns what was created, in order.

    A creation the server refuses raises ``PreflightError`` naming every refusal, with what was
    created before it (only those changed anything) and the fix; no migration runs.
    """
    created: list[Missing] = []
    refused: list[str] = []
    for item in missing(probes):
        try:
            backend(plan.alias_info(item.alias).vendor).create(item, connect_timeout)
        except Exception as exc:
            refused.append(
                f"{item} could not be created: {first_line(exc)}; {_CREATE_FIXES[item.kind]}."
            )
            continue
        created.append(item)
    if refused:
        done = (
            "created before: " + ", ".join(map(str, created)) + "; nothing else was changed"
            if created
            else "nothing was changed on any database"
        )
        raise PreflightError(
            f"--create-schemas failed ({done}); no migration ran:\n  " + "\n  ".join(refused)
        )
    return created
