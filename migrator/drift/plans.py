"""The repairs a drift check offers: for tables missing although their migration is recorded,
unrecord it (and what follows it on the alias) when re-running cannot lose data; for tables there
although their migration is not recorded, record it by Django's ``--fake-initial`` rule. Anything
else gets manual steps. Only plans here: ``repair`` makes them."""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.operations import (
    CreateModel,
    RenameModel,
    RunPython,
)
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.fields import FieldOperation
from django.db.migrations.operations.models import IndexOperation, ModelOperation

from migrator.drift.live import Live
from migrator.drift.recorded import (
    HISTORY_TABLE,
    Origins,
    Project,
    Table,
    _label,
    migration_of,
    tables_of,
)
from migrator.text import and_list
from migrator.types import (
    DriftFinding,
    DriftKind,
    DriftRepair,
    MigrationKey,
)


class RepairPlans:
    """The planning half of ``AliasCheck`` (``compare``): its facts are declared here, set by the
    dataclass."""

    project: Project
    alias: str
    applied: set[MigrationKey]
    graph: MigrationGraph
    order: list[MigrationKey]
    expected: list[Table]
    latest: list[Table]
    live: Live
    findings: list[DriftFinding]
    repairs: list[DriftRepair]
    _executor: MigrationExecutor | None
    _positions: dict[MigrationKey, int] | None

    def _position(self, key: MigrationKey | None) -> int:
        if self._positions is None:
            self._positions = {key: index for index, key in enumerate(self.order)}
        return self._positions.get(key, -1) if key is not None else -1

    def _finding(self, table: Table | None, kind: DriftKind, **values: Any) -> DriftFinding:
        return DriftFinding(
            alias=self.alias,
            kind=kind,
            app=table.app if table else "",
            model=table.model if table else "",
            table=table.name if table else HISTORY_TABLE,
            schema=self.live.home,
            **values,
        )

    def _sqlmigrate(self, key: MigrationKey) -> str:
        return f"'manage.py sqlmigrate {key[0]} {key[1]} --database {self.alias}'"

    def _missing_tables(
        self,
        origin: MigrationKey | None,
        tables: list[Table],
        covered: dict[MigrationKey, DriftRepair],
    ) -> None:
        if origin is None:
            for table in tables:
                self.findings.append(
                    self._finding(
                        table,
                        "missing-table",
                        cause="dropped by hand, or its migration was recorded without running "
                        "(migrate --fake)",
                        manual=(
                            f"Recreate {table.name} by hand from 'manage.py sqlmigrate' of the "
                            "migration that creates it, or restore it from a backup.",
                        ),
                    )
                )
            return
        repair = covered.get(origin)
        reason = ""
        if repair is None:
            planned = self._unrecord_plan(origin)
            if isinstance(planned, DriftRepair):
                repair = planned
                self.repairs.append(repair)
                covered.update(
                    {(m.partition(".")[0], m.partition(".")[2]): repair for m in repair.migrations}
                )
            else:
                reason = planned
        name = _label(origin)
        for table in tables:
            values: dict[str, Any] = {
                "migration": name,
                "cause": f"dropped by hand, or {name} was recorded without running (migrate --fake)",
            }
            if repair is not None:
                first = repair.migrations[0]
                values["repair"] = (
                    f"'manage.py {self.project.command} --drift --repair' unrecords "
                    f"{and_list(repair.migrations)} on {self.alias}; the next "
                    f"'manage.py {self.project.run}' creates {and_list(repair.tables)} again"
                    + (f" (from {first} on)" if first != name else "")
                    + "."
                )
            else:
                values["manual"] = (
                    f"{name} cannot simply be unrecorded: {reason}.",
                    f"Recreate {table.name} by hand: {self._sqlmigrate(origin)} prints its "
                    f"CREATE TABLE statement; run it on {self.alias} (with the statements of "
                    "later migrations that change the table), or restore the table from a backup.",
                )
            self.findings.append(self._finding(table, "missing-table", **values))

    def _unrecord_plan(self, origin: MigrationKey) -> DriftRepair | str:
        """Unrecord ``origin`` and the later recorded migrations of its app, when that cannot
        lose data: every table they create here is missing, and they change no other table;
        otherwise why not. Later migrations of other apps that execute nothing on this alias
        (Django only records them here) are unrecorded with it, as Django's ``migrate APP
        NAME`` unapplies them; one that executes something here refuses the repair."""
        app = origin[0]
        later = set(self.graph.backwards_plan(origin))
        recorded_later = [key for key in self.order if key in later and key in self.applied]
        others = [
            key for key in recorded_later if key[0] != app and self.project.runs_on(self.alias, key)
        ]
        if others:
            named = [_label(k) for k in others[:3]]
            if len(others) > 3:
                named.append(f"{len(others) - 3} more")
            return f"recorded migrations of other apps on {self.alias} depend on it ({and_list(named)})"
        chain = [
            key
            for key in recorded_later
            if key[0] == app or not self.project.runs_on(self.alias, key)
        ]
        created: set[str] = set()
        for key in chain:
            if key[0] != app:
                continue  # executes nothing here: only its row goes
            for operation in migration_of(self.graph, key).operations:
                problem = _changes_other_tables(operation, created)
                if problem:
                    return f"{_label(key)} {problem}"
        tables = [t for t in self.expected if t.origin in chain]
        for table in tables:
            if self.live.columns(table.name) is not None:
                return f"{table.name}, which {_label(table.origin)} creates too, exists"
            found = self.live.elsewhere(table.name)
            if found:
                return f"{table.name}, which {_label(table.origin)} creates too, is in schema {found[0]}"
        return DriftRepair(
            self.alias,
            "unrecord",
            tuple(_label(key) for key in chain),
            tuple(t.name for t in tables),
        )

    @property
    def executor(self) -> MigrationExecutor:
        if self._executor is None:
            self._executor = MigrationExecutor(connections[self.alias])
        return self._executor

    def _unrecorded(
        self, origin: MigrationKey, tables: list[Table], planned: list[MigrationKey]
    ) -> None:
        planned_or_reason = self._record_plan(origin, tables, planned)
        name = _label(origin)
        up_to = origin
        values: dict[str, Any] = {
            "migration": name,
            "cause": "created outside migrations (by hand, a restored dump, a legacy system), "
            f"or the django_migrations row of {name} was deleted",
        }
        if isinstance(planned_or_reason, DriftRepair):
            repair = planned_or_reason
            self.repairs.append(repair)
            planned.extend((m.partition(".")[0], m.partition(".")[2]) for m in repair.migrations)
            values["repair"] = (
                f"'manage.py {self.project.command} --drift --repair' records "
                f"{and_list(repair.migrations)} on {self.alias}, as --fake-initial would: "
                f"{and_list(repair.tables)} {'has' if len(repair.tables) == 1 else 'have'} every "
                f"column {name} creates."
            )
        else:
            reason, up_to = planned_or_reason
            compare = f"what {self._sqlmigrate(origin)} creates"
            if up_to != origin:
                compare += f" and the later migrations up to {_label(up_to)} change"
            values["manual"] = (
                f"{name} cannot simply be recorded: {reason}.",
                f"Compare the table{'s' if len(tables) > 1 else ''} with {compare}. When they "
                "match, record "
                f"{'it' if up_to == origin else 'them'} with 'manage.py migrate {up_to[0]} "
                f"{up_to[1]} --fake --database {self.alias}'; "
                f"when the data is not needed, drop the table{'s' if len(tables) > 1 else ''} "
                f"and run 'manage.py {self.project.run}' to create "
                f"{'it' if len(tables) == 1 else 'them'}.",
            )
        for table in tables:
            self.findings.append(self._finding(table, "unrecorded", **values))

    def _record_plan(
        self, origin: MigrationKey, tables: list[Table], planned: list[MigrationKey]
    ) -> DriftRepair | tuple[str, MigrationKey]:
        """Record ``origin`` (with the dependencies Django records here without running SQL)
        when ``--fake-initial`` would, its tables are in the alias's own schema, and no later
        migration's columns are there already; otherwise why not, and the migration up to which
        a person would record by hand."""
        rows: list[MigrationKey] = []
        for key in self.graph.forwards_plan(origin)[:-1]:
            if key in self.applied or key in planned:
                continue
            if self.project.runs_on(self.alias, key):
                return (
                    f"it depends on {_label(key)}, which is not recorded on {self.alias} either",
                    origin,
                )
            rows.append(key)  # routed elsewhere: Django records it here and runs no SQL
        migration = migration_of(self.graph, origin)
        soft, after = self.executor.detect_soft_applied(None, migration)
        if not soft:
            if migration.initial is False or (
                migration.initial is None
                and any(app == origin[0] for app, _name in migration.dependencies)
            ):
                return (
                    "it is not an initial migration, and --fake-initial records only those",
                    origin,
                )
            return (
                "the tables or columns it creates are not all there "
                f"({and_list([t.name for t in tables])})",
                origin,
            )
        created = [t for t in self.latest if t.origin == origin]
        home = f" in schema {self.live.home}" if self.live.home else ""
        for table in created:
            if self.live.columns(table.name) is None:
                return f"{table.name}, which it creates too, is not there{home}", origin
        after_tables = {
            t.name: set(t.columns)
            for t in tables_of(after.apps, (origin[0],), self.alias, Origins())
        }
        for table in created:
            live = self.live.columns(table.name) or frozenset()
            later = [
                (column, source)
                for column, source in zip(table.columns, table.column_origins, strict=True)
                if column not in after_tables.get(table.name, set())
                and self.live.column(column) in live
            ]
            if later:
                up_to = max(
                    (source for _column, source in later if source is not None),
                    key=self._position,
                    default=origin,
                )
                columns = and_list([column for column, _source in later])
                return f"{table.name} already has {columns}, which later migrations add", up_to
        return DriftRepair(
            self.alias,
            "record",
            tuple(_label(key) for key in [*rows, origin]),
            tuple(t.name for t in created),
        )


def _changes_other_tables(operation: Operation, created: set[str]) -> str:
    """Why re-running ``operation`` (after unrecording it) could fail or touch data; empty when
    it only creates or changes models created in the same chain of migrations."""
    if isinstance(operation, RunPython):
        return ""
    if isinstance(operation, CreateModel):
        created.add(operation.name_lower)
        return ""
    if isinstance(operation, RenameModel):
        if operation.old_name_lower in created:
            created.add(operation.new_name_lower)
            return ""
        return f"renames {operation.old_name}, whose table it did not create"
    if isinstance(operation, (FieldOperation, IndexOperation)):
        name = operation.model_name_lower
    elif isinstance(operation, ModelOperation):
        name = operation.name_lower
    else:
        return f"runs {type(operation).__name__}, which migrate_all cannot check"
    if name in created:
        return ""
    return f"changes {name}, whose table an earlier migration created"
