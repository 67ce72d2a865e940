"""Data passed between migrator's layers: frozen dataclasses, never option dicts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

# The states and kinds passed between layers, checked by mypy wherever one is written.
MigrationKey = tuple[str, str]  # (app label, migration name)

Level = Literal["error", "warning", "info"]
StepStatus = Literal["applied", "up-to-date", "failed", "skipped", "interrupted"]
Event = Literal[
    "step-start",
    "lock-wait",
    "migration-start",
    "migration-done",
    "step-done",
    "notice",
    "lock-retry",  # a migration could not get a lock and is retried (MIGRATOR["LOCK_RETRIES"])
]
# Whether a migration that could not get a lock is retried on its alias: "yes" (rolled back,
# retried), "first-statement" (MySQL/MariaDB: only when nothing before the timed-out statement
# changed anything), "no".
RetryKind = Literal["yes", "first-statement", "no"]
MissingKind = Literal["schema", "database", "folder"]
DriftKind = Literal["missing-table", "missing-columns", "wrong-schema", "unrecorded"]
RepairAction = Literal["unrecord", "record"]
RepairStatus = Literal["done", "skipped", "failed"]
# --phase: "pre" runs what may run before the new code is deployed, "post" the rest.
Phase = Literal["pre", "post"]
RiskLevel = Literal["info", "warning", "danger"]  # --risk: ordered, info < warning < danger
RISK_LEVELS: tuple[RiskLevel, ...] = ("info", "warning", "danger")

# What Django makes of an alias configured without an ENGINE (``"default": {}``, as the "Multiple
# databases" topic documents): a backend whose every query raises ImproperlyConfigured.
DUMMY_ENGINE = "django.db.backends.dummy"
DUMMY_VENDOR = "dummy"


@dataclass(frozen=True)
class AliasInfo:
    """One ``DATABASES`` entry as migrator shows it: never holds the password."""

    alias: str
    vendor: str
    engine: str
    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    # Where the connection parameters that settings leave out come from: "service NAME"
    # (PostgreSQL OPTIONS['service']) or "read_default_file PATH" (MySQL); empty otherwise.
    source: str = ""
    # What the alias's migration lock guards, as preflight learnt it from the server, e.g.
    # ("postgresql", database, schema), ("mysql", database), ("sqlite", real path); --parallel
    # never runs two steps at once whose scopes overlap (one is a prefix of the other). Empty:
    # not probed, the run falls back to (vendor, NAME).
    scope: tuple[str, ...] = ()

    @property
    def is_database(self) -> bool:
        """False for an alias without an ENGINE (Django's dummy backend): never connected to."""
        return self.vendor != DUMMY_VENDOR

    @property
    def location(self) -> str:
        """``host:port/name`` for servers, the file path for SQLite; where settings leave the
        name to a libpq service or a MySQL option file (and preflight has not asked the server
        yet), that source; ``-`` for an alias that is not a database."""
        if not self.is_database:
            return "-"
        if self.vendor == "sqlite":
            return self.name
        if not self.name and self.source:
            if not self.host:
                return self.source
            return f"{self.host}{':' + self.port if self.port else ''} ({self.source})"
        where = self.host or "localhost"
        if self.port:
            where = f"{where}:{self.port}"
        return f"{where}/{self.name}"


@dataclass(frozen=True)
class Node:
    """One (alias, app) pair that the routers allow: migrations of ``app`` run on ``alias``."""

    alias: str
    app: str

    def __str__(self) -> str:
        return f"{self.app}@{self.alias}"


@dataclass(frozen=True)
class Finding:
    """One routing mistake the doctor found: a Django system check message, kept as plain data."""

    id: str  # "migrator.E001"
    level: Level
    alias: str | None  # the alias where it bites; None when no single alias is concerned
    obj: str  # what is wrong: a model, field, router call, migration or cycle
    message: str  # what is wrong, with the concrete names
    hint: str  # the fix

    @property
    def is_error(self) -> bool:
        return self.level == "error"


@dataclass(frozen=True)
class Step:
    """Run Django's ``migrate`` for ``apps`` on ``alias``; steps of one level are independent."""

    alias: str
    apps: tuple[str, ...]
    level: int
    target: str | None = None  # a migration name (or "zero") when the run has --target


@dataclass(frozen=True)
class Plan:
    """Ordered levels of steps; every step of a level only depends on earlier levels."""

    levels: tuple[tuple[Step, ...], ...]
    aliases: tuple[AliasInfo, ...]
    unplanned_aliases: tuple[str, ...] = ()  # aliases no app applies to: never connected to
    homeless_apps: tuple[str, ...] = ()  # apps with migrations that no alias accepts
    # For each step, the steps it depends on (transitively): a failure skips its dependents.
    requires: Mapping[Step, frozenset[Step]] = field(default_factory=dict)
    # False for the fast path: every alias is up to date, so no order was computed.
    ordered: bool = True
    # Per alias, every app the routers send there: their migrations run SQL on that alias, also
    # when Django's migrate takes them along as dependencies (or dependents, when unapplying).
    routed: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Per migration ("app", "name"), the aliases where it executes something (its operations, as
    # Django's operations ask the routers); elsewhere Django only records it.
    executes: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    # Migrations with operations migrator cannot classify (asked as allow_migrate(alias, app,
    # **hints)): "app.name" -> the operations' class paths.
    unclassified: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # True when the run records on each alias everything Django's ``migrate --database X`` would
    # (no --app or --target): the last step of an alias records what executes nothing there.
    records_all: bool = True

    def runs_on(self, alias: str, app: str, name: str) -> bool:
        """Whether migration ``app.name`` executes something on ``alias``."""
        found = self.executes.get((app, name))
        # Not in the planner's graph (a migration a squash replaces, in an alias's own graph) or
        # a plan built without routing: by app.
        if found is None:
            return app in self.routed.get(alias, frozenset())
        return alias in found

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(step for level in self.levels for step in level)

    @cached_property
    def order(self) -> dict[Step, int]:
        """Each step's position in ``steps`` (computed once: fleets have hundreds of steps)."""
        return {step: index for index, step in enumerate(self.steps)}

    @cached_property
    def _infos(self) -> dict[str, AliasInfo]:
        return {info.alias: info for info in self.aliases}

    def alias_info(self, alias: str) -> AliasInfo:
        return self._infos[alias]


@dataclass(frozen=True)
class PendingMigration:
    app: str
    name: str
    backwards: bool = False

    def __str__(self) -> str:
        return f"{self.app}.{self.name}"


@dataclass(frozen=True)
class StepState:
    """What a step would do right now, read from the alias's ``django_migrations``."""

    step: Step
    # Migrations Django's plan runs in this step that execute something on this alias.
    pending: tuple[PendingMigration, ...]
    # Migrations Django's plan takes along in this step that execute nothing on this alias (its
    # operations' routers refuse it): Django runs them as no-ops and records them.
    recorded_dependencies: tuple[PendingMigration, ...] = ()
    # The alias's last step of a full run: what Django's ``migrate --database X`` would still
    # record on X after every step (migrations that execute nothing there), in plan order;
    # migrator records them without running anything.
    record_after: tuple[PendingMigration, ...] = ()
    # The last step of the run on this alias: post_migrate is sent after it.
    last: bool = False
    # Everything the run does on this alias, in order (the ``plan`` of pre/post_migrate).
    alias_plan: tuple[PendingMigration, ...] = ()
    # --phase pre: what Django's plan for this step holds that the phase tool leaves for after
    # the deploy (--phase post); the step's executor pass leaves them out.
    held: tuple[PendingMigration, ...] = ()
    # The pending migrations that are not atomic (``Migration.atomic = False``): not retried on
    # a lock timeout (MIGRATOR["LOCK_RETRIES"]); the plan says so.
    non_atomic: frozenset[MigrationKey] = frozenset()
    # Per pending migration, whether it is retried on a lock timeout (``planning.retries``);
    # empty until the plan is prepared (``api.prepare``).
    retry: tuple[tuple[PendingMigration, RetryDecision], ...] = ()

    @property
    def recorded(self) -> tuple[PendingMigration, ...]:
        """Migrations only recorded on this alias by this step (no operation executes here)."""
        return self.recorded_dependencies + self.record_after

    @property
    def has_work(self) -> bool:
        return bool(self.pending or self.recorded_dependencies or self.record_after)


@dataclass(frozen=True)
class Shard:
    """``--shard K/N``: the K-th of N disjoint parts of the planned aliases."""

    index: int  # K, 1-based
    count: int  # N
    aliases: tuple[str, ...] = ()  # the planned aliases this shard migrates, in settings order

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class MigrationPhase:
    """One migration of one alias's plan, as the deploy-phase tool resolved it (--phase)."""

    alias: str
    migration: PendingMigration
    phase: Phase  # "pre": may run before the new code is deployed; "post": after it
    why: str  # the tool's reason: "stage pre_deploy", "Safe.after_deploy()", "behind app.0003_x"
    runs: bool  # whether this run (or plan) runs it; False: held for --phase post


@dataclass(frozen=True)
class PlanState:
    plan: Plan
    states: tuple[StepState, ...]
    probes: tuple[Probe, ...] = ()
    shard: Shard | None = None  # --shard: the plan holds only this shard's steps
    phase: Phase | None = None  # --phase: the deploy phase asked for
    phase_tool: str = ""  # --phase: "syzygy" or "safemigrate", the tool that resolved it
    # --phase: every migration of every alias's plan with its phase, in plan order per alias.
    phases: tuple[MigrationPhase, ...] = ()

    @property
    def held_count(self) -> int:
        """--phase pre: migrations left for after the deploy (--phase post)."""
        return sum(len(state.held) for state in self.states)

    # MIGRATOR["LOCK_RETRIES"] per planned alias where it is on (the plan says what is retried).
    lock_retries: Mapping[str, LockRetries] = field(default_factory=dict)
    # Per planned alias, what its django_migrations held when the state was read (--risk renders
    # the pending SQL from it); empty on the fast path.
    applied: Mapping[str, frozenset[MigrationKey]] = field(default_factory=dict)

    def probe(self, alias: str) -> Probe | None:
        return next((probe for probe in self.probes if probe.info.alias == alias), None)

    def state(self, step: Step) -> StepState:
        return next(state for state in self.states if state.step == step)

    @property
    def pending_count(self) -> int:
        """Migrations that execute something on their alias, still to run."""
        return sum(len(state.pending) for state in self.states)

    @property
    def recorded_count(self) -> int:
        """Migrations that execute nothing on an alias and are still to be recorded there."""
        return sum(len(state.recorded) for state in self.states)

    @property
    def todo_count(self) -> int:
        """What ``migrate --check`` counts: every migration still to apply or record."""
        return self.pending_count + self.recorded_count


@dataclass(frozen=True)
class LockRetries:
    """``MIGRATOR["LOCK_RETRIES"]`` for one alias: a migration that could not get a lock within
    ``ddl_lock_timeout`` seconds (PostgreSQL 55P03, MySQL/MariaDB 1205) is rolled back and tried
    again up to ``retries`` times, ``backoff`` seconds after its first attempt, twice as long after
    each next one, at most ``max_backoff``."""

    retries: int = 5
    backoff: float = 2.0
    max_backoff: float = 30.0
    # Each attempt's own lock wait: PostgreSQL ``SET LOCAL lock_timeout`` in its transaction;
    # MySQL/MariaDB ``lock_wait_timeout`` and ``innodb_lock_wait_timeout`` for the attempt.
    ddl_lock_timeout: float = 3.0

    def wait_before(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        return float(min(self.max_backoff, self.backoff * 2 ** (retry - 1)))


@dataclass(frozen=True)
class RetryDecision:
    """Whether a pending migration is retried when it cannot get a lock on its alias, and why."""

    kind: RetryKind
    reason: str


@dataclass(frozen=True)
class Retry:
    """One retry of a migration that could not get a lock (``StepResult.retries``)."""

    migration: str  # "app.name"
    attempt: int  # the attempt that failed (1: the first); the retry is attempt + 1
    error: str  # the lock error, e.g. "55P03 lock timeout after 3s: canceling statement ..."
    waited: float  # seconds waited before the retry


@dataclass(frozen=True)
class StepResult:
    step: Step
    status: StepStatus
    applied: tuple[PendingMigration, ...] = ()  # executed something on the alias
    recorded: tuple[PendingMigration, ...] = ()  # only recorded there (nothing to execute)
    seconds: float = 0.0
    error: str | None = None  # failed: the error's first line; skipped: the reason
    lock_wait: float = 0.0  # seconds spent waiting for another run's lock
    failed_migration: str | None = None  # "app.name" that was running when the step failed
    # MySQL/MariaDB: the statements the failed migration had run (DDL is not transactional).
    executed_sql: tuple[str, ...] = ()
    # failed: the error's formatted traceback, passwords scrubbed (--traceback and -v 3 print it,
    # the "migrator" logger gets it); empty when the failure has no exception behind it.
    traceback: str = ""
    # --executor celery: the worker that ran the step ("celery@host pid 123"); empty locally.
    worker: str = ""
    # --resume: the result of an earlier attempt of this run, read from the run journal.
    earlier: bool = False
    canary: bool = False  # --canary: the step ran first in its level, as a canary
    # MIGRATOR["LOCK_RETRIES"]: each retry of a migration that could not get a lock, in order.
    retries: tuple[Retry, ...] = ()


@dataclass(frozen=True)
class Bounds:
    """How many connections migrator opens at once: ``per_server`` on one database server (the
    vendor, host and port, or the socket or service that settings give), ``overall`` in all
    (SQLite files count only there). MIGRATOR["MAX_CONNECTIONS_PER_SERVER"] and
    MIGRATOR["MAX_CONNECTIONS"]; they bound the preflight probes, the history reads and the
    ``--parallel`` workers."""

    per_server: int = 8
    overall: int = 32


DEFAULT_BOUNDS = Bounds()


@dataclass(frozen=True)
class RunOptions:
    fake: bool = False
    fake_initial: bool = False
    interactive: bool = False
    force_migrate: bool = False
    lock_timeout: float | None = None  # None: MIGRATOR["LOCK_TIMEOUT"] (default 60 s)
    # Per alias, server settings for the migration session only (MIGRATOR["SESSION"]).
    session: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Asked before each migration; a signal name there stops the run between two migrations.
    should_stop: Callable[[], str | None] | None = None
    # --parallel never runs more steps at once on one server, nor more workers, than these.
    bounds: Bounds = DEFAULT_BOUNDS
    # Per alias, MIGRATOR["LOCK_RETRIES"] where it is on; an alias not named: no retries.
    lock_retries: Mapping[str, LockRetries] = field(default_factory=dict)
    # The lock-risk gate (migrator/risk/gate.py): --accept-risk skips it; --max-risk LEVEL gates
    # this run at LEVEL instead of MIGRATOR["RISK"]["GATE"].
    accept_risk: bool = False
    risk_gate: RiskLevel | None = None


@dataclass(frozen=True)
class Selection:
    """What the user narrowed the plan to."""

    databases: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()
    target: tuple[str, str] | None = None  # (app, migration name or "zero")
    # Pairs taken besides what the filters select (the menu adds a selection's dependencies).
    include: tuple[Node, ...] = ()
    # --phase: only what the project's deploy-phase tool (django-syzygy, django-safemigrate)
    # lets run before the deploy ("pre"), or the rest ("post"); None: everything.
    phase: Phase | None = None


@dataclass(frozen=True)
class RunReport:
    state: PlanState
    results: tuple[StepResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(result.status in ("applied", "up-to-date") for result in self.results)


@dataclass(frozen=True)
class Progress:
    """What the runner reports while it works; the command decides what to print."""

    # "notice": a line about the whole run (in ``detail``), given with the plan's first step
    event: Event
    step: Step
    migration: PendingMigration | None = None
    fake: bool = False
    result: StepResult | None = None
    detail: str = ""  # lock-wait: who holds the lock and how long this run waits; notice: the line
    canary: bool = False  # --canary: the step runs first in its level, as a canary


@dataclass(frozen=True)
class Missing:
    """A schema, database or folder that an alias needs and that does not exist yet."""

    alias: str
    kind: MissingKind
    name: str

    def __str__(self) -> str:
        return f"{self.alias} -> {self.kind} {self.name!r}"


@dataclass(frozen=True)
class Probe:
    """What preflight found out about one alias, read-only."""

    info: AliasInfo
    reachable: bool = True
    version: str = ""
    read_only: str = ""  # why the alias refuses writes; empty when writable
    schemas: tuple[str, ...] = ()  # PostgreSQL: the search_path schemas, in order
    schema: str = ""  # PostgreSQL: where tables go (the first existing schema)
    missing: tuple[Missing, ...] = ()  # --create-schemas can create these
    problems: tuple[str, ...] = ()  # blocking problems that need a person
    user: str = ""  # PostgreSQL: the session's current_user, what "$user" in search_path stands for
    # PostgreSQL: current_database(), the database the server says it is (NAME may be a
    # PgBouncer alias or a service's); what the migration lock is keyed by.
    database: str = ""
    # PostgreSQL: the rows of django_migrations the probe's connection read (None: not read; the
    # history read asks Django's connection then), so a fleet costs one connection per alias.
    applied: frozenset[tuple[str, str]] | None = None


@dataclass(frozen=True)
class Health:
    """What ``api.health`` found: every planned alias reachable and migrated, or why not."""

    # (alias, migrations to apply or record there), in plan order; only aliases with some
    pending: tuple[tuple[str, int], ...] = ()
    problems: tuple[str, ...] = ()  # why aliases could not be checked (unreachable, ...)
    graph_loaded: bool = False  # the routing cache was cold: the planner imported the migrations

    @property
    def ok(self) -> bool:
        return not self.pending and not self.problems


@dataclass(frozen=True)
class AliasStatus:
    """One alias as the menu's status shows it: what preflight found and what is recorded there."""

    info: AliasInfo
    apps: tuple[str, ...] = ()  # the apps routed here; empty: no app is, never connected to
    probe: Probe | None = None
    # Every migration recorded in django_migrations (those only recorded there included, as in
    # showmigrations), and those still to apply or record; None: unknown.
    applied: tuple[PendingMigration, ...] | None = None
    pending: tuple[PendingMigration, ...] | None = None
    error: str = ""  # why the state could not be read, or what is wrong with the recorded history


def never() -> str | None:
    """No reason: a lock that is never lost, a run never asked to stop."""
    return None


@dataclass(frozen=True)
class LockInfo:
    alias: str
    waited: float  # seconds spent waiting for another run
    # What the lock covers, as the server names it ("database/schema", the SQLite file): two
    # spellings of one database get one lock.
    scope: str = ""
    # Asked before and after each migration: why the lock no longer holds (its connection died,
    # a DBA ended it), or None while it does.
    lost: Callable[[], str | None] = field(default=never, compare=False)


@dataclass(frozen=True)
class DriftFinding:
    """One difference between what ``django_migrations`` records on an alias and the live tables."""

    alias: str
    kind: DriftKind
    app: str  # "" for the migration history table itself
    model: str  # "users.User" ("auth.User_groups" for an auto-created M2M table); "" for history
    table: str
    columns: tuple[str, ...] = ()  # missing-columns: the columns that are not there
    schema: str = ""  # PostgreSQL: the schema the alias's tables belong in
    found_in: tuple[str, ...] = ()  # wrong-schema: the other schemas that hold the table
    migration: str = ""  # "app.name": the migration that creates the table or adds the columns
    cause: str = ""  # what probably happened
    repair: str = ""  # the automatic repair (--drift --repair); empty when only manual
    manual: tuple[str, ...] = ()  # steps for a person when no automatic repair is safe


@dataclass(frozen=True)
class DriftRepair:
    """A repair that changes only ``django_migrations`` rows of one alias, never a table."""

    alias: str
    action: RepairAction
    migrations: tuple[str, ...]  # "app.name" in the order the rows are written
    tables: tuple[str, ...]  # the tables concerned (missing ones, or existing unrecorded ones)


@dataclass(frozen=True)
class DriftReport:
    """What ``--drift`` found on every checked alias, and the repairs that are safe to make."""

    state: PlanState  # the plan and the probes of the checked aliases
    aliases: tuple[str, ...]  # checked, in plan order
    findings: tuple[DriftFinding, ...] = ()
    repairs: tuple[DriftRepair, ...] = ()
    # PostgreSQL: per alias, the schema its tables belong in (the first of its search_path).
    schemas: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class RepairResult:
    repair: DriftRepair
    status: RepairStatus  # skipped: the database changed since it was checked
    error: str | None = None
    lock_wait: float = 0.0


@dataclass(frozen=True)
class RiskThresholds:
    """``MIGRATOR["RISK"]``: a lock-risk finding on a table with at least ``warning_rows`` rows
    (or ``warning_bytes`` bytes) is a warning, at least ``danger_rows`` (``danger_bytes``) a
    danger; ``gate``: a run refuses a plan with a finding at or above this level (None: never)."""

    warning_rows: int = 10_000
    danger_rows: int = 1_000_000
    warning_bytes: int = 64 * 2**20  # 64 MiB
    danger_bytes: int = 4 * 2**30  # 4 GiB
    gate: RiskLevel | None = None


DEFAULT_RISK = RiskThresholds()


@dataclass(frozen=True)
class RiskFinding:
    """One statement of a pending migration that takes a lock which blocks other sessions (or
    otherwise risks the deploy), on one alias, weighted by the live size of its table."""

    alias: str
    migration: str  # "app.name"
    operation: int  # the operation's index in the migration, from 1; 0: the whole alias
    description: str  # the operation's describe(), e.g. "Add field slug to post"
    rule: str  # squawk's rule name, or migrator's ("mysql-table-copy", "require-lock-timeout")
    level: RiskLevel
    message: str  # what the statement does and why it is risky
    safer: str  # the safer way
    statement: str = ""  # the SQL, as Django renders it on this alias
    table: str = ""  # the table it locks (as the SQL names it); "" when none
    rows: int | None = None  # None: unknown (never analysed) or no table
    size: int | None = None  # bytes (table, indexes and TOAST); None: unknown or no table
    exists: bool = True  # False: the plan creates the table (it is empty)
    lock: str = ""  # "ACCESS EXCLUSIVE", "SHARE", "metadata lock, table copy", ...
    blocks: str = ""  # "reads and writes", "writes", ""
    source: str = ""  # "squawk" or "migrator"

    @property
    def where(self) -> str:
        """``app.name #2`` (the operation), or ``app.name``."""
        return f"{self.migration} #{self.operation}" if self.operation else self.migration

    @property
    def summary(self) -> str:
        """``danger users_db: users.0002_x #1 (Add field ...): changing-column-type on
        "users_user" (~120,000 rows)``: the finding in one line (the gate's refusal, --risk's
        error)."""
        what = f"{self.where} ({self.description})" if self.migration else self.description
        table = ""
        if self.table:
            rows = "rows unknown" if self.rows is None else f"~{self.rows:,} rows"
            table = f" on {self.table} ({rows if self.exists else 'new table'})"
        return f"{self.level} {self.alias}: {what}: {self.rule}{table}"


def finding_summaries(findings: Sequence[RiskFinding]) -> list[str]:
    """Each finding's ``summary``, in order, the same line once (with how many statements: an
    operation that creates two indexes breaks the same rule twice)."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.summary] = counts.get(finding.summary, 0) + 1
    return [line if n == 1 else f"{line} ({n} statements)" for line, n in counts.items()]


@dataclass(frozen=True)
class RiskReport:
    """What ``--risk`` found on every reviewed alias, in plan order."""

    findings: tuple[RiskFinding, ...] = ()
    # (alias, vendor, migrations reviewed there), in plan order
    reviewed: tuple[tuple[str, str, int], ...] = ()
    # (alias, why its SQL is not reviewed): SQLite, other vendors
    skipped: tuple[tuple[str, str], ...] = ()
    thresholds: RiskThresholds = DEFAULT_RISK

    def at_least(self, level: RiskLevel) -> tuple[RiskFinding, ...]:
        rank = RISK_LEVELS.index(level)
        return tuple(f for f in self.findings if RISK_LEVELS.index(f.level) >= rank)

    @property
    def highest(self) -> RiskLevel | None:
        levels = [RISK_LEVELS.index(f.level) for f in self.findings]
        return RISK_LEVELS[max(levels)] if levels else None
