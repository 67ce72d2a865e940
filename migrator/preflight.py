"""Preflight: every planned alias is checked, read-only, before the first change anywhere.

Problems of all aliases are collected and reported at once. Missing schemas (PostgreSQL),
databases (MySQL/MariaDB) and folders (SQLite) are problems too, unless ``--create-schemas``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace

from migrator import concurrency
from migrator.backends import backend
from migrator.backends.pgoptions import USER_SCHEMA
from migrator.backends.sqlite import database_file
from migrator.exceptions import ConfigurationError, PreflightError
from migrator.text import first_line, plural
from migrator.types import DEFAULT_BOUNDS, AliasInfo, Bounds, Missing, Plan, Probe


def planned_aliases(plan: Plan) -> list[str]:
    return list(dict.fromkeys(step.alias for step in plan.steps))


def probe_all(
    plan: Plan, connect_timeout: float, *, writes: bool = True, bounds: Bounds = DEFAULT_BOUNDS
) -> tuple[Probe, ...]:
    """One probe per planned alias, in plan order; they run at once in threads, at most
    ``bounds`` at a time (``concurrency.run``)."""
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

    def job(info: AliasInfo) -> concurrency.Job[Probe]:
        return concurrency.Job(
            info, lambda: backend(info.vendor).probe(info, connect_timeout, writes=writes)
        )

    infos = [plan.alias_info(alias) for alias in planned_aliases(plan)]
    return tuple(concurrency.run([job(info) for info in infos], bounds))


def resolved(plan: Plan, probes: Iterable[Probe]) -> Plan:
    """``plan`` with each probed alias described as the server named it: the database that a
    PostgreSQL service or a MySQL option file selected, where settings have no NAME, and what
    its migration lock guards (``AliasInfo.scope``, from ``scope``)."""
    found = {probe.info.alias: probe for probe in probes}
    aliases = tuple(
        replace(probe.info, scope=scope(probe.info, probe)) if probe is not None else info
        for info, probe in ((info, found.get(info.alias)) for info in plan.aliases)
    )
    if aliases == plan.aliases:
        return plan
    return replace(plan, aliases=aliases)


def scope(info: AliasInfo, probe: Probe | None = None) -> tuple[str, ...]:
    """What the alias's migration lock guards, conservatively: the database (and PostgreSQL
    schema) as the server named it, the real path of an SQLite file. ``--parallel`` never runs two
    steps at once whose scopes overlap, one being a prefix of the other (``run.overlap``).

    Two aliases that merely look alike (one database name on two servers, say) get one scope and
    run one after the other, which is harmless; two aliases on one target never get disjoint
    scopes. What is unknown is left out, so the scope covers every possibility: without a probe
    no PostgreSQL schema, without a database name the whole vendor.
    """
    if info.vendor == "sqlite":
        if not info.name or info.name == ":memory:":
            return ("sqlite", ":memory:", info.alias)  # private to its connection
        path = database_file(info)
        if path is None:  # a file: URI, whose file is not worth guessing
            return ("sqlite",)
        return ("sqlite", os.path.realpath(path))  # two spellings of one file: one scope
    if not info.name:  # a service or option file names it, and nobody asked the server yet
        return (info.vendor,)
    if info.vendor == "mysql":
        # GET_LOCK is per server and database; with lower_case_table_names, "App" is "app".
        return ("mysql", info.name.lower())
    if info.vendor == "postgresql" and probe is not None and probe.schema:
        # The advisory lock is keyed by current_database() and the first existing schema of
        # current_schemas, which is what the probe read (probe.database, probe.schema): a
        # PgBouncer alias and the database's own name get one scope, as they get one lock.
        return ("postgresql", probe.database or info.name, probe.schema)
    return (info.vendor, info.name)


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
            f"Preflight found {plural(len(found), 'problem')}; nothing was "
            "changed on any database:\n  " + "\n  ".join(found),
            problems=tuple(found),
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
        raise PreflightError(
            f"--create-schemas failed ({changed_so_far(created)}); no migration ran:\n  "
            + "\n  ".join(refused)
        )
    return created


def changed_so_far(created: Iterable[Missing]) -> str:
    """What an error that stops a run before any migration says was changed: the schemas,
    databases and folders ``--create-schemas`` created, or nothing."""
    made = list(created)
    if made:
        return "created before: " + ", ".join(map(str, made)) + "; nothing else was changed"
    return "nothing was changed on any database"
