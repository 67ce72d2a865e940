"""The SQL each pending migration would run on each planned alias, rendered on that alias's
connection as ``sqlmigrate`` renders it (``django_compat.collect_sql_forwards``), split per
operation. Nothing is executed: the schema editor only collects, and a guard on the connection
refuses any statement but a read (constraint-name lookups read the catalog).

Only the migrations that *execute* something on an alias are rendered there
(``StepState.pending``); those only recorded there advance the project state without SQL, as
Django's executor runs them as no-ops.

One project state is walked forward per alias, from what its ``django_migrations`` holds
(``PlanState.applied``). Aliases that would render the same SQL share one rendering: the same
vendor, engine and server version, the same applied set and the same pending sequence (the
key), checked afterwards by asking the routers, for every other alias of the group, each
``allow_migrate`` question the rendering asked (an operation executes where its router allows
it); an alias whose routers answer one question differently is rendered on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.migrations.loader import MigrationLoader

from migrator import django_compat, history
from migrator.exceptions import MigratorError
from migrator.types import MigrationKey, PendingMigration, PlanState, StepState


@dataclass(frozen=True)
class RenderedOperation:
    index: int  # from 1
    description: str
    statements: tuple[str, ...]
    writable: bool = True  # False: RunPython ("THIS OPERATION CANNOT BE WRITTEN AS SQL")


@dataclass(frozen=True)
class RenderedMigration:
    migration: PendingMigration
    atomic: bool  # Django wraps it in a transaction (and the backend can roll DDL back)
    operations: tuple[RenderedOperation, ...]

    @property
    def statements(self) -> tuple[str, ...]:
        return tuple(s for operation in self.operations for s in operation.statements)


READS = ("SELECT", "SHOW", "WITH", "DESCRIBE", "EXPLAIN", "SET", "PRAGMA")


class WriteRefused(MigratorError):
    """Rendering tried to execute a statement that is not a read (a bug: nothing may change)."""


@contextmanager
def reads_only(alias: str) -> Iterator[None]:
    """While rendering, the alias's connection executes reads only (the catalog lookups the
    schema editor makes); anything else raises before it reaches the server."""

    def guard(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if not sql.lstrip().upper().startswith(READS):
            raise WriteRefused(
                f"Internal error: rendering the SQL of {alias} tried to execute {sql[:80]!r}; "
                "nothing was executed. Please report this."
            )
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(guard):
        yield


def _order(
    state: StepState, loader: MigrationLoader, applied: set[MigrationKey]
) -> list[tuple[PendingMigration, bool]]:
    """The step's migrations in Django's plan order, each with whether it executes here."""
    pending = set(state.pending)
    items = []
    for migration, backwards in history.django_plan(loader, state.step, applied, state.step.alias):
        item = PendingMigration(migration.app_label, migration.name, backwards)
        items.append((item, item in pending))
    return items


def alias_sequences(
    state: PlanState, loader: MigrationLoader
) -> dict[str, list[tuple[PendingMigration, bool]]]:
    """Per alias with pending SQL (plan order), its migrations in the order a run takes them,
    each with whether it executes there."""
    after = {alias: set(keys) for alias, keys in state.applied.items()}
    found: dict[str, list[tuple[PendingMigration, bool]]] = {}
    for step_state in state.states:
        if not step_state.pending:
            if step_state.recorded_dependencies:
                alias = step_state.step.alias
                _advance(after.setdefault(alias, set()), step_state.recorded_dependencies)
            continue
        alias = step_state.step.alias
        applied = after.setdefault(alias, set())
        items = _order(step_state, loader, applied)
        found.setdefault(alias, []).extend(items)
        _advance(applied, (item for item, _ in items))
    return found


def _advance(applied: set[MigrationKey], items: Any) -> None:
    for item in items:
        key = (item.app, item.name)
        (applied.discard if item.backwards else applied.add)(key)


def group_key(
    state: PlanState, alias: str, sequence: Sequence[tuple[PendingMigration, bool]]
) -> tuple[Any, ...]:
    """What makes two aliases render the same SQL, before the routers are asked."""
    info = state.plan.alias_info(alias)
    probe = state.probe(alias)
    return (
        info.vendor,
        info.engine,
        probe.version if probe is not None else "",
        state.applied.get(alias, frozenset()),
        tuple(sequence),
    )


def render(
    state: PlanState, loader: MigrationLoader, aliases: Sequence[str] | None = None
) -> dict[str, tuple[RenderedMigration, ...]]:
    """Per alias with pending SQL (of ``aliases``, default all), the rendered migrations that
    execute there, in run order."""
    sequences = alias_sequences(state, loader)
    wanted = [a for a in sequences if aliases is None or a in aliases]
    groups: dict[tuple[Any, ...], list[str]] = {}
    for alias in wanted:
        groups.setdefault(group_key(state, alias, sequences[alias]), []).append(alias)
    rendered: dict[str, tuple[RenderedMigration, ...]] = {}
    for members in groups.values():
        todo = list(members)
        while todo:
            first = todo.pop(0)
            with django_compat.recorded_router_calls() as calls:
                result = _render_alias(state, loader, first, sequences[first])
            rendered[first] = result
            for other in list(todo):
                if django_compat.same_router_answers(other, calls):
                    rendered[other] = result
                    todo.remove(other)
    return {alias: rendered[alias] for alias in wanted}


def _render_alias(
    state: PlanState,
    loader: MigrationLoader,
    alias: str,
    sequence: Sequence[tuple[PendingMigration, bool]],
) -> tuple[RenderedMigration, ...]:
    connection = connections[alias]
    opened_before = connection.connection is not None
    try:
        return _walk(state, loader, alias, sequence)
    finally:
        # The catalog reads opened it (MySQL asks the server's version): closed again, so that
        # a fleet's review holds no connection per alias; a caller's own stays as it was.
        if not opened_before and not connection.in_atomic_block:
            connection.close()


def _walk(
    state: PlanState,
    loader: MigrationLoader,
    alias: str,
    sequence: Sequence[tuple[PendingMigration, bool]],
) -> tuple[RenderedMigration, ...]:
    connection = connections[alias]
    project = None
    found: list[RenderedMigration] = []
    nodes = loader.graph.nodes
    applied = set(state.applied.get(alias, frozenset()))
    with reads_only(alias):
        for item, executes in sequence:
            before = frozenset(applied)
            _advance(applied, [item])
            migration = (
                nodes.get((item.app, item.name)) or loader.disk_migrations[(item.app, item.name)]
            )
            if item.backwards:
                if executes:
                    operations = django_compat.collect_sql_backwards(connection, loader, migration)
                    found.append(_rendered(item, migration, operations))
                project = None  # the walk starts again after a migration unapplied
                continue
            if project is None:
                project = django_compat.applied_project_state(loader, before)
            if not executes:
                project = django_compat.advance_state(migration, project)
                continue
            project, operations = django_compat.collect_sql_forwards(connection, migration, project)
            found.append(_rendered(item, migration, operations))
    return tuple(found)


def _rendered(
    item: PendingMigration, migration: Any, operations: Sequence[django_compat.OperationSQL]
) -> RenderedMigration:
    return RenderedMigration(
        item,
        bool(migration.atomic),
        tuple(
            RenderedOperation(
                op.index, op.description, tuple(_strip(s) for s in op.statements), op.writable
            )
            for op in sorted(operations, key=lambda op: op.index)
        ),
    )


def _strip(statement: str) -> str:
    return statement.strip()


def atomic_on(alias: str, migration: RenderedMigration) -> bool:
    """Whether Django runs the migration in one transaction on ``alias``: an atomic migration
    on a backend that can roll DDL back (schema_editor's ``atomic_migration``)."""
    return migration.atomic and bool(connections[alias].features.can_rollback_ddl)


def counts(rendered: Mapping[str, Sequence[RenderedMigration]]) -> dict[str, int]:
    return {alias: len(items) for alias, items in rendered.items()}
