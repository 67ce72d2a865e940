"""What ``django_migrations`` says per alias: the rows already recorded (one read, never creating
the table or a database file), Django's consistent-history check on them, and, per step, what is
left to apply or only to record, as ``MigrationExecutor.migration_plan`` would plan it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from migrator import django_compat
from migrator.types import (
    MigrationKey,
    PendingMigration,
    Step,
    StepState,
)


def history_problems(loader: MigrationLoader, alias: str, applied: set[MigrationKey]) -> list[str]:
    """Django's consistent-history check (an applied migration whose dependency is not), on
    the applied set already read, so that it is reported before anything runs."""
    problems = []
    for key in sorted(applied):
        if key not in loader.graph.nodes:
            continue
        for parent in sorted(loader.graph.node_map[key].parents, key=lambda node: node.key):
            if parent.key in applied:
                continue
            replacement = loader.replacements.get(parent.key)
            if replacement is not None and all(m in applied for m in replacement.replaces):
                continue
            problems.append(
                f"{alias}: migration {key[0]}.{key[1]} is recorded as applied before its dependency "
                f"{parent.key[0]}.{parent.key[1]} (InconsistentMigrationHistory). Record the "
                "dependency if its changes are in the database, or unrecord the later migration; "
                f"'manage.py showmigrations --database {alias}' shows the history."
            )
    return problems


def sqlite_file_missing(alias: str) -> bool:
    """True for an SQLite alias whose file does not exist yet: reading it would create it."""
    connection = connections[alias]
    if connection.vendor != "sqlite":
        return False
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return False
    return not os.path.exists(name)


def read_applied(alias: str) -> set[MigrationKey]:
    """The migrations recorded on ``alias``, in one query; never creates ``django_migrations``
    or a database file."""
    if sqlite_file_missing(alias):
        return set()
    connection = connections[alias]
    if not MigrationRecorder(connection).has_table():
        return set()
    table = connection.ops.quote_name(MigrationRecorder.Migration._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {table}")
        return {(str(app), str(name)) for app, name in cursor.fetchall()}


def step_state(
    loader: MigrationLoader,
    step: Step,
    applied: set[MigrationKey],
    alias: str | None = None,
    leaves: dict[str, list[MigrationKey]] | None = None,
    *,
    executes: Callable[[str, str], bool],
) -> StepState:
    """What Django's ``migrate`` would do for ``step`` given the applied set, as Django plans it.

    ``executes(app, name)``: whether that migration executes something on this alias; the others
    in Django's plan are only recorded there.
    """
    pending: list[PendingMigration] = []
    dependencies: list[PendingMigration] = []
    non_atomic: set[MigrationKey] = set()
    for migration, backwards in django_plan(loader, step, applied, alias, leaves):
        item = PendingMigration(migration.app_label, migration.name, backwards)
        runs = executes(migration.app_label, migration.name)
        (pending if runs else dependencies).append(item)
        if runs and not migration.atomic:
            non_atomic.add((migration.app_label, migration.name))
    return StepState(
        step=step,
        pending=tuple(pending),
        recorded_dependencies=tuple(dependencies),
        non_atomic=frozenset(non_atomic),
    )


def django_plan(
    loader: MigrationLoader,
    step: Step,
    applied: set[MigrationKey],
    alias: str | None = None,
    leaves: dict[str, list[MigrationKey]] | None = None,
) -> list[tuple[Any, bool]]:
    """``MigrationExecutor.migration_plan`` for the step's targets on the applied set."""
    if loader.replacements and alias is not None:
        # Squashed migrations change the graph per database: let Django build it for this alias,
        # then plan from ``applied`` (what earlier steps of the run will have applied there), a
        # squash counting as applied once everything it replaces is, as Django's loader counts it.
        source: Any = MigrationLoader(connections[alias], ignore_no_migrations=True)
        keys = set(applied)
        keys |= {
            key
            for key, squash in loader.replacements.items()
            if all(replaced in keys for replaced in squash.replaces)
        }
        source.applied_migrations = dict.fromkeys(keys)
    else:
        source = django_compat.LoaderView(loader, applied)
    if leaves is None or source.graph is not loader.graph:
        leaves = {app: sorted(source.graph.leaf_nodes(app)) for app in step.apps}
    return django_compat.migration_plan(source, list(_targets(leaves, step)))


def _targets(leaves: dict[str, list[MigrationKey]], step: Step) -> Iterable[tuple[str, str | None]]:
    for app in step.apps:
        if step.target == "zero":
            yield (app, None)
        elif step.target:
            yield (app, step.target)
        else:
            yield from sorted(leaves.get(app, ()))
