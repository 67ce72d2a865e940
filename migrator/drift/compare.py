"""Per alias, the tables and columns its recorded migrations imply against what the database
has: the findings (missing table, missing columns, wrong schema, unrecorded) with their causes and
manual steps (``AliasCheck``, its repair plans in ``plans``), and ``detect`` over every planned
alias."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader

from migrator import api, preflight
from migrator.drift.live import Live, quote, read_live
from migrator.drift.plans import RepairPlans
from migrator.drift.recorded import (
    HISTORY_TABLE,
    KINDS,
    Project,
    Table,
    _label,
    plan_order,
    replay,
    tables_of,
)
from migrator.exceptions import PreflightError
from migrator.project.loader import load_migrations
from migrator.text import and_list, first_line
from migrator.types import (
    DriftFinding,
    DriftRepair,
    DriftReport,
    MigrationKey,
    PlanState,
    Probe,
    Selection,
)


@dataclass
class AliasCheck(RepairPlans):
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
                f"({first_line(exc)}); check 'manage.py showmigrations --database "
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

    # -- missing columns ---------------------------------------------------------------------

    def _missing_columns(self, table: Table, live: frozenset[str]) -> None:
        by_origin: dict[MigrationKey | None, list[str]] = {}
        renames = dict(zip(table.columns, table.column_renames, strict=False))
        for column, origin in zip(table.columns, table.column_origins, strict=True):
            if self.live.column(column) not in live:
                by_origin.setdefault(origin, []).append(column)
        for origin, columns in sorted(by_origin.items(), key=lambda item: self._position(item[0])):
            name = _label(origin)
            cause = (
                f"dropped by hand, or {name} was recorded without running (migrate --fake)"
                if origin
                else "dropped by hand, or the migration that adds them was recorded without running"
            )
            what = "it" if len(columns) == 1 else "them"
            # sqlmigrate shows a renamed column under the name it was added with.
            renamed = [
                f"{column} as {rename[0]}, renamed by {_label(rename[1])}"
                for column in columns
                if (rename := renames.get(column))
            ]
            added = f"{what} ({'; '.join(renamed)})" if renamed else what
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
                        f"Add {and_list(columns)} to {quote(self.vendor, table.name)} by hand: "
                        f"{source} prints the SQL that adds {added}; run the statements for "
                        f"{and_list(columns)} on {self.alias}, or restore {what} from a backup.",
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
                f"{table.name} is in {and_list(found)}: move the one that holds the data, drop the "
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

    # -- unrecorded tables -------------------------------------------------------------------


def _alias_graph(
    loader: MigrationLoader, alias: str, applied: set[MigrationKey]
) -> tuple[MigrationGraph, set[MigrationKey]]:
    """The graph and applied set as Django sees them on ``alias``: squashed migrations are
    used or not depending on what is recorded there."""
    if not loader.replacements:
        return loader.graph, applied
    own = MigrationLoader(connections[alias], ignore_no_migrations=True)
    return own.graph, {key for key in (own.applied_migrations or {}) if key in own.graph.nodes}


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
    loader = load_migrations()
    plan, loader = api.make_plan(selection, loader=loader)
    probes = preflight.probe_all(
        plan, settings.connect_timeout, writes=False, bounds=settings.bounds
    )
    preflight.check(probes, create=True)
    applied = api.read_applied(plan, probes, settings.bounds)
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
