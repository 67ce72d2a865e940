"""Schema drift: what ``django_migrations`` records on each alias, against the live tables.

``detect(selection)`` builds, per planned alias, the state of the migrations recorded there (as
Django's executor does: the plan of every migration, replayed for the recorded ones), keeps the
models the routers send to that alias, and compares their tables and columns with the database:

- ``missing-table``: a table whose creating migration is recorded is not there;
- ``missing-columns``: the table is there without columns recorded migrations add;
- ``wrong-schema`` (PostgreSQL): the table is not in the schema the alias's ``search_path``
  selects but in another schema of the same database (also for ``django_migrations`` itself);
- ``unrecorded``: a table of a routed app exists but the migration that creates it is not recorded.

Detection only reads. ``repair(report)`` makes the repairs that cannot lose data, each under the
alias's lock, and only ever writes ``django_migrations`` rows: a recorded migration whose tables
are all missing is unrecorded (with the later migrations of its app on that alias), so the next
run recreates them; an unrecorded migration whose tables exist with every column is recorded, by
Django's own ``--fake-initial`` rule (``MigrationExecutor.detect_soft_applied``). Everything else
gets manual steps. The interactive menu calls these two functions as the commands do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.apps.registry import Apps
from django.db import connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations import (
    AddField,
    CreateModel,
    DeleteModel,
    RemoveField,
    RenameField,
    RenameModel,
    RunPython,
    SeparateDatabaseAndState,
)
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.fields import FieldOperation
from django.db.migrations.operations.models import IndexOperation, ModelOperation
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.db.models import Model

from migrator import api, inspect, preflight
from migrator import project as project_routing
from migrator.backends import LockTimeout, backend, lock_timeout_error
from migrator.backends.mysql import quote as mysql_quote
from migrator.backends.pgoptions import USER_SCHEMA
from migrator.drift_report import run_command
from migrator.errors import PreflightError
from migrator.types import (
    DriftFinding,
    DriftKind,
    DriftRepair,
    DriftReport,
    PlanState,
    Probe,
    RepairResult,
    Selection,
)

MigrationKey = tuple[str, str]
KINDS = ("missing-table", "missing-columns", "wrong-schema", "unrecorded")
HISTORY_TABLE = str(MigrationRecorder.Migration._meta.db_table)

# Tables (and views, as Django's introspection lists them) with their columns, in every schema
# of the database but PostgreSQL's own; only the names asked for.
_PG_TABLES = """
SELECT n.nspname, c.relname, a.attname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attribute a
  ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname = ANY(%s)
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%'
"""


# -- what the migrations say -------------------------------------------------------------------


@dataclass
class Origins:
    """Which migration created each model and added each field, from their operations."""

    models: dict[tuple[str, str], MigrationKey] = field(default_factory=dict)
    fields: dict[tuple[str, str, str], MigrationKey] = field(default_factory=dict)

    def trace(self, key: MigrationKey, operations: Iterable[Operation]) -> None:
        app = key[0]
        for operation in operations:
            if isinstance(operation, SeparateDatabaseAndState):
                self.trace(key, operation.state_operations)
            elif isinstance(operation, CreateModel):
                self.models[(app, operation.name_lower)] = key
                for name, _field in operation.fields:
                    self.fields[(app, operation.name_lower, name)] = key
            elif isinstance(operation, AddField):
                self.fields[(app, operation.model_name_lower, operation.name)] = key
            elif isinstance(operation, RemoveField):
                self.fields.pop((app, operation.model_name_lower, operation.name), None)
            elif isinstance(operation, RenameField):
                origin = self.fields.pop(
                    (app, operation.model_name_lower, operation.old_name), None
                )
                if origin is not None:
                    self.fields[(app, operation.model_name_lower, operation.new_name)] = origin
            elif isinstance(operation, DeleteModel):
                self.models.pop((app, operation.name_lower), None)
            elif isinstance(operation, RenameModel):
                self._rename(app, operation.old_name_lower, operation.new_name_lower)

    def _rename(self, app: str, old: str, new: str) -> None:
        origin = self.models.pop((app, old), None)
        if origin is not None:
            self.models[(app, new)] = origin
        for key in [key for key in self.fields if key[:2] == (app, old)]:
            self.fields[(app, new, key[2])] = self.fields.pop(key)


@dataclass(frozen=True)
class Table:
    """A table the migrations create on an alias: a model's, or an auto-created M2M table."""

    app: str
    model: str  # "users.User", "auth.User_groups"
    name: str
    columns: tuple[str, ...]
    origin: MigrationKey | None  # the migration that creates the table
    column_origins: tuple[MigrationKey | None, ...]  # per column: the migration that adds it


def plan_order(graph: MigrationGraph) -> list[MigrationKey]:
    """Every migration in the order Django's executor plans them from a clean start."""
    order: list[MigrationKey] = []
    seen: set[MigrationKey] = set()
    for leaf in sorted(graph.leaf_nodes()):
        for key in graph.forwards_plan(leaf):
            if key not in seen:
                seen.add(key)
                order.append(key)
    return order


def migration_of(graph: MigrationGraph, key: MigrationKey) -> Migration:
    migration = graph.nodes[key]
    assert migration is not None  # only dummy nodes (missing dependencies) are None
    return migration


def replay(
    loader: MigrationLoader, graph: MigrationGraph, keys: Iterable[MigrationKey]
) -> tuple[Apps, Origins]:
    """The rendered models after ``keys`` (in plan order), as ``_create_project_state`` builds
    them with ``with_applied_migrations=True``, and where each model and field came from."""
    state = ProjectState(real_apps=loader.unmigrated_apps)
    origins = Origins()
    for key in keys:
        migration = migration_of(graph, key)
        migration.mutate_state(state, preserve=False)
        origins.trace(key, migration.operations)
    return state.apps, origins


def migrated_here(model: type[Model], alias: str) -> bool:
    """Django's migrate creates this model's table on ``alias`` (the check its operations make)."""
    meta = model._meta
    return bool(meta.can_migrate(alias)) and inspect.allow_migrate(
        alias, meta.app_label, model_name=meta.model_name, model=model
    )


def tables_of(apps: Apps, app_labels: Sequence[str], alias: str, origins: Origins) -> list[Table]:
    """The tables of the models of ``app_labels`` that migrate creates on ``alias``."""
    position = {label: index for index, label in enumerate(app_labels)}
    found = []
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in position or not migrated_here(model, alias):
            continue
        model_key = (meta.app_label, str(meta.model_name))
        fields = list(meta.local_concrete_fields)
        found.append(
            Table(
                app=meta.app_label,
                model=meta.label,
                name=meta.db_table,
                columns=tuple(str(f.column) for f in fields),
                origin=origins.models.get(model_key),
                column_origins=tuple(origins.fields.get((*model_key, f.name)) for f in fields),
            )
        )
        for m2m in meta.local_many_to_many:
            through = m2m.remote_field.through
            if not isinstance(through, type) or not through._meta.auto_created:
                continue
            origin = origins.fields.get((*model_key, m2m.name))
            columns = tuple(str(f.column) for f in through._meta.local_concrete_fields)
            found.append(
                Table(
                    app=meta.app_label,
                    model=through._meta.label,
                    name=through._meta.db_table,
                    columns=columns,
                    origin=origin,
                    column_origins=(origin,) * len(columns),
                )
            )
    return sorted(found, key=lambda t: (position[t.app], t.name))


# -- what the database has ---------------------------------------------------------------------


@dataclass(frozen=True)
class Live:
    """The tables of one alias's database, by schema ("" where there are no schemas)."""

    vendor: str
    tables: Mapping[str, Mapping[str, frozenset[str]]]
    home: str = ""  # PostgreSQL: the schema the alias's tables belong in
    home_missing: bool = False
    search: tuple[str, ...] = ()  # PostgreSQL: the existing search_path schemas, in order
    path: tuple[str, ...] = ()  # PostgreSQL: the search_path as configured

    def norm(self, name: str) -> str:
        """PostgreSQL compares quoted identifiers exactly; MySQL and SQLite ignore case."""
        return name if self.vendor == "postgresql" else name.casefold()

    def columns(self, table: str) -> frozenset[str] | None:
        """The columns of ``table`` where the alias's tables belong; None when it is not there."""
        return self.tables.get(self.home, {}).get(self.norm(table))

    def elsewhere(self, table: str) -> tuple[str, ...]:
        """Other schemas of the database that hold ``table``: search_path ones first."""
        holding = [s for s, tables in self.tables.items() if s != self.home and table in tables]
        rank = {schema: index for index, schema in enumerate(self.search)}
        return tuple(sorted(holding, key=lambda s: (rank.get(s, len(rank)), s)))

    @property
    def history_schema(self) -> str:
        """PostgreSQL: where the django_migrations this alias reads is (first on its path)."""
        return next((s for s in self.search if HISTORY_TABLE in self.tables.get(s, {})), "")


def home_schema(probe: Probe | None) -> tuple[str, bool]:
    """PostgreSQL: the schema the alias's tables belong in, and whether it is missing: the first
    schema of its search_path, also when that does not exist yet (tables then land in the next
    one, which is the drift to find)."""
    if probe is None or probe.info.vendor != "postgresql":
        return "", False
    missing = {m.name for m in probe.missing if m.kind == "schema"}
    for name in probe.schemas:
        if name == USER_SCHEMA:
            if probe.schema and probe.schema not in probe.schemas:
                return probe.schema, False  # the role's own schema exists and comes first
            continue
        if name == probe.schema or name in missing:
            return name, name in missing
    return probe.schema, False


def read_live(alias: str, probe: Probe | None, names: Iterable[str]) -> Live:
    """The tables among ``names`` with their columns; nothing is read from a database or file
    that does not exist (and none is created)."""
    info = connections[alias].vendor
    home, home_missing = home_schema(probe)
    absent = probe is not None and any(m.kind in ("database", "folder") for m in probe.missing)
    if absent or inspect.sqlite_file_missing(alias):
        return Live(info, {}, home, home_missing)
    connection = connections[alias]
    with connection.cursor() as cursor:
        if info == "postgresql":
            cursor.execute("SELECT current_schemas(false)")
            search = tuple(str(s) for s in cursor.fetchone()[0] or ())
            cursor.execute(_PG_TABLES, (sorted(set(names)),))
            found: dict[str, dict[str, set[str]]] = {}
            for schema, table, column in cursor.fetchall():
                columns = found.setdefault(str(schema), {}).setdefault(str(table), set())
                if column is not None:
                    columns.add(str(column))
            tables = {
                schema: {table: frozenset(cols) for table, cols in by_table.items()}
                for schema, by_table in found.items()
            }
            path = probe.schemas if probe is not None else search
            return Live(info, tables, home, home_missing, search, path)
        wanted = {name.casefold() for name in names}
        existing = connection.introspection.table_names(cursor)
        here = {
            name.casefold(): frozenset(
                str(column.name).casefold()
                for column in connection.introspection.get_table_description(cursor, name)
            )
            for name in existing
            if name.casefold() in wanted
        }
    return Live(info, {"": here})


# -- comparing ---------------------------------------------------------------------------------


@dataclass
class Project:
    """What every alias's check shares: the migration graph and the latest models."""

    loader: MigrationLoader
    order: list[MigrationKey]
    latest: Apps
    latest_origins: Origins
    # Per migration, the aliases where it executes something (elsewhere it is only recorded).
    executes: Mapping[MigrationKey, frozenset[str]]
    command: str

    @classmethod
    def load(
        cls,
        command: str,
        loader: MigrationLoader | None = None,
        executes: Mapping[MigrationKey, frozenset[str]] | None = None,
    ) -> Project:
        loader = loader or inspect.load_migrations()
        order = plan_order(loader.graph)
        latest, origins = replay(loader, loader.graph, order)
        if executes is None:
            routing = project_routing.migration_routing(
                loader, project_routing.Router.of(inspect.alias_infos())
            )
            executes = {key: entry.aliases for key, entry in routing.items()}
        return cls(loader, order, latest, origins, executes, command)

    def runs_on(self, alias: str, key: MigrationKey) -> bool:
        return alias in self.executes.get(key, frozenset())

    @property
    def run(self) -> str:
        return run_command(self.command)


def _label(key: MigrationKey | None) -> str:
    return f"{key[0]}.{key[1]}" if key else ""


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def quote(vendor: str, name: str) -> str:
    """An identifier as the vendor's SQL writes it, for the manual steps shown to people."""
    if vendor == "mysql":
        return mysql_quote(name)
    return '"' + name.replace('"', '""') + '"'


@dataclass
class AliasCheck:
    """One alias compared: its recorded state, its live tables, findings and safe repairs."""

    project: Project
    alias: str
    apps: tuple[str, ...]  # the planned apps on this alias
    applied: set[MigrationKey]
    graph: MigrationGraph
    order: list[MigrationKey]
    expected: list[Table]
    latest: list[Table]
    live: Live
    findings: list[DriftFinding] = field(default_factory=list)
    repairs: list[DriftRepair] = field(default_factory=list)
    _executor: MigrationExecutor | None = None
    _positions: dict[MigrationKey, int] | None = None

    @classmethod
    def run(
        cls,
        project: Project,
        alias: str,
        apps: tuple[str, ...],
        applied: set[MigrationKey],
        probe: Probe | None,
    ) -> AliasCheck:
        graph, applied = _alias_graph(project.loader, alias, applied)
        order = project.order if graph is project.loader.graph else plan_order(graph)
        recorded = [key for key in order if key in applied]
        try:
            apps_state, origins = replay(project.loader, graph, recorded)
        except Exception as exc:  # the recorded history cannot be rendered into models
            raise PreflightError(
                f"{alias}: cannot build the models of the migrations recorded there "
                f"({inspect.first_line(exc)}); check 'manage.py showmigrations --database "
                f"{alias}'. Nothing was changed."
            ) from None
        expected = tables_of(apps_state, apps, alias, origins)
        latest = tables_of(project.latest, apps, alias, project.latest_origins)
        names = {t.name for t in (*expected, *latest)} | {HISTORY_TABLE}
        live = read_live(alias, probe, names)
        check = cls(project, alias, apps, applied, graph, order, expected, latest, live)
        check.compare()
        return check

    @property
    def vendor(self) -> str:
        return self.live.vendor

    def compare(self) -> None:
        missing: dict[MigrationKey | None, list[Table]] = {}
        for table in self.expected:
            columns = self.live.columns(table.name)
            if columns is not None:
                self._missing_columns(table, columns)
            elif self.live.elsewhere(table.name):
                self._wrong_schema(table)
            else:
                missing.setdefault(table.origin, []).append(table)
        self._history()
        covered: dict[MigrationKey, DriftRepair] = {}
        for origin in sorted(missing, key=self._position):
            self._missing_tables(origin, missing[origin], covered)
        unrecorded: dict[MigrationKey, list[Table]] = {}
        expected = {self.live.norm(t.name) for t in self.expected}
        for table in self.latest:
            if self.live.norm(table.name) in expected or self.live.columns(table.name) is None:
                continue
            if table.origin is not None and table.origin not in self.applied:
                unrecorded.setdefault(table.origin, []).append(table)
        planned: list[MigrationKey] = []
        for origin in sorted(unrecorded, key=self._position):
            self._unrecorded(origin, unrecorded[origin], planned)
        if self.repairs and any(f.kind == "wrong-schema" and not f.app for f in self.findings):
            self._no_repair_on_shared_history()
        position = {app: index for index, app in enumerate(self.apps)}
        self.findings.sort(
            key=lambda f: (
                KINDS.index(f.kind),
                position.get(f.app, len(position)),  # the history table last
                f.table,
                f.migration,
            )
        )

    def _no_repair_on_shared_history(self) -> None:
        """The alias reads another schema's django_migrations (shared with the aliases whose
        search_path reaches it): a repair would change their history too. Offer none."""
        self.repairs.clear()
        why = (
            f"No automatic repair on {self.alias}: the {HISTORY_TABLE} it reads is shared with "
            "other aliases (see its wrong-schema finding); move the history first, then check "
            "again."
        )
        self.findings[:] = [
            replace(f, repair="", manual=(why, *f.manual)) if f.repair else f for f in self.findings
        ]

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

    # -- missing columns ---------------------------------------------------------------------

    def _missing_columns(self, table: Table, live: frozenset[str]) -> None:
        by_origin: dict[MigrationKey | None, list[str]] = {}
        for column, origin in zip(table.columns, table.column_origins, strict=True):
            if self.live.norm(column) not in live:
                by_origin.setdefault(origin, []).append(column)
        for origin, columns in sorted(by_origin.items(), key=lambda item: self._position(item[0])):
            name = _label(origin)
            cause = (
                f"dropped by hand, or {name} was recorded without running (migrate --fake)"
                if origin
                else "dropped by hand, or the migration that adds them was recorded without running"
            )
            what = "it" if len(columns) == 1 else "them"
            source = (
                self._sqlmigrate(origin)
                if origin
                else "'manage.py sqlmigrate' of the migration that adds them"
            )
            self.findings.append(
                self._finding(
                    table,
                    "missing-columns",
                    columns=tuple(columns),
                    migration=name,
                    cause=cause,
                    manual=(
                        f"Add {_join(columns)} to {quote(self.vendor, table.name)} by hand: "
                        f"{source} prints the SQL that adds {what}; run the statements for "
                        f"{_join(columns)} on {self.alias}, or restore {what} from a backup.",
                    ),
                )
            )

    # -- wrong schema (PostgreSQL) -----------------------------------------------------------

    def _move_steps(self) -> list[str]:
        if not self.live.home_missing:
            return []
        return [f"CREATE SCHEMA IF NOT EXISTS {quote(self.vendor, self.live.home)};"]

    def _wrong_schema(self, table: Table) -> None:
        found = self.live.elsewhere(table.name)
        home = self.live.home
        if self.live.home_missing:
            cause = (
                f"created while schema {home} did not exist: PostgreSQL creates tables in the "
                f"first schema of the search_path that exists ({found[0]})"
            )
        else:
            cause = (
                f"created while the search_path did not select {home} first (before the schema "
                "existed, or by a connection with another search_path), or moved by hand"
            )
        q = self.vendor
        steps = self._move_steps()
        if len(found) > 1:
            steps.append(
                f"{table.name} is in {_join(found)}: move the one that holds the data, drop the "
                "others."
            )
        steps.append(
            f"ALTER TABLE {quote(q, found[0])}.{quote(q, table.name)} SET SCHEMA {quote(q, home)};"
        )
        self.findings.append(
            self._finding(
                table,
                "wrong-schema",
                found_in=found,
                migration=_label(table.origin),
                cause=cause,
                manual=tuple(steps),
            )
        )

    def _history(self) -> None:
        """PostgreSQL: the django_migrations the alias reads must be in its own schema."""
        found = self.live.history_schema
        home = self.live.home
        if not found or found == home:
            return
        q = self.vendor
        reason = "did not exist" if self.live.home_missing else "had no django_migrations"
        self.findings.append(
            self._finding(
                None,
                "wrong-schema",
                found_in=(found,),
                cause=(
                    f"{self.alias}'s search_path is {', '.join(self.live.path)}, and "
                    f"{found}.{HISTORY_TABLE} is the first on it, so Django reads and writes the "
                    f"migration history of {self.alias} there (shared with every alias whose "
                    f"search_path reaches {found}); it was created while {home} {reason}"
                ),
                manual=(
                    *self._move_steps(),
                    f"CREATE TABLE {quote(q, home)}.{quote(q, HISTORY_TABLE)} (LIKE "
                    f"{quote(q, found)}.{quote(q, HISTORY_TABLE)} INCLUDING ALL);",
                    f"INSERT INTO {quote(q, home)}.{quote(q, HISTORY_TABLE)} (app, name, applied) "
                    f"SELECT app, name, applied FROM {quote(q, found)}.{quote(q, HISTORY_TABLE)};",
                ),
            )
        )

    # -- missing tables ----------------------------------------------------------------------

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
                    f"{_join(repair.migrations)} on {self.alias}; the next "
                    f"'manage.py {self.project.run}' creates {_join(repair.tables)} again"
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
            return (
                f"recorded migrations of other apps on {self.alias} depend on it ({_join(named)})"
            )
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

    # -- unrecorded tables -------------------------------------------------------------------

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
                f"{_join(repair.migrations)} on {self.alias}, as --fake-initial would: "
                f"{_join(repair.tables)} {'has' if len(repair.tables) == 1 else 'have'} every "
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
                f"({_join([t.name for t in tables])})",
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
                and self.live.norm(column) in live
            ]
            if later:
                up_to = max(
                    (source for _column, source in later if source is not None),
                    key=self._position,
                    default=origin,
                )
                columns = _join([column for column, _source in later])
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


def _alias_graph(
    loader: MigrationLoader, alias: str, applied: set[MigrationKey]
) -> tuple[MigrationGraph, set[MigrationKey]]:
    """The graph and applied set as Django sees them on ``alias``: squashed migrations are
    used or not depending on what is recorded there."""
    if not loader.replacements:
        return loader.graph, applied
    own = MigrationLoader(connections[alias], ignore_no_migrations=True)
    return own.graph, {key for key in (own.applied_migrations or {}) if key in own.graph.nodes}


# -- the public functions ----------------------------------------------------------------------


def _planned_apps(state: PlanState, alias: str) -> tuple[str, ...]:
    apps: list[str] = []
    for step in state.plan.steps:
        if step.alias == alias:
            apps.extend(app for app in step.apps if app not in apps)
    return tuple(apps)


def detect(selection: Selection = Selection(), *, command: str = "migrate_all") -> DriftReport:
    """Compare every planned alias with its recorded migrations; reads only.

    Preflight runs first (an unreachable or read-only database raises ``PreflightError``); a
    missing PostgreSQL schema, MySQL database or SQLite folder does not stop the check, since
    tables created while it was missing are what this looks for. ``command`` names the command
    in the repair texts.
    """
    settings = api.load_settings()
    loader = inspect.load_migrations()
    plan, loader = api.make_plan(selection, loader=loader)
    probes = preflight.probe_all(plan, settings.connect_timeout)
    preflight.check(probes, create=True)
    applied = api.read_applied(plan, probes)
    state = api.read_state(plan, loader, probes, applied)
    project = Project.load(command, loader, plan.executes)
    aliases = tuple(preflight.planned_aliases(plan))
    findings: list[DriftFinding] = []
    repairs: list[DriftRepair] = []
    schemas: dict[str, str] = {}
    for alias in aliases:
        check = AliasCheck.run(
            project, alias, _planned_apps(state, alias), applied[alias], state.probe(alias)
        )
        findings.extend(check.findings)
        repairs.extend(check.repairs)
        schemas[alias] = check.live.home
    return DriftReport(state, aliases, tuple(findings), tuple(repairs), schemas)


def _rows(graph: MigrationGraph, label: str) -> list[tuple[str, str]]:
    """The django_migrations rows of a migration: a squashed one has the rows of the ones it
    replaces and its own, as Django's executor records it."""
    app, _, name = label.partition(".")
    migration: Migration | None = graph.nodes.get((app, name))
    replaced = [(str(a), str(n)) for a, n in migration.replaces] if migration else []
    return [*replaced, (app, name)]


def repair(
    report: DriftReport,
    *,
    lock_timeout: float | None = None,
    command: str = "migrate_all",
) -> tuple[RepairResult, ...]:
    """Make the report's repairs, alias by alias under the alias's lock (as a run takes it).

    Under the lock each alias is checked again: a repair that is no longer planned (another run
    changed the database since) is skipped. Only ``django_migrations`` rows are written: unrecord
    deletes the rows last migration first; record inserts them in plan order.
    """
    if not report.repairs:
        return ()
    settings = api.load_settings()
    timeout = settings.lock_timeout if lock_timeout is None else lock_timeout
    project = Project.load(command)
    state = report.state
    results: list[RepairResult] = []
    for alias in report.aliases:
        todo = [r for r in report.repairs if r.alias == alias]
        if todo:
            results.extend(_repair_alias(project, state, alias, todo, timeout))
    return tuple(results)


def _repair_alias(
    project: Project, state: PlanState, alias: str, todo: list[DriftRepair], timeout: float
) -> list[RepairResult]:
    info = state.plan.alias_info(alias)
    results: list[RepairResult] = []
    try:
        with backend(info.vendor).lock(info, timeout) as lock:
            check = AliasCheck.run(
                project,
                alias,
                _planned_apps(state, alias),
                inspect.read_applied(alias),
                state.probe(alias),
            )
            recorder = MigrationRecorder(connections[alias])
            for item in todo:
                if results and results[-1].status == "failed":
                    results.append(
                        RepairResult(item, "skipped", "not made: the repair before it failed")
                    )
                    continue
                if item not in check.repairs:
                    results.append(
                        RepairResult(
                            item,
                            "skipped",
                            f"{alias} changed since it was checked; run --drift again",
                            lock.waited,
                        )
                    )
                    continue
                try:
                    # Outside the transaction: SQLite cannot create a table inside one.
                    recorder.ensure_schema()
                    with transaction.atomic(using=alias):
                        if item.action == "unrecord":
                            for label in reversed(item.migrations):
                                for app, name in reversed(_rows(check.graph, label)):
                                    recorder.record_unapplied(app, name)
                        else:
                            for label in item.migrations:
                                for app, name in _rows(check.graph, label):
                                    recorder.record_applied(app, name)
                except Exception as exc:
                    error = f"{type(exc).__name__}: {inspect.first_line(exc)}"
                    results.append(RepairResult(item, "failed", error, lock.waited))
                    continue
                results.append(RepairResult(item, "done", None, lock.waited))
    except LockTimeout as exc:
        error = lock_timeout_error(alias, timeout, exc)
        results = [RepairResult(item, "failed", error) for item in todo]
    except Exception as exc:  # the database went away: say so for what was not made yet
        error = f"{type(exc).__name__}: {inspect.first_line(exc)}"
        made = {result.repair for result in results}
        results += [RepairResult(item, "failed", error) for item in todo if item not in made]
    return results
