"""``--executor celery``: the plan's steps as Celery tasks on a named queue, run by ordinary
Celery workers on any number of machines with the project's settings (imported only when
chosen; the ``[celery]`` extra).

The command sends each runnable step of a level (never two whose lock scopes overlap at once)
as a ``migrator.run_step`` task whose message describes the step in JSON: its state as planned,
the alias (never its password), the run's flags, and the names and content hashes of the
migration files of the apps it touches. The worker refuses a step whose files differ from the
plan's; otherwise it runs it with the same engine as a local run (``step.run_step``: the
alias's lock, then Django's executor, which reads ``django_migrations`` again under the lock, so
a retried step skips what a killed predecessor committed). Progress comes back through the
result backend (``update_state``), with a heartbeat every ``HEARTBEAT`` seconds; on a Redis
broker the heartbeat also keeps the message's visibility timeout from expiring while the step
runs, so only a dead worker's step is delivered again (after the broker's
``visibility_timeout``). A step whose worker is silent for ``STEP_TIMEOUT`` seconds fails,
naming the worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from celery import Celery, shared_task
from celery.result import AsyncResult
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.utils.module_loading import import_string

from migrator import conf
from migrator.exceptions import ConfigurationError
from migrator.execution.step import (
    ProgressCallback,
    first_on_alias,
    log_result,
    run_step,
    scrubbed_traceback,
)
from migrator.execution.workers import _scopes, committed, next_startable
from migrator.history import read_applied
from migrator.project.databases import database_keys
from migrator.project.targets import load_targets
from migrator.text import first_line
from migrator.types import (
    AliasInfo,
    LockRetries,
    PendingMigration,
    PlanState,
    Progress,
    Retry,
    RunOptions,
    Step,
    StepResult,
    StepState,
)

TASK = "migrator.run_step"

# The Redis broker options migrator documents for the project's Celery app
# (``broker_transport_options``): a step whose worker died (its heartbeat stopped) is delivered
# again within ``visibility_timeout`` + ``unacked_restore_interval`` * ``unacked_restore_throttle``
# seconds (65 s); kombu's defaults (3600 s, and a sweep every 100 s) would leave it an hour.
REDIS_TRANSPORT_OPTIONS = {
    "visibility_timeout": 60,
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
}
POLL = 0.2  # seconds between two looks at the running steps' states


# -- the message: a step as JSON -------------------------------------------------------------


def _items(items: Sequence[PendingMigration]) -> list[list[Any]]:
    return [[m.app, m.name, m.backwards] for m in items]


def _pending(items: Sequence[Sequence[Any]]) -> tuple[PendingMigration, ...]:
    return tuple(PendingMigration(str(a), str(n), bool(b)) for a, n, b in items)


def _step_json(step: Step) -> dict[str, Any]:
    return {
        "alias": step.alias,
        "apps": list(step.apps),
        "level": step.level,
        "target": step.target,
    }


def _step(data: Mapping[str, Any]) -> Step:
    return Step(str(data["alias"]), tuple(data["apps"]), int(data["level"]), data.get("target"))


def migration_files(loader: MigrationLoader, apps: Sequence[str]) -> dict[str, str]:
    """``{"app.name": sha256 of its file}`` for every migration of ``apps`` on disk."""
    files: dict[str, str] = {}
    for (app, name), migration in loader.disk_migrations.items():
        if app not in apps:
            continue
        path = getattr(sys.modules.get(type(migration).__module__), "__file__", None)
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else ""
        files[f"{app}.{name}"] = digest
    return dict(sorted(files.items()))


def _apps_of(state: StepState) -> list[str]:
    items = (*state.pending, *state.recorded, *state.alias_plan)
    return sorted({*state.step.apps, *(m.app for m in items)})


def message(
    state: StepState,
    info: AliasInfo,
    options: RunOptions,
    first: bool,
    loader: MigrationLoader,
) -> dict[str, Any]:
    """What a worker needs to run the step: JSON, no password."""
    return {
        "step": _step_json(state.step),
        "pending": _items(state.pending),
        "recorded_dependencies": _items(state.recorded_dependencies),
        "record_after": _items(state.record_after),
        "last": state.last,
        "alias_plan": _items(state.alias_plan),
        "held": _items(state.held),  # --phase pre: left out of the step's executor pass
        "info": {**asdict(info), "scope": list(info.scope)},
        "options": {
            "fake": options.fake,
            "fake_initial": options.fake_initial,
            "force_migrate": options.force_migrate,
            "lock_timeout": options.lock_timeout,
            "session": dict(options.session.get(state.step.alias, {})),
            "lock_retries": _retries_json(options.lock_retries.get(state.step.alias)),
        },
        "first": first,
        "files": migration_files(loader, _apps_of(state)),
        "database": database_digest(state.step.alias),
    }


def _retries_json(setting: LockRetries | None) -> dict[str, Any] | None:
    """The step's MIGRATOR["LOCK_RETRIES"], as the command's settings have it (None: off)."""
    return None if setting is None else asdict(setting)


def _retries_setting(data: Mapping[str, Any] | None) -> LockRetries | None:
    return None if not data else LockRetries(**data)


def database_digest(alias: str) -> str:
    """What ``alias`` connects to in this process's settings (ENGINE, HOST, PORT, NAME, OPTIONS,
    aliases from code and ``MIGRATOR["DIRECT"]`` included), hashed: never shown or sent as is."""
    return hashlib.sha256(database_keys().get(alias, "").encode()).hexdigest()


def result_json(result: StepResult, worker: str) -> dict[str, Any]:
    return {
        "status": result.status,
        "applied": _items(result.applied),
        "recorded": _items(result.recorded),
        "seconds": result.seconds,
        "error": result.error,
        "lock_wait": result.lock_wait,
        "failed_migration": result.failed_migration,
        "executed_sql": list(result.executed_sql),
        "traceback": result.traceback,
        "worker": worker,
        "retries": [asdict(retry) for retry in result.retries],
    }


def result_of(step: Step, data: Mapping[str, Any]) -> StepResult:
    return StepResult(
        step,
        data["status"],
        applied=_pending(data["applied"]),
        recorded=_pending(data["recorded"]),
        seconds=float(data["seconds"]),
        error=data["error"],
        lock_wait=float(data["lock_wait"]),
        failed_migration=data["failed_migration"],
        executed_sql=tuple(data["executed_sql"]),
        traceback=str(data["traceback"]),
        worker=str(data.get("worker") or ""),
        retries=tuple(Retry(**retry) for retry in data.get("retries") or ()),
    )


def _progress_json(progress: Progress) -> dict[str, Any]:
    m = progress.migration
    return {
        "event": progress.event,
        "migration": None if m is None else [m.app, m.name, m.backwards],
        "fake": progress.fake,
        "detail": progress.detail,
    }


def _progress(step: Step, data: Mapping[str, Any]) -> Progress:
    m = data.get("migration")
    migration = None if m is None else PendingMigration(str(m[0]), str(m[1]), bool(m[2]))
    return Progress(
        data["event"], step, migration=migration, fake=bool(data["fake"]), detail=data["detail"]
    )


# -- the worker side -------------------------------------------------------------------------

_LOADER: list[MigrationLoader] = []  # one graph per worker process
# The migration files as they were when that graph imported them: what the worker really runs.
_LOADED_FILES: dict[str, str] = {}


def worker_name(task: Any) -> str:
    """``hostname pid``: the Celery node name and the process that runs the step."""
    hostname = getattr(task.request, "hostname", None) or socket.gethostname()
    return f"{hostname} pid {os.getpid()}"


def refused_files(plan: Mapping[str, str], here: Mapping[str, str]) -> list[str]:
    """The migration files that differ between the plan's machine and this worker."""
    problems = []
    for key in sorted(set(plan) | set(here)):
        if key not in here:
            problems.append(f"{key} is missing here")
        elif key not in plan:
            problems.append(f"{key} is here but not in the plan")
        elif plan[key] != here[key]:
            problems.append(f"{key} differs (content hash)")
    return problems


class _Heartbeat:
    """While a step runs: its progress events and a beat every ``every`` seconds, in the task's
    result (``update_state``); on a Redis broker each beat also moves the message's visibility
    deadline on, so that a step longer than ``visibility_timeout`` is not delivered again while
    its worker lives."""

    def __init__(self, task: Any, worker: str, every: float) -> None:
        self.task = task
        # task.request is thread-local: what the beats need is read here, in the task's thread.
        self.task_id = task.request.id
        self.tag = _delivery_tag(task)
        self.worker = worker
        self.every = every
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.beat()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()

    def add(self, progress: Progress) -> None:
        if progress.event == "step-done":
            return
        with self.lock:
            self.events.append(_progress_json(progress))
        self.beat()

    def beat(self) -> None:
        with self.lock:
            meta = {"worker": self.worker, "events": list(self.events), "beat": time.time()}
        self.task.update_state(task_id=self.task_id, state="PROGRESS", meta=meta)
        _extend_visibility(self.task.app, self.tag)

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.beat()
            except Exception:  # a missed beat is only late; the next one tries again
                continue


def _delivery_tag(task: Any) -> str | None:
    """The message's tag on a Redis broker (None on others), read in the task's own thread
    (``task.request`` is thread-local)."""
    if not str(task.app.conf.broker_url or "").startswith(("redis://", "rediss://")):
        return None
    # kombu's virtual transports keep the tag in the message's properties (Celery's
    # delivery_info leaves it out).
    properties = getattr(task.request, "properties", None) or {}
    tag = properties.get("delivery_tag") or (task.request.delivery_info or {}).get("delivery_tag")
    return str(tag) if tag else None


def _extend_visibility(app: Any, tag: str | None) -> None:
    """Redis broker: move the message's entry in the unacked index to now (kombu restores
    messages whose entry is older than ``visibility_timeout``)."""
    if not tag:
        return
    options = app.conf.broker_transport_options or {}
    key = options.get("unacked_index_key", "unacked_index")
    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        if client.zscore(key, tag) is not None:  # None: acknowledged, or delivered again
            client.zadd(key, {tag: time.time()})


@shared_task(name=TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
def run_step_task(self: Any, data: dict[str, Any]) -> dict[str, Any]:
    """One step on this worker (see the module's docstring)."""
    worker = worker_name(self)
    step = _step(data["step"])
    done: AsyncResult[Any] = AsyncResult(self.request.id, app=self.app)
    if done.state == "SUCCESS" and isinstance(done.info, dict):
        return done.info  # delivered again after it finished: never run twice
    if str(done.state) == "REVOKED":  # the command gave up on it (stopped, or timed out)
        error = "not started: the run that sent it gave up on it (revoked); run again"
        return result_json(StepResult(step, "skipped", error=error), worker)
    load_targets()  # aliases from code exist on the worker too
    if not _LOADER:
        _LOADER.append(MigrationLoader(None, ignore_no_migrations=True))
        everything = sorted({app for app, _ in _LOADER[0].disk_migrations})
        _LOADED_FILES.update(migration_files(_LOADER[0], everything))
    loader = _LOADER[0]
    apps = sorted({key.partition(".")[0] for key in data["files"]} | set(step.apps))
    on_disk = migration_files(loader, apps)
    loaded = {key: digest for key, digest in _LOADED_FILES.items() if key.partition(".")[0] in apps}
    # Files changed on disk since this worker imported them: it would run the old code.
    differ = refused_files(data["files"], loaded) or refused_files(on_disk, loaded)
    if differ:
        error = (
            f"MigrationFilesDiffer: worker {worker} refused the step: its migration files "
            f"differ from the plan's: {'; '.join(differ)}. Deploy the same code to every "
            "worker (and restart them), then run again"
        )
        return result_json(StepResult(step, "failed", error=error), worker)
    if "database" in data and data["database"] != database_digest(step.alias):
        # Its settings would migrate another database than the one the command planned and
        # checked (a tenant moved, other DIRECT or DATABASES settings): never silently.
        error = (
            f"DatabaseDiffers: worker {worker} refused the step: its settings connect "
            f"{step.alias} to another database than the command's (ENGINE, HOST, PORT, NAME or "
            "OPTIONS differ, MIGRATOR['DATABASES'] and MIGRATOR['DIRECT'] included). Give every "
            "worker the command's settings (and restart them: aliases from code are read once "
            "per worker process), then run again"
        )
        return result_json(StepResult(step, "failed", error=error), worker)
    state = StepState(
        step=step,
        pending=_pending(data["pending"]),
        recorded_dependencies=_pending(data["recorded_dependencies"]),
        record_after=_pending(data["record_after"]),
        last=bool(data["last"]),
        alias_plan=_pending(data["alias_plan"]),
        held=_pending(data.get("held") or []),
    )
    raw_info = dict(data["info"])
    raw_info["scope"] = tuple(raw_info.get("scope") or ())
    info = AliasInfo(**raw_info)
    raw = data["options"]
    options = RunOptions(
        fake=bool(raw["fake"]),
        fake_initial=bool(raw["fake_initial"]),
        interactive=False,
        force_migrate=bool(raw["force_migrate"]),
        lock_timeout=raw["lock_timeout"],
        session={step.alias: dict(raw["session"])} if raw["session"] else {},
    )
    retries = _retries_setting(raw.get("lock_retries"))
    if retries is not None:
        options = replace(options, lock_retries={step.alias: retries})
    every = float(data.get("heartbeat") or 2.0)
    heartbeat = _Heartbeat(self, worker, every)
    try:
        with heartbeat:
            result = run_step(
                state, info, options, heartbeat.add, loader=loader, first=bool(data["first"])
            )
        if result.status in ("applied", "up-to-date") and state.has_work:
            # A retried step: what a killed predecessor committed counts as this step's work.
            result = _with_committed(state, result, loader)
    except BaseException as exc:  # a worker must always answer
        error = f"{type(exc).__name__}: {first_line(exc)}"
        result = StepResult(step, "failed", error=error, traceback=scrubbed_traceback(exc))
    finally:
        connections.close_all()
    # The events the command has not seen yet come with the result (it replaces the progress).
    return {**result_json(result, worker), "events": heartbeat.events}


def _with_committed(state: StepState, result: StepResult, loader: MigrationLoader) -> StepResult:
    """The step's work as ``django_migrations`` shows it done: a retry finds done what its
    killed predecessor committed (and does not apply it again)."""
    rows = read_applied(state.step.alias)
    replaces = {
        key: [(str(a), str(n)) for a, n in migration.replaces]
        for key, migration in loader.disk_migrations.items()
        if migration.replaces
    }
    applied, recorded = committed(state, rows, replaces)
    if len(applied) <= len(result.applied) and len(recorded) <= len(result.recorded):
        return result
    return replace(result, status="applied", applied=applied, recorded=recorded)


# -- the command side ------------------------------------------------------------------------


@dataclass(frozen=True)
class CelerySettings:
    """``MIGRATOR["CELERY"]``."""

    app: str  # dotted path of the project's Celery app
    queue: str = "migrator"
    step_timeout: float = 600.0  # seconds a started step's worker may stay silent
    heartbeat: float = 2.0  # seconds between a running step's beats


def celery_settings() -> CelerySettings:
    raw = conf.celery_raw()
    if raw is None:
        raise ConfigurationError(
            "--executor celery needs MIGRATOR['CELERY'] = {'APP': 'myproject.celery.app', "
            "'QUEUE': 'migrator'} in settings: the Celery app whose workers run the steps."
        )
    return CelerySettings(
        app=raw["APP"],
        queue=raw.get("QUEUE", "migrator"),
        step_timeout=raw.get("STEP_TIMEOUT", 600.0),
        heartbeat=raw.get("HEARTBEAT", 2.0),
    )


def celery_app(path: str) -> Celery:
    try:
        app = import_string(path)
    except ImportError as exc:
        raise ConfigurationError(
            f"MIGRATOR['CELERY']['APP'] = {path!r}: cannot import it ({first_line(exc)}); name "
            "the project's Celery app, e.g. 'myproject.celery.app'."
        ) from None
    if not isinstance(app, Celery):
        raise ConfigurationError(
            f"MIGRATOR['CELERY']['APP'] = {path!r} is a {type(app).__name__}, not a Celery app."
        )
    return app


def redelivery_seconds(app: Celery) -> float | None:
    """On a Redis broker, how long a dead worker's step may take to come back: the
    ``visibility_timeout`` plus kombu's sweep period; None on other brokers (RabbitMQ
    redelivers when the worker's connection drops)."""
    if not str(app.conf.broker_url or "").startswith(("redis://", "rediss://")):
        return None
    options = app.conf.broker_transport_options or {}
    return float(options.get("visibility_timeout", 3600)) + float(
        options.get("unacked_restore_interval", 10)
    ) * float(options.get("unacked_restore_throttle", 10))


def check_app(app: Celery, settings: CelerySettings) -> None:
    """STEP_TIMEOUT must outlast a Redis redelivery, or a killed worker's step fails instead of
    being retried."""
    back = redelivery_seconds(app)
    prefetch = app.conf.worker_prefetch_multiplier
    if back is not None and prefetch != 1:
        raise ConfigurationError(
            f"The Celery app's worker_prefetch_multiplier is {prefetch}: on the Redis broker a "
            "step a worker reserved but has not started comes back after visibility_timeout and "
            "may then run twice at once (one waits for the other's lock); set "
            "worker_prefetch_multiplier=1 in the app's configuration (and start the workers "
            "with --prefetch-multiplier 1)."
        )
    if back is not None and back >= settings.step_timeout:
        raise ConfigurationError(
            f"MIGRATOR['CELERY']['STEP_TIMEOUT'] = {settings.step_timeout:g} is shorter than the "
            f"{back:g}s a dead worker's step takes to come back on the Redis broker "
            "(visibility_timeout + unacked_restore_interval x unacked_restore_throttle of "
            "broker_transport_options); use REDIS_TRANSPORT_OPTIONS "
            "(migrator.execution.celery_steps) or a longer STEP_TIMEOUT."
        )


class _Sent:
    """A step sent to the queue: its task, what was reported of it, when it was last heard of."""

    def __init__(self, step: Step, task: AsyncResult[Any], now: float) -> None:
        self.step = step
        self.task = task
        self.seen = 0  # events reported
        self.heard = now  # last beat or event (or sending)
        self.beat = 0.0
        self.worker = ""
        self.started = False
        self.retried = False  # delivered again after its worker died: its start was printed
        self.revoked = ""  # revoked while queued (the run stops): the reason it is skipped


def run_celery(
    state: PlanState,
    options: RunOptions,
    report: ProgressCallback,
    fail_fast: bool,
    loader: MigrationLoader | None,
    skip_reason: Callable[[Step, Mapping[Step, StepResult]], str | None],
) -> tuple[StepResult, ...]:
    """The levels in order, each level's runnable steps on the queue at once (never two with
    overlapping lock scopes); results as a local run's."""
    settings = celery_settings()
    app = celery_app(settings.app)
    check_app(app, settings)
    graph = loader or MigrationLoader(None, ignore_no_migrations=True)
    plan = state.plan
    scopes = _scopes(plan)
    results: dict[Step, StepResult] = {}
    started: set[str] = set()

    def why_not(step: Step, results: Mapping[Step, StepResult]) -> str:
        """A step left unsent (or revoked while queued) because the run stops."""
        return skip_reason(step, results) or "not started: the run was interrupted"

    for level in plan.levels:
        waiting: list[Step] = []
        for step in level:
            reason = skip_reason(step, results)
            if reason is None:
                waiting.append(step)
                continue
            results[step] = StepResult(step, "skipped", error=reason)
            report(Progress("step-done", step, result=results[step]))
        running: dict[Step, _Sent] = {}
        last_heard = time.monotonic()
        while waiting or running:
            stopping = (options.should_stop and options.should_stop()) or (
                fail_fast and any(r.status == "failed" for r in results.values())
            )
            if stopping:
                for step in waiting:
                    results[step] = StepResult(step, "skipped", error=why_not(step, results))
                    report(Progress("step-done", step, result=results[step]))
                waiting.clear()
                # Queued steps are revoked; a worker discards each when it reaches it (the
                # result says REVOKED), unless it had just started it: then it finishes.
                queued = [s for s in running.values() if not s.started and not s.revoked]
                for sent in queued:
                    sent.revoked = why_not(sent.step, results)
                    _give_up(sent)
                if queued:
                    busy = len(running) - len(queued)
                    detail = (
                        f"Stopping: no further step is sent; {len(queued)} queued revoked; "
                        f"waiting for the {busy} running on workers."
                    )
                    report(Progress("notice", queued[0].step, detail=detail))
            while waiting:
                chosen = next_startable(waiting, running, scopes)
                if chosen is None:
                    break
                waiting.remove(chosen)
                step_state = state.state(chosen)
                if not step_state.has_work and not options.force_migrate:
                    results[chosen] = StepResult(chosen, "up-to-date")
                    report(Progress("step-done", chosen, result=results[chosen]))
                    continue
                first = first_on_alias(step_state, options, started)
                body = message(step_state, plan.alias_info(chosen.alias), options, first, graph)
                body["heartbeat"] = settings.heartbeat
                task = app.send_task(TASK, args=[body], queue=settings.queue)
                running[chosen] = _Sent(chosen, task, time.monotonic())
            time.sleep(POLL)
            now = time.monotonic()
            for step, sent in list(running.items()):
                done = _look(sent, report, now)
                if done is not None:
                    last_heard = now  # a worker answered: the queue moves
                elif sent.started:
                    last_heard = max(last_heard, sent.heard)
                if done is None:
                    done = _silent(sent, settings, now, last_heard)
                if done is None:
                    continue
                running.pop(step)
                results[step] = done
                log_result(done)
                report(Progress("step-done", step, result=done))
    return tuple(results[step] for step in plan.steps)


def _look(sent: _Sent, report: ProgressCallback, now: float) -> StepResult | None:
    """Report what is new of a sent step; its result once it has one."""
    task = sent.task
    status: str = task.state  # "PROGRESS": the task's own state (update_state)
    info = task.info
    if status == "PROGRESS" and isinstance(info, dict):
        sent.started = True
        if info.get("worker") != sent.worker:
            if sent.worker:  # another worker runs it again: its events start over
                sent.retried, sent.seen = True, 0
            sent.worker = str(info.get("worker"))
        beat = float(info.get("beat") or 0)
        if beat != sent.beat:
            sent.beat, sent.heard = beat, now
        _report_new(sent, info, report)
        return None
    if status == "SUCCESS" and isinstance(info, dict):
        if sent.worker and info.get("worker") != sent.worker:
            sent.retried, sent.seen = True, 0
        _report_new(sent, info, report)
        return result_of(sent.step, info)
    if status == "REVOKED":
        return StepResult(sent.step, "skipped", error=sent.revoked or "revoked")
    if status == "FAILURE":
        error = f"{type(info).__name__}: {first_line(info)}"
        where = f" on worker {sent.worker}" if sent.worker else ""
        return StepResult(sent.step, "failed", error=f"{error}{where}", worker=sent.worker)
    return None


def _report_new(sent: _Sent, info: Mapping[str, Any], report: ProgressCallback) -> None:
    for event in list(info.get("events") or [])[sent.seen :]:
        sent.seen += 1
        if sent.retried and event["event"] == "step-start":
            continue  # a retried step's start: its "Migrating" line was printed
        report(_progress(sent.step, event))


def _give_up(sent: _Sent) -> None:
    """The command no longer waits for ``sent``: revoked on the workers that are up, and marked
    REVOKED in the result backend, so that a worker started later, or a Redis redelivery after
    the run, discards it instead of migrating while nobody watches."""
    sent.task.revoke()
    with contextlib.suppress(Exception):  # the backend unreachable: the revoke still went out
        sent.task.backend.mark_as_revoked(sent.task.id, reason="migrator: the run gave up on it")


def _silent(
    sent: _Sent, settings: CelerySettings, now: float, last_heard: float
) -> StepResult | None:
    """A step whose worker (or, still queued, every worker) stayed silent for STEP_TIMEOUT."""
    limit = settings.step_timeout
    if sent.started and now - sent.heard > limit:
        _give_up(sent)
        error = (
            f"WorkerTimeout: worker {sent.worker} did not answer for {limit:g}s "
            f"(MIGRATOR['CELERY']['STEP_TIMEOUT']) while running the step; check that worker. "
            "What it committed is recorded; run again to continue"
        )
        return StepResult(sent.step, "failed", error=error, worker=sent.worker)
    if not sent.started and now - max(last_heard, sent.heard) > limit:
        _give_up(sent)
        error = (
            f"WorkerTimeout: no worker took the step from queue {settings.queue!r} within "
            f"{limit:g}s (MIGRATOR['CELERY']['STEP_TIMEOUT']); start workers with 'celery -A "
            f"APP worker -Q {settings.queue}'"
        )
        return StepResult(sent.step, "failed", error=error)
    return None
