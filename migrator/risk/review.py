"""The lock-risk review of a prepared plan: the SQL per alias (``sql``), reviewed by squawk on
PostgreSQL and by migrator's rule table on MySQL/MariaDB, each finding weighted by the live size
of its table (``sizes``, ``rules.level_for``). Read-only: the rendering executes nothing, the
sizes are one catalog query per alias, at once in threads within ``MIGRATOR``'s connection
bounds (``concurrency``), each on a connection closed afterwards: a fleet's review holds no
connection per alias open."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from django.db.migrations.loader import MigrationLoader

from migrator import concurrency, conf
from migrator.backends.mysql import attempt_wait
from migrator.backends.postgresql import ddl_lock_timeout_value
from migrator.risk import mysql_rules, sizes, squawk
from migrator.risk.rules import Rule, level_for, table_of
from migrator.risk.sql import RenderedMigration, atomic_on, render
from migrator.types import PlanState, RiskFinding, RiskReport, RiskThresholds

REVIEWED_VENDORS = ("postgresql", "mysql")
# The session setting that bounds a DDL statement's wait for its lock, per vendor.
LOCK_SETTING = {"postgresql": "lock_timeout", "mysql": "lock_wait_timeout"}

LOCK_TIMEOUT_RULE = Rule(
    "require-lock-timeout",
    "",
    "every query queued behind the waiting DDL",
    "set a lock timeout for migrations on the alias (MIGRATOR['SESSION'])",
    "no lock timeout is set for migrations here: a DDL statement that waits for its lock behind "
    "a long query blocks every query that comes after it, for as long as it waits",
    cap="warning",
)


def lock_timeout_for(
    alias: str, vendor: str, settings: conf.MigratorSettings, *, atomic: bool = True
) -> str | None:
    """The lock timeout migrator sets for a migration on ``alias``, or None: the per-attempt DDL
    lock timeout of ``MIGRATOR["LOCK_RETRIES"]`` where the migration is retried (PostgreSQL: an
    atomic one; MySQL/MariaDB: each), else ``MIGRATOR["SESSION"]``'s."""
    retries = settings.lock_retries.get(alias)
    if retries is not None and (atomic or vendor == "mysql"):
        seconds = retries.ddl_lock_timeout  # as each attempt's guard sets it
        if vendor == "postgresql":
            return ddl_lock_timeout_value(seconds)
        if vendor == "mysql":
            return str(attempt_wait(seconds))
    key = LOCK_SETTING.get(vendor)
    return settings.session.get(alias, {}).get(key) if key else None


@dataclass(frozen=True)
class _Hit:
    """A rule broken by one statement, before its table's size is known."""

    alias: str
    migration: RenderedMigration
    operation: int
    description: str
    statement: str
    rule: Rule
    message: str
    table: str
    source: str


def review(
    state: PlanState,
    loader: MigrationLoader,
    settings: conf.MigratorSettings,
    aliases: Sequence[str] | None = None,
) -> RiskReport:
    """Review every pending migration's SQL on every planned alias (of ``aliases``)."""
    order = list(dict.fromkeys(s.step.alias for s in state.states))
    pending = {s.step.alias for s in state.states if s.pending}
    with_pending = [
        alias for alias in order if alias in pending and (aliases is None or alias in aliases)
    ]
    vendors = {alias: state.plan.alias_info(alias).vendor for alias in with_pending}
    skipped = tuple(
        (alias, f"{vendors[alias]}: no lock-risk rules")
        for alias in with_pending
        if vendors[alias] not in REVIEWED_VENDORS
    )
    reviewable = [a for a in with_pending if vendors[a] in REVIEWED_VENDORS]
    rendered = render(state, loader, reviewable)
    hits: list[_Hit] = []
    hits.extend(_postgresql_hits(state, settings, rendered, vendors))
    hits.extend(_mysql_hits(state, rendered, vendors))
    locked = {
        alias: [
            table_of(statement)
            for migration in rendered.get(alias, ())
            for statement in migration.statements
            if _takes_lock(statement)
        ]
        for alias in reviewable
    }
    mine: dict[str, list[_Hit]] = {alias: [] for alias in reviewable}
    for hit in hits:
        mine[hit.alias].append(hit)
    found = _sizes(
        state,
        vendors,
        {alias: [h.table for h in mine[alias]] + locked[alias] for alias in reviewable},
        settings,
    )
    findings: list[RiskFinding] = []
    thresholds = settings.risk
    for alias in reviewable:
        here = found.get(alias, {})
        for hit in mine[alias]:
            findings.append(_finding(hit, here.get(hit.table), thresholds))
        biggest = _biggest(here, locked[alias])
        if biggest is not None and lock_timeout_for(alias, vendors[alias], settings) is None:
            findings.append(_alias_finding(alias, *biggest, vendors[alias], thresholds))
    order_of = {alias: index for index, alias in enumerate(order)}
    findings.sort(key=lambda f: (order_of[f.alias], f.operation == 0))
    return RiskReport(
        findings=tuple(findings),
        reviewed=tuple((a, vendors[a], len(rendered.get(a, ()))) for a in reviewable),
        skipped=skipped,
        thresholds=thresholds,
    )


def _sizes(
    state: PlanState,
    vendors: Mapping[str, str],
    tables: Mapping[str, Sequence[str]],
    settings: conf.MigratorSettings,
) -> dict[str, dict[str, sizes.TableSize]]:
    """Per alias with tables to weigh, their sizes: one read-only query per alias, at once in
    threads within ``settings.bounds`` (``concurrency.run`` closes each thread's connection)."""
    wanted = [alias for alias, names in tables.items() if any(names)]
    jobs = [
        concurrency.Job(
            state.plan.alias_info(alias), partial(sizes.read, alias, vendors[alias], tables[alias])
        )
        for alias in wanted
    ]
    return dict(zip(wanted, concurrency.run(jobs, settings.bounds), strict=True))


def _takes_lock(statement: str) -> bool:
    """DDL on an existing table (a new table's own statements lock nothing others use)."""
    text = statement.lstrip().upper()
    return text.startswith(
        ("ALTER TABLE", "CREATE INDEX", "CREATE UNIQUE INDEX", "DROP TABLE", "TRUNCATE", "RENAME")
    )


def _biggest(
    found: dict[str, sizes.TableSize], tables: Sequence[str]
) -> tuple[str, sizes.TableSize] | None:
    """Of the existing tables that DDL locks, the biggest (an unknown row count first)."""
    candidates = [(t, found[t]) for t in dict.fromkeys(tables) if t in found and found[t].exists]
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c[1].rows is None, c[1].rows or 0, c[1].size or 0))


def _finding(hit: _Hit, size: sizes.TableSize | None, thresholds: RiskThresholds) -> RiskFinding:
    size = size or sizes.TableSize(exists=True, rows=None, size=None)
    lock, blocks = hit.rule.lock, hit.rule.blocks
    if hit.rule.id == "constraint-missing-not-valid" and "FOREIGN KEY" in hit.statement.upper():
        lock, blocks = "SHARE ROW EXCLUSIVE (both tables)", "writes"
    no_table = not hit.table
    return RiskFinding(
        alias=hit.alias,
        migration=str(hit.migration.migration),
        operation=hit.operation,
        description=hit.description,
        rule=hit.rule.id,
        level=level_for(
            hit.rule,
            None if no_table else size.rows,
            None if no_table else size.size,
            size.exists,
            thresholds,
        ),
        message=hit.message,
        safer=hit.rule.safer,
        statement=hit.statement,
        table=hit.table,
        rows=None if no_table else size.rows,
        size=None if no_table else size.size,
        exists=size.exists,
        lock=lock,
        blocks=blocks,
        source=hit.source,
    )


def _alias_finding(
    alias: str, table: str, size: sizes.TableSize, vendor: str, thresholds: RiskThresholds
) -> RiskFinding:
    setting = LOCK_SETTING[vendor]
    return RiskFinding(
        alias=alias,
        migration="",
        operation=0,
        description=f"every migration on {alias}",
        rule=LOCK_TIMEOUT_RULE.id,
        level=level_for(LOCK_TIMEOUT_RULE, size.rows, size.size, size.exists, thresholds),
        message=LOCK_TIMEOUT_RULE.message
        + f" (MIGRATOR['SESSION'][{alias!r}] has no {setting}, MIGRATOR['LOCK_RETRIES'] is off)",
        safer=f"set a lock timeout for migrations on this alias: MIGRATOR['SESSION'][{alias!r}] = "
        + ("{'lock_timeout': '5s'}" if vendor == "postgresql" else "{'lock_wait_timeout': 5}")
        + ", or retry them on a lock timeout: MIGRATOR['LOCK_RETRIES'] = {'DDL_LOCK_TIMEOUT': 3}",
        table=table,
        rows=size.rows,
        size=size.size,
        exists=size.exists,
        lock="the lock of each DDL statement",
        blocks=LOCK_TIMEOUT_RULE.blocks,
        source="migrator",
    )


def _postgresql_hits(
    state: PlanState,
    settings: conf.MigratorSettings,
    rendered: dict[str, tuple[RenderedMigration, ...]],
    vendors: dict[str, str],
) -> list[_Hit]:
    """One squawk file per distinct rendering (aliases that share a rendering, a server
    version and a lock timeout share the file); squawk runs once per version and mode."""
    files: dict[tuple[int, str, bool, str], squawk.SquawkFile] = {}
    users: dict[str, list[tuple[str, RenderedMigration, list[tuple[int, int, str]]]]] = {}
    for alias, migrations in rendered.items():
        if vendors[alias] != "postgresql":
            continue
        probe = state.probe(alias)
        version = squawk.pg_version(probe.version if probe is not None else "")
        for migration in migrations:
            if not migration.statements:
                continue
            in_transaction = atomic_on(alias, migration)
            timeout = lock_timeout_for(alias, "postgresql", settings, atomic=in_transaction)
            key = (id(migration), version, in_transaction, timeout or "")
            lines: list[str] = []
            if timeout:
                escaped = timeout.replace("'", "''")
                lines.append(f"SET lock_timeout = '{escaped}';")
            spans: list[tuple[int, int, str]] = []  # (first line, operation, statement)
            first = len(lines)
            for operation in migration.operations:
                for statement in operation.statements:
                    spans.append((len(lines), operation.index, statement))
                    lines.extend(statement.splitlines() or [""])
            if key not in files:
                files[key] = squawk.SquawkFile(
                    f"{len(files) + 1:04d}.sql", version, in_transaction, tuple(lines), first
                )
            users.setdefault(files[key].name, []).append((alias, migration, spans))
    if not files:
        return []
    found = squawk.run(list(files.values()))
    hits: list[_Hit] = []
    for item in found:
        for alias, migration, spans in users.get(item.file, ()):
            span = next((s for s in reversed(spans) if s[0] <= item.line), None)
            if span is None:
                continue
            _, index, statement = span
            operation = next(op for op in migration.operations if op.index == index)
            hits.append(
                _Hit(
                    alias,
                    migration,
                    index,
                    operation.description,
                    statement,
                    squawk.rule(item.rule, item.help),
                    item.message,
                    table_of(statement),
                    "squawk",
                )
            )
    return _deduplicated(hits)


def _deduplicated(hits: list[_Hit]) -> list[_Hit]:
    """One finding per rule and statement; a foreign key's constraint-missing-not-valid is
    said by adding-foreign-key-constraint already."""
    keys = {(h.alias, h.migration.migration, h.operation, h.statement, h.rule.id) for h in hits}
    kept: list[_Hit] = []
    seen: set[tuple[object, ...]] = set()
    for hit in hits:
        key = (hit.alias, hit.migration.migration, hit.operation, hit.statement, hit.rule.id)
        fk = (*key[:4], "adding-foreign-key-constraint")
        if key in seen or (hit.rule.id == "constraint-missing-not-valid" and fk in keys):
            continue
        seen.add(key)
        kept.append(hit)
    return kept


def _mysql_hits(
    state: PlanState, rendered: dict[str, tuple[RenderedMigration, ...]], vendors: dict[str, str]
) -> list[_Hit]:
    hits: list[_Hit] = []
    for alias, migrations in rendered.items():
        if vendors[alias] != "mysql":
            continue
        probe = state.probe(alias)
        version = probe.version if probe is not None else ""
        for migration in migrations:
            for operation in migration.operations:
                for statement in operation.statements:
                    for rule, table in mysql_rules.findings(statement, version):
                        hits.append(
                            _Hit(
                                alias,
                                migration,
                                operation.index,
                                operation.description,
                                statement,
                                rule,
                                rule.message,
                                table,
                                "migrator",
                            )
                        )
    return hits
