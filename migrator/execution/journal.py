"""The run record: every run has an id and writes its plan and each step's outcome to a journal as
it goes (``MIGRATOR["JOURNAL"]``: a file of JSON lines, or a table on an alias), and sends the
signals of ``migrator.signals``. ``--resume`` reads a run back (``find_run``): the aliases whose
steps all finished are not connected to again, and the report covers every attempt.

Records, one JSON object each, in the order they happen (``type``):

* ``plan``: ``run_id``, ``attempt`` (1, then 2... for each ``--resume``), ``time``, ``hash``
  (``plan_hash``), ``ordered``, ``steps`` (level, alias, apps, target, migrations: the names of
  the step's apps' migration files), ``selection`` and ``options``;
* ``step``: ``run_id``, ``attempt``, the step (level, alias, apps, target), ``status``,
  ``applied``/``recorded`` (``[app, name, backwards]``), ``seconds``, ``lock_wait``, ``error``,
  ``failed_migration``;
* ``finished``: ``run_id``, ``attempt``, ``ok``, ``signal`` (the signal that stopped it, or null).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

from migrator import conf, django_compat
from migrator import signals as hooks
from migrator.exceptions import ConfigurationError, UsageError
from migrator.history import sqlite_file_missing
from migrator.project import routing_cache
from migrator.text import first_line, redact
from migrator.types import (
    PendingMigration,
    Plan,
    PlanState,
    Progress,
    Retry,
    RunOptions,
    RunReport,
    Selection,
    Step,
    StepResult,
    StepStatus,
)

logger = logging.getLogger("migrator")

DONE: frozenset[str] = frozenset({"applied", "up-to-date"})
Record = dict[str, Any]


def new_run_id() -> str:
    """Sortable (UTC time to the microsecond first) and unique (a random suffix)."""
    now = datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


# -- where records go ------------------------------------------------------------------------
class Store(Protocol):
    @property
    def where(self) -> str: ...

    def append(self, record: Record) -> None: ...

    def records(self) -> list[Record]: ...


def default_file() -> Path:
    """One file per project, in a folder next to the routing cache's (only the user can read it):
    keyed by the settings module and the settings' DATABASES (aliases, engines, names, hosts)."""
    entries = sorted(
        (alias, str(e.get("ENGINE")), str(e.get("NAME")), str(e.get("HOST")), str(e.get("PORT")))
        for alias, e in settings.DATABASES.items()
    )
    key = json.dumps([os.environ.get("DJANGO_SETTINGS_MODULE", ""), entries])
    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(routing_cache.default_folder()) / "journal" / f"{name}.jsonl"


@dataclass
class FileStore:
    """Append-only JSON lines, each flushed and fsynced before the run goes on."""

    path: Path

    @property
    def where(self) -> str:
        return str(self.path)

    def append(self, record: Record) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def records(self) -> list[Record]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a crash mid-write: the records around it stand
        return found


@dataclass
class TableStore:
    """A table on an alias (never ``django_migrations``), created when missing. Each record is
    written on a connection of its own, opened and closed again at once (autocommit), so that a
    ``--parallel`` worker forked later never inherits its socket."""

    alias: str
    table: str
    _sequence: int | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"table {self.table} on {self.alias}"

    def _execute(
        self, sql: str, params: Sequence[Any] = (), *, create: bool = True
    ) -> list[tuple[Any, ...]]:
        """``sql`` on the journal's table; with ``create`` False nothing is created (no table,
        no SQLite file) and a journal that does not exist yet reads as empty."""
        if not create and sqlite_file_missing(self.alias):
            return []
        connection = django_compat.new_connection(self.alias)
        try:
            with connection.cursor() as cursor:
                name = connection.ops.quote_name(self.table)
                if not create:
                    if self.table not in connection.introspection.table_names(cursor):
                        return []
                else:
                    cursor.execute(
                        f"CREATE TABLE IF NOT EXISTS {name} (run_id VARCHAR(64) NOT NULL, "
                        "seq INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (run_id, seq))"
                    )
                cursor.execute(sql.format(table=name), params)
                return list(cursor.fetchall()) if cursor.description else []
        finally:
            connection.close()

    def append(self, record: Record) -> None:
        if self._sequence is None:
            rows = self._execute("SELECT MAX(seq) FROM {table}")
            self._sequence = int(rows[0][0] or 0) if rows else 0
        self._sequence += 1
        self._execute(
            "INSERT INTO {table} (run_id, seq, record) VALUES (%s, %s, %s)",
            (record["run_id"], self._sequence, json.dumps(record, sort_keys=True)),
        )

    def records(self) -> list[Record]:
        # Looking a run up (--resume) creates nothing: a typo in its id leaves no table behind.
        rows = self._execute("SELECT record FROM {table} ORDER BY seq", create=False)
        return [json.loads(row[0]) for row in rows]


def store_for(setting: conf.JournalSetting) -> Store | None:
    if setting.off:
        return None
    if setting.alias is not None and setting.table is not None:
        return TableStore(setting.alias, setting.table)
    return FileStore(Path(setting.path) if setting.path else default_file())


# -- the plan as recorded ----------------------------------------------------------------------
def step_key(step: Step) -> tuple[int, str, tuple[str, ...], str | None]:
    return (step.level, step.alias, step.apps, step.target)


def plan_steps(plan: Plan, names: Mapping[str, Iterable[str]]) -> list[Record]:
    """The ordered steps with the names of their apps' migration files (``names``: per app)."""
    return [
        {
            "level": step.level,
            "alias": step.alias,
            "apps": list(step.apps),
            "target": step.target,
            "migrations": sorted(
                f"{app}.{name}" for app in step.apps for name in names.get(app, ())
            ),
        }
        for step in plan.steps
    ]


def everywhere(plan: Plan, names: Mapping[str, Iterable[str]]) -> list[str]:
    """On a full run (``records_all``), every migration file's name: each alias the run migrates
    ends with all of them recorded, as Django's ``migrate --database X`` records them, so a new
    migration of any app changes what a resumed run must still do there."""
    if not plan.records_all:
        return []
    return sorted(f"{app}.{name}" for app, found in names.items() for name in found)


def plan_hash(steps: Sequence[Record], recorded_everywhere: Sequence[str] = ()) -> str:
    document: Any = list(steps)
    if recorded_everywhere:
        document = {"steps": document, "everywhere": list(recorded_everywhere)}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _migrations(items: Iterable[PendingMigration]) -> list[list[Any]]:
    return [[m.app, m.name, m.backwards] for m in items]


def _pending(items: Iterable[Sequence[Any]]) -> tuple[PendingMigration, ...]:
    return tuple(PendingMigration(str(a), str(n), bool(b)) for a, n, b in items)


# -- a run read back --------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordedRun:
    run_id: str
    plan: Record  # the first attempt's plan record
    attempts: int
    steps: Mapping[tuple[int, str, tuple[str, ...], str | None], Record]  # latest per step
    finished_ok: bool  # the last attempt finished with every step done

    def earlier_results(
        self, state_steps: Iterable[Step], aliases: Iterable[str]
    ) -> list[StepResult]:
        """The recorded results of the steps on ``aliases`` (done in an earlier attempt)."""
        wanted = set(aliases)
        found = []
        for step in state_steps:
            record = self.steps.get(step_key(step))
            if step.alias in wanted and record is not None:
                found.append(result_of(step, record))
        return found

    def done_aliases(self, steps: Iterable[Step]) -> set[str]:
        """Aliases each of whose steps finished applied or up to date in some attempt."""
        by_alias: dict[str, list[Step]] = {}
        for step in steps:
            by_alias.setdefault(step.alias, []).append(step)
        return {
            alias
            for alias, own in by_alias.items()
            if all(self.steps.get(step_key(s), {}).get("status") in DONE for s in own)
        }


def result_of(step: Step, record: Record) -> StepResult:
    status: StepStatus = record["status"]
    return StepResult(
        step=step,
        status=status,
        applied=_pending(record.get("applied", ())),
        recorded=_pending(record.get("recorded", ())),
        seconds=float(record.get("seconds", 0.0)),
        error=record.get("error"),
        lock_wait=float(record.get("lock_wait", 0.0)),
        failed_migration=record.get("failed_migration"),
        earlier=True,
        retries=tuple(Retry(**retry) for retry in record.get("retries") or ()),
    )


def run_ids(records: Iterable[Record]) -> list[str]:
    """The recorded runs, oldest first."""
    return sorted({r["run_id"] for r in records if r.get("type") == "plan"})


def find_run(store: Store, run_id: str | None, command: str) -> RecordedRun:
    """The run ``run_id`` (None: the latest) as its records tell it; UsageError when unknown."""
    records = store.records()
    ids = run_ids(records)
    if not ids:
        raise UsageError(
            f"--resume: no run is recorded in the journal ({store.where}); run "
            f"'manage.py {command}' without --resume."
        )
    wanted = run_id or ids[-1]
    if wanted not in ids:
        recent = ", ".join(reversed(ids[-5:]))
        raise UsageError(
            f"--resume {wanted}: no such run in the journal ({store.where}); the latest runs "
            f"are {recent}. Run 'manage.py {command} --resume' for the latest."
        )
    own = [r for r in records if r.get("run_id") == wanted]
    plans = [r for r in own if r.get("type") == "plan"]
    steps = {
        (r["level"], r["alias"], tuple(r["apps"]), r.get("target")): r
        for r in own
        if r.get("type") == "step"
    }
    finished = [r for r in own if r.get("type") == "finished"]
    last_attempt = max(int(r.get("attempt", 1)) for r in plans)
    finished_ok = any(r.get("ok") and int(r.get("attempt", 1)) == last_attempt for r in finished)
    return RecordedRun(wanted, plans[0], last_attempt, steps, finished_ok)


def plan_changes(
    recorded: Sequence[Record],
    now: Sequence[Record],
    everywhere_before: Sequence[str] = (),
    everywhere_now: Sequence[str] = (),
) -> list[str]:
    """What differs between a recorded plan's steps and today's, said for people."""

    def key(step: Record) -> str:
        return f"{step['alias']} ({', '.join(step['apps'])})"

    before = {key(s): s for s in recorded}
    after = {key(s): s for s in now}
    changes = [f"step {k} is new" for k in after if k not in before]
    changes += [f"step {k} is gone" for k in before if k not in after]
    for k in after:
        if k in before:
            new = sorted(set(after[k]["migrations"]) - set(before[k]["migrations"]))
            gone = sorted(set(before[k]["migrations"]) - set(after[k]["migrations"]))
            if new:
                changes.append(f"{k} has new migrations {', '.join(new)}")
            if gone:
                changes.append(f"{k} no longer has {', '.join(gone)}")
            if after[k]["level"] != before[k]["level"]:
                changes.append(f"{k} moved from level {before[k]['level']} to {after[k]['level']}")
    new_everywhere = sorted(set(everywhere_now) - set(everywhere_before))
    if new_everywhere and not changes:
        changes.append(
            "every alias it migrates would record the new migrations " + ", ".join(new_everywhere)
        )
    if not changes and [key(s) for s in recorded] != [key(s) for s in now]:
        changes.append("the steps are in another order")
    return changes


# -- recording a run --------------------------------------------------------------------------
@dataclass
class RunRecorder:
    """Writes a run's records and sends its signals. ``earlier``: the results of a resumed run's
    earlier attempts (on the aliases this attempt does not touch)."""

    sender: str
    store: Store | None
    secrets: tuple[str, ...] = ()
    run_id: str = field(default_factory=new_run_id)
    attempt: int = 1
    earlier: tuple[StepResult, ...] = ()
    order: tuple[Step, ...] = ()  # a resumed run's whole plan: the report's order
    recorded_steps: tuple[Record, ...] | None = None  # a resumed run's plan as first recorded
    recorded_everywhere: tuple[str, ...] = ()  # and what it records on every migrated alias

    def _write(self, record: Record, *, must: bool = False) -> None:
        if self.store is None:
            return
        record = {"run_id": self.run_id, "attempt": self.attempt, **record}
        try:
            self.store.append(record)
        except Exception as exc:
            if must:
                raise ConfigurationError(
                    f"Cannot write the run journal ({self.store.where}): "
                    f"{redact(first_line(exc), self.secrets)}. Fix MIGRATOR['JOURNAL'] (None "
                    "turns it off); nothing was migrated."
                ) from exc
            logger.error(
                "Cannot write the run journal (%s); the run goes on: %s",
                self.store.where,
                redact(first_line(exc), self.secrets),
            )

    def started(
        self,
        state: PlanState,
        names: Mapping[str, Iterable[str]],
        selection: Selection,
        options: RunOptions,
    ) -> None:
        """Before the first step: the plan record (a resumed run's: the steps first recorded,
        whose hash it was checked against)."""
        steps = (
            list(self.recorded_steps)
            if self.recorded_steps is not None
            else plan_steps(state.plan, names)
        )
        recorded = (
            list(self.recorded_everywhere)
            if self.recorded_steps is not None
            else everywhere(state.plan, names)
        )
        self._write(
            {
                "type": "plan",
                "time": datetime.now(timezone.utc).isoformat(),
                "hash": plan_hash(steps, recorded),
                "everywhere": recorded,
                "ordered": state.plan.ordered,
                "steps": steps,
                "selection": {
                    "databases": list(selection.databases),
                    "apps": list(selection.apps),
                    "target": list(selection.target) if selection.target else None,
                    "shard": str(state.shard) if state.shard else None,
                    "phase": state.phase,  # --phase: --resume runs the same phase
                },
                "options": {
                    "fake": options.fake,
                    "fake_initial": options.fake_initial,
                    "force_migrate": options.force_migrate,
                },
            },
            must=True,
        )
        hooks.send(
            hooks.run_started,
            self.sender,
            run_id=self.run_id,
            state=state,
            resumed=self.attempt > 1,
        )

    def step_done(self, result: StepResult) -> None:
        step = result.step
        self._write(
            {
                "type": "step",
                "level": step.level,
                "alias": step.alias,
                "apps": list(step.apps),
                "target": step.target,
                "status": result.status,
                "applied": _migrations(result.applied),
                "recorded": _migrations(result.recorded),
                "seconds": round(result.seconds, 3),
                "lock_wait": round(result.lock_wait, 3),
                "error": redact(result.error, self.secrets) if result.error else None,
                "failed_migration": result.failed_migration,
                # MIGRATOR["LOCK_RETRIES"]: the retries of migrations that could not get a lock
                **(
                    {
                        "retries": [
                            {**asdict(r), "error": redact(r.error, self.secrets)}
                            for r in result.retries
                        ]
                    }
                    if result.retries
                    else {}
                ),
            }
        )
        # Receivers post to chats and dashboards: they get the result scrubbed of passwords, as
        # the journal and the command's output have it.
        scrubbed = replace(
            result,
            error=redact(result.error, self.secrets) if result.error else result.error,
            traceback=redact(result.traceback, self.secrets) if result.traceback else "",
            executed_sql=tuple(redact(sql, self.secrets) for sql in result.executed_sql),
        )
        hooks.send(hooks.step_finished, self.sender, run_id=self.run_id, result=scrubbed)

    def watching(self, report: Callable[[Progress], None]) -> Callable[[Progress], None]:
        """``report`` that also records each finished step (serial and --parallel alike: the
        workers' step-done events arrive here, in the command's process)."""

        def progress(event: Progress) -> None:
            if event.event == "step-done" and event.result is not None:
                self.step_done(event.result)
            report(event)

        return progress

    def finished(
        self, state: PlanState, results: Sequence[StepResult], stopped_by: str | None = None
    ) -> RunReport:
        """After the last step: the whole run's report (earlier attempts first)."""
        every = self.whole(results)
        report = RunReport(state=state, results=every)
        self._write({"type": "finished", "ok": report.ok, "signal": stopped_by})
        hooks.send(hooks.run_finished, self.sender, run_id=self.run_id, report=report)
        return report

    def whole(self, results: Sequence[StepResult]) -> tuple[StepResult, ...]:
        every = (*self.earlier, *results)
        if not self.order:
            return every
        rank = {step: index for index, step in enumerate(self.order)}
        return tuple(sorted(every, key=lambda r: rank.get(r.step, len(rank))))


def resumed(
    recorder: RunRecorder, run: RecordedRun, plan: Plan, done: Iterable[str]
) -> RunRecorder:
    """The recorder of another attempt of ``run``: its id, the next attempt number, and the
    earlier results of the ``done`` aliases."""
    return replace(
        recorder,
        run_id=run.run_id,
        attempt=run.attempts + 1,
        earlier=tuple(run.earlier_results(plan.steps, done)),
        order=plan.steps,
        recorded_steps=tuple(run.plan["steps"]),
        recorded_everywhere=tuple(run.plan.get("everywhere", ())),
    )
