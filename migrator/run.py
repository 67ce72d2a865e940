"""Executes a plan: per step, one pass of Django's migration executor for the step's apps on the
step's alias, as Django's ``migrate`` runs it (``django_compat``)."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any, cast

from django.db import connections
from django.db.migrations.loader import MigrationLoader

from migrator import django_compat, preflight
from migrator.backends import (
    Guard,
    LockInterrupted,
    LockTimeout,
    LockWait,
    backend,
    lock_timeout_error,
)
from migrator.backends.sqlite import database_file
from migrator.config import DEFAULT_LOCK_TIMEOUT
from migrator.inspect import first_line, passwords, read_applied
from migrator.text import redact, secrets_of
from migrator.types import (
    AliasInfo,
    Event,
    PendingMigration,
    Plan,
    PlanState,
    Progress,
    RunOptions,
    Step,
    StepResult,
    StepState,
    StepStatus,
)

ProgressCallback = Callable[[Progress], None]

logger = logging.getLogger("migrator")


class Interrupted(Exception):
    """A stop was requested (SIGINT/SIGTERM): raised before the next migration starts."""


class LockLost(Exception):
    """The step's lock no longer holds (its connection died, a DBA ended it): raised before the
    next migration starts, and after one ends, so that no other run applies one twice."""


_ACTIONS = {
    "apply_start": (False, False),
    "apply_success": (False, True),
    "unapply_start": (True, False),
    "unapply_success": (True, True),
}


# In a --parallel worker, its signal handler (_WorkerStop): there a second SIGINT cuts the running
# migration short and ends the step, reported as interrupted.
_WORKER_STOP: _WorkerStop | None = None


def _ignore(progress: Progress) -> None:
    return None


def _never() -> str | None:
    return None


class _Tracker:
    """The executor's progress callback: reports the migrations that execute something on the
    alias, notes those only recorded, and stops between two migrations when asked to."""

    def __init__(
        self,
        state: StepState,
        report: ProgressCallback,
        should_stop: Callable[[], str | None],
        statements: list[str],
    ):
        self.state = state
        self.report = report
        self.should_stop = should_stop
        self.statements = statements
        self.executes = {(m.app, m.name) for m in state.pending}
        self.applied: list[PendingMigration] = []
        self.recorded: list[PendingMigration] = []
        self.current: PendingMigration | None = None
        self.lost: Callable[[], str | None] = _never  # the step's lock, once it is held

    def watch(self, when: str) -> None:
        """Raise ``LockLost`` when the step's lock no longer holds."""
        reason = self.lost()
        if reason:
            raise LockLost(f"lock lost on {self.state.step.alias} {when}: {reason}")

    def __call__(self, action: str, migration: Any = None, fake: bool = False) -> None:
        if migration is None or action not in _ACTIONS:
            return
        backwards, done = _ACTIONS[action]
        item = PendingMigration(migration.app_label, migration.name, backwards)
        if not done:
            stop = self.should_stop()
            if stop:
                raise Interrupted(f"stopped by {stop} before {item}")
            self.watch(f"before {item}")
            self.statements.clear()
            self.current = item
        else:
            self.current = None
        executes = (item.app, item.name) in self.executes
        if done:
            # Django ran it (a no-op where it executes nothing here) and recorded it.
            (self.applied if executes else self.recorded).append(item)
        if executes:
            event: Event = "migration-done" if done else "migration-start"
            self.report(Progress(event, self.state.step, migration=item, fake=fake))


def _targets(state: StepState, loader: MigrationLoader) -> list[tuple[str, str | None]]:
    """Django's ``migrate`` targets for the step's apps (``migrate APP [NAME]``, one per app)."""
    step = state.step
    if step.target == "zero":
        return [(app, None) for app in step.apps]
    if step.target:
        return [(app, step.target) for app in step.apps]
    apps = set(step.apps)
    return sorted(key for key in loader.graph.leaf_nodes() if key[0] in apps)


def _execute(
    state: StepState,
    loader: MigrationLoader,
    options: RunOptions,
    tracker: _Tracker,
    first: bool,
    guard: Callable[[Any, bool], AbstractContextManager[None]],
) -> None:
    """One executor pass for the step's apps, then what only needs recording, then the signals:
    what ``migrate --database X`` does, over the whole run on the alias."""
    step = state.step
    connection = connections[step.alias]
    executor = django_compat.SharedGraphExecutor(
        connection, django_compat.loader_for(connection, loader), tracker, guard
    )
    graph_loader = executor.loader
    alias_plan = django_compat.plan_of(
        graph_loader, ((m.app, m.name, m.backwards) for m in state.alias_plan)
    )
    start_state = None
    if first:
        start_state = executor.applied_state()
        django_compat.send_pre_migrate(
            step.alias, start_state.apps, alias_plan, interactive=options.interactive
        )
    targets = _targets(state, graph_loader)
    plan = executor.migration_plan(targets)
    if plan or start_state is not None:
        executor.migrate(
            targets,
            plan=plan,
            state=start_state.clone() if start_state is not None else None,
            fake=options.fake,
            fake_initial=options.fake_initial,
        )
    if state.record_after:
        executor.refresh()
        applied = executor.loader.applied_migrations
        # Rows only, no SQL of the migrations: a stop request waits until they are written, so
        # that an alias whose migrations all ran ends with Django's history.
        # A squashed migration records what it replaces: skip what is recorded meanwhile.
        todo = [item for item in state.record_after if (item.app, item.name) not in applied]
        if todo:
            tracker.watch("before recording " + ", ".join(map(str, todo)))
        executor.record([graph_loader.disk_migrations[(m.app, m.name)] for m in todo])
        tracker.recorded.extend(todo)
        executor.check_replacements()
    if state.last:
        django_compat.send_post_migrate(
            step.alias,
            django_compat.post_migrate_apps(executor),
            alias_plan,
            interactive=options.interactive,
        )


def run_step(
    state: StepState,
    info: AliasInfo,
    options: RunOptions,
    report: ProgressCallback = _ignore,
    *,
    loader: MigrationLoader | None = None,
    first: bool = True,
) -> StepResult:
    """Run one step; a step with nothing to apply or record is not run unless forced.

    ``first``: the run's first step on this alias (``pre_migrate`` is sent before it);
    ``post_migrate`` follows the alias's last step (``state.last``).
    """
    step = state.step
    if not state.has_work and not options.force_migrate:
        result = StepResult(step, "up-to-date")
        report(Progress("step-done", step, result=result))
        return result
    report(Progress("step-start", step))
    statements: list[str] = []  # SQL run for the current migration (MySQL repair hints)

    def record_sql(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql if not params else f"{sql} -- params: {params!r}")
        return execute(sql, params, many, context)

    should_stop = options.should_stop or _never
    tracker = _Tracker(state, report, should_stop, statements)
    if _WORKER_STOP is not None:
        _WORKER_STOP.tracker = tracker
    started = time.monotonic()
    error = None
    trace = ""
    status: StepStatus | None = None
    waited = 0.0
    vendor = backend(info.vendor)
    lock_timeout = DEFAULT_LOCK_TIMEOUT if options.lock_timeout is None else options.lock_timeout

    def waiting(holder: str) -> None:
        detail = f"{holder}; waiting up to {lock_timeout:g}s"
        report(Progress("lock-wait", step, detail=detail))

    values = options.session.get(step.alias, {})
    try:
        graph = loader or MigrationLoader(None, ignore_no_migrations=True)
        wait = LockWait(should_stop, waiting)
        with vendor.lock(info, lock_timeout, wait) as lock:
            waited = lock.waited
            tracker.lost = lock.lost

            def guard(migration: Any, backwards: bool) -> AbstractContextManager[None]:
                return vendor.guard(
                    Guard(step.alias, lock.scope, migration, backwards, values, lock_timeout, wait)
                )

            with connections[step.alias].execute_wrapper(record_sql):
                stop = should_stop()
                if stop:
                    raise Interrupted(f"stopped by {stop} before {', '.join(step.apps)}")
                _execute(state, graph, options, tracker, first, guard)
    except Interrupted as exc:
        error, status = f"Interrupted: {exc}", "interrupted"
        tracker.current = None
    except KeyboardInterrupt:
        if _WORKER_STOP is None:
            raise  # the command's own second Ctrl-C: it ends the command (the menu reports it)
        during = f" during {tracker.current}" if tracker.current else ""
        error = (
            f"Interrupted: stopped at once by a second SIGINT{during}; it rolled back where the "
            "database can"
        )
        status = "interrupted"
    except LockInterrupted as exc:
        error = f"Interrupted: stopped by {exc} while waiting for the lock on {step.alias}"
        status = "interrupted"
    except LockLost as exc:
        error = (
            f"LockLost: {exc}. Stopped, so that no other run applies a migration twice; what "
            "was applied is recorded. Run again to continue"
        )
    except LockTimeout as exc:
        error = lock_timeout_error(step.alias, lock_timeout, exc)
    except Exception as exc:
        error = f"{type(exc).__name__}: {first_line(exc)}"
        trace = scrubbed_traceback(exc)
    seconds = time.monotonic() - started
    applied = tracker.applied
    if status is None:
        status = "failed" if error else ("applied" if applied or tracker.recorded else "up-to-date")
    current = tracker.current
    # MySQL/MariaDB DDL is not transactional: show what already ran of the failed migration.
    executed = (
        tuple(statements) if status == "failed" and current and info.vendor == "mysql" else ()
    )
    result = StepResult(
        step,
        status,
        applied=tuple(applied),
        recorded=tuple(tracker.recorded),
        seconds=seconds,
        error=error,
        lock_wait=waited,
        failed_migration=str(current) if error and current else None,
        executed_sql=executed,
        traceback=trace,
    )
    _log(result)
    report(Progress("step-done", step, result=result))
    return result


def scrubbed_traceback(exc: BaseException) -> str:
    """``exc``'s formatted traceback (its causes included), every form of every configured
    password replaced: it goes to the output and the logs."""
    text = "".join(traceback.format_exception(exc)).rstrip()
    return redact(text, secrets_of(passwords()))


def _log(result: StepResult) -> None:
    """What Django's ``migrate`` leaves to its output, for the ``migrator`` logger too (a handler
    is the project's choice, as for Django's own loggers)."""
    step = result.step
    where = f"{step.alias} ({', '.join(step.apps)})"
    if result.status == "failed":
        at = f" at {result.failed_migration}" if result.failed_migration else ""
        trace = f"\n{result.traceback}" if result.traceback else ""
        logger.error("%s failed%s: %s%s", where, at, result.error, trace)
    elif result.status == "interrupted":
        logger.warning("%s interrupted: %s", where, result.error)
    elif result.status == "applied":
        logger.info(
            "%s: %d applied, %d recorded in %.3fs",
            where,
            len(result.applied),
            len(result.recorded),
            result.seconds,
        )


def skip_reason(
    step: Step, plan: Plan, results: Mapping[Step, StepResult], fail_fast: bool
) -> str | None:
    """Why ``step`` must not start, given the results so far; None when it may run."""
    for required in sorted(plan.requires.get(step, ()), key=plan.steps.index):
        done = results.get(required)
        if done is not None and done.status in ("failed", "skipped", "interrupted"):
            verb = {"failed": "failed", "skipped": "was skipped", "interrupted": "was interrupted"}[
                done.status
            ]
            return f"depends on {required.alias} ({', '.join(required.apps)}), which {verb}"
    interrupted = [r for r in results.values() if r.status == "interrupted"]
    if interrupted:
        return "not started: the run was interrupted"
    if fail_fast:
        failed = [r for r in results.values() if r.status == "failed"]
        if failed:
            return f"not started: --fail-fast after {failed[0].step.alias} failed"
    return None


def run_plan(
    state: PlanState,
    options: RunOptions,
    report: ProgressCallback = _ignore,
    *,
    parallel: int = 1,
    fail_fast: bool = False,
    loader: MigrationLoader | None = None,
) -> tuple[StepResult, ...]:
    """Run the levels in order. A failed step's dependents are skipped (with the reason); steps
    that do not depend on it still run, unless ``fail_fast``. With ``parallel`` > 1 the steps of
    one level run at the same time in forked worker processes."""
    if loader is None and (
        options.force_migrate or any(step_state.has_work for step_state in state.states)
    ):
        loader = MigrationLoader(None, ignore_no_migrations=True)
    if parallel > 1 and not fork_available() and any(len(level) > 1 for level in state.plan.levels):
        # Said once, before the first step, and only where steps could have run at once.
        report(Progress("notice", state.plan.steps[0], detail=no_fork_notice(parallel)))
        parallel = 1
    return _run_levels(state, options, report, parallel, fail_fast, loader)


def fork_available() -> bool:
    """Whether this platform can fork worker processes (Windows cannot: it only spawns)."""
    return "fork" in multiprocessing.get_all_start_methods()


def no_fork_notice(parallel: int) -> str:
    return (
        f"Running the steps one after another instead of in {parallel} parallel workers: this "
        "platform has no 'fork' start method (multiprocessing), which the workers need."
    )


def _run_levels(
    state: PlanState,
    options: RunOptions,
    report: ProgressCallback,
    parallel: int,
    fail_fast: bool,
    loader: MigrationLoader | None,
) -> tuple[StepResult, ...]:
    plan = state.plan
    results: dict[Step, StepResult] = {}
    started: set[str] = set()  # aliases whose first step has run (pre_migrate was sent)
    for level in plan.levels:
        runnable = []
        for step in level:
            reason = skip_reason(step, plan, results, fail_fast)
            if reason is None:
                runnable.append(step)
                continue
            results[step] = StepResult(step, "skipped", error=reason)
            report(Progress("step-done", step, result=results[step]))
        if parallel > 1 and len(runnable) > 1 and _can_fork(state, runnable):
            forked = _run_forked(
                state, runnable, options, report, parallel, fail_fast, loader, started
            )
            for result in forked:
                results[result.step] = result
            continue
        for step in runnable:
            reason = skip_reason(step, plan, results, fail_fast)
            if reason is not None:
                results[step] = StepResult(step, "skipped", error=reason)
                report(Progress("step-done", step, result=results[step]))
                continue
            info = plan.alias_info(step.alias)
            first = _first_on_alias(state.state(step), options, started)
            results[step] = run_step(
                state.state(step), info, options, report, loader=loader, first=first
            )
    return tuple(results[step] for step in plan.steps)


def _first_on_alias(step_state: StepState, options: RunOptions, started: set[str]) -> bool:
    """Whether this step is the first of the run to work on its alias (``pre_migrate`` goes
    before it); steps with nothing to do are not run, so they do not count."""
    alias = step_state.step.alias
    if alias in started or not (step_state.has_work or options.force_migrate):
        return False
    started.add(alias)
    return True


def _can_fork(state: PlanState, steps: list[Step]) -> bool:
    """Forked workers need the fork start method, databases another process can reach, and two
    steps that may run at once (scopes that do not overlap): otherwise the level runs serially."""
    if not fork_available():
        return False
    if any(
        info.vendor == "sqlite" and database_file(info) is None
        for info in (state.plan.alias_info(step.alias) for step in steps)
    ):
        return False
    scopes = _scopes(state.plan)
    return any(
        not overlap(scopes[a.alias], scopes[b.alias])
        for index, a in enumerate(steps)
        for b in steps[index + 1 :]
    )


def _scopes(plan: Plan) -> dict[str, tuple[str, ...]]:
    """Per alias, what its migration lock guards: as preflight found it, else from settings."""
    return {info.alias: info.scope or preflight.scope(info) for info in plan.aliases}


def overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether two scopes may name one target: equal, or one a prefix of the other (a scope that
    leaves the schema or the database unknown covers all of them)."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def next_startable(
    waiting: Sequence[Step],
    running: Iterable[Step],
    scopes: Mapping[str, tuple[str, ...]],
) -> Step | None:
    """The first waiting step whose scope overlaps no running step's; None when every waiting
    step would share its database (and schema) with a running one.

    Two steps on one target at once would wait for each other's lock (or fail on it with a
    short --lock-timeout); steps of a level are otherwise independent, so only the scope counts.
    """
    busy = [scopes[step.alias] for step in running]
    return next(
        (step for step in waiting if not any(overlap(scopes[step.alias], b) for b in busy)),
        None,
    )


def committed(
    state: StepState,
    rows: AbstractSet[tuple[str, str]],
    replaces: Mapping[tuple[str, str], Sequence[tuple[str, str]]],
) -> tuple[tuple[PendingMigration, ...], tuple[PendingMigration, ...]]:
    """What of the step's work ``django_migrations`` shows done (``rows``): (applied, recorded),
    in the step's order. A squashed migration is recorded as the migrations it ``replaces``; an
    unapplied one is done when its rows are gone."""

    def done(item: PendingMigration) -> bool:
        key = (item.app, item.name)
        replaced = replaces.get(key, ())
        if item.backwards:
            return key not in rows and not any(old in rows for old in replaced)
        return key in rows or (bool(replaced) and all(old in rows for old in replaced))

    return (
        tuple(item for item in state.pending if done(item)),
        tuple(item for item in state.recorded if done(item)),
    )


def _died(
    state: StepState,
    exitcode: int | None,
    loader: MigrationLoader | None,
    started: str,
    seconds: float,
) -> StepResult:
    """The result of a worker that exited without reporting one (killed, say): what it
    committed, read back from the alias's ``django_migrations`` (its process is gone, so is every
    transaction it had open), and ``started``, the migration it was running ("app.name"; empty
    when between two)."""
    step = state.step
    error = (
        f"WorkerDied: the worker for {step.alias} exited with code {exitcode} before reporting "
        "a result"
    )
    try:
        rows = _read_back(step.alias)
    except Exception as exc:
        rows = set()
        error += f"; what it committed could not be read back: {first_line(exc)}"
    replaces = {
        key: [(str(app), str(name)) for app, name in migration.replaces]
        for key, migration in (loader.disk_migrations.items() if loader else ())
        if migration.replaces
    }
    applied, recorded = committed(state, rows, replaces)
    running = bool(started) and started not in map(str, applied)
    return StepResult(
        step,
        "failed",
        applied=applied,
        recorded=recorded,
        seconds=seconds,
        error=error,
        failed_migration=started if running else None,
    )


def _read_back(alias: str) -> set[tuple[str, str]]:
    """``django_migrations`` of ``alias`` on a connection of this process, closed again at once:
    a worker forked later must not inherit its socket."""
    try:
        return read_applied(alias)
    finally:
        connections[alias].close()


def _run_forked(
    state: PlanState,
    steps: list[Step],
    options: RunOptions,
    report: ProgressCallback,
    workers: int,
    fail_fast: bool,
    loader: MigrationLoader | None,
    started: set[str],
) -> list[StepResult]:
    """Run independent steps in forked children (at most ``workers`` at once, never two whose
    scopes overlap: ``next_startable``).

    Children inherit the loaded project (no second start-up) and open their own connections;
    each sends its progress and its result through a pipe of its own (a worker killed while
    writing breaks only its own pipe, never the others'), and this process does all printing,
    one whole line at a time.
    """
    context = multiprocessing.get_context("fork")
    connections.close_all()  # children must not share this process's sockets
    scopes = _scopes(state.plan)
    waiting = list(steps)
    running: dict[Step, _Worker] = {}
    results: list[StepResult] = []
    while waiting or running:
        failed = next((r for r in results if r.status == "failed"), None)
        if fail_fast and failed is not None:
            for step in waiting:
                result = StepResult(
                    step,
                    "skipped",
                    error=f"not started: --fail-fast after {failed.step.alias} failed",
                )
                results.append(result)
                report(Progress("step-done", step, result=result))
            waiting.clear()
        stop = options.should_stop() if options.should_stop else None
        if stop and waiting:  # a stop request: start no further worker
            for step in waiting:
                result = StepResult(step, "skipped", error="not started: the run was interrupted")
                results.append(result)
                report(Progress("step-done", step, result=result))
            waiting.clear()
        while len(running) < workers:
            chosen = next_startable(waiting, running, scopes)
            if chosen is None:
                break  # each waiting step shares its target with a running one
            waiting.remove(chosen)
            info = state.plan.alias_info(chosen.alias)
            first = _first_on_alias(state.state(chosen), options, started)
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(
                target=_child,
                args=(state.state(chosen), info, options, writer, loader, first),
                daemon=False,
            )
            # No stop signal is handled between the fork and WORKERS naming the worker: the
            # signal handler passes each signal on to every worker (tell_workers).
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _handled_in_workers())
            try:
                process.start()
                WORKERS.add(cast(int, process.pid))  # started: it has one
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            writer.close()  # the child's end: once the child is gone, reading ends (EOFError)
            running[chosen] = _Worker(process, reader, time.monotonic())
        if not running:
            continue
        if stop and not TOLD:  # a stop asked for by the caller, not by a signal: pass it on
            tell_workers("SIGTERM")
        ready = multiprocessing.connection.wait([w.reader for w in running.values()], timeout=0.5)
        for step, worker in list(running.items()):
            if worker.reader not in ready:
                continue
            received = worker.receive(report)
            if received is None:
                continue  # a progress line
            running.pop(step)
            result = received
            if received is _DIED:
                result = _died(
                    state.state(step),
                    worker.process.exitcode,
                    loader,
                    str(worker.current or ""),
                    time.monotonic() - worker.begun,
                )
                _log(result)  # the worker could not log it
            results.append(result)
            report(Progress("step-done", step, result=result))
    return results


_DIED = StepResult(Step("", (), 0), "failed")  # stands for "no result: the worker is gone"

# The pids of this process's running workers, and how many messages each was sent: each stop
# signal the command receives is passed on from its signal handler at once (cli.StopOnSignal).
WORKERS: set[int] = set()
TOLD: dict[int, int] = {}


def _worker_signals() -> dict[str, int]:
    """What the command sends a worker (POSIX only, like fork): "SIGINT"/"SIGTERM": stop between
    two migrations, named after the command's signal; "now": cut the running migration short.
    SIGUSR1/SIGUSR2 carry what SIGINT alone cannot (a worker given SIGINT directly, by
    ``pkill -INT``, say, cannot tell it from the command's)."""
    return {"SIGINT": signal.SIGUSR1, "SIGTERM": signal.SIGTERM, "now": signal.SIGUSR2}


def tell_workers(name: str) -> None:
    """Send every running worker ``name`` (``_worker_signals``)."""
    if not WORKERS:
        return  # nothing to tell (and no SIGUSR1 where there is no fork: Windows)
    number = _worker_signals()[name]
    for pid in list(WORKERS):
        TOLD[pid] = TOLD.get(pid, 0) + 1
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, number)


def _handled_in_workers() -> set[int]:
    return {signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2}


class _WorkerStop:
    """A worker's signal handler. The command passes on the first SIGINT/SIGTERM it receives as a
    request to stop between two migrations (SIGUSR1 for SIGINT, SIGTERM) and a second SIGINT as
    SIGUSR2: cut the running migration short (it rolls back where the database can), as in the
    command itself. SIGINTs sent to the worker directly (a terminal's Ctrl-C reaches its whole
    foreground process group) count apart: the first, with the command's SIGUSR1, is one stop."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self.sigints = 0  # sent to the worker directly
        self.interrupted = False
        self.tracker: _Tracker | None = None  # the step's, once it runs

    def __call__(self, number: int, frame: object) -> None:
        self.sigints += number == signal.SIGINT
        name = "SIGINT" if number in (signal.SIGINT, signal.SIGUSR1) else "SIGTERM"
        self.signal = self.signal or name
        at_once = number == signal.SIGUSR2 or self.sigints > 1
        # Only a running migration is cut short (once: never again while it rolls back); between
        # two, the stop request already ends the step before the next one (its lock released).
        running = self.tracker is not None and self.tracker.current is not None
        if at_once and running and not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt


class _Worker:
    """A forked worker: its process, the reading end of its pipe, when it began, and the
    migration it reported starting last (None between two)."""

    def __init__(self, process: Any, reader: Any, begun: float) -> None:
        self.process = process
        self.reader = reader
        self.begun = begun
        self.current: PendingMigration | None = None

    def receive(self, report: ProgressCallback) -> StepResult | None:
        """Read one message: a progress event is reported (None returned); the result, or
        ``_DIED`` when the pipe ended without one, ends the worker."""
        try:
            kind, payload = self.reader.recv()
        except (EOFError, OSError):
            kind, payload = "died", _DIED
        if kind == "progress":
            if payload.event == "migration-start":
                self.current = payload.migration
            elif payload.event == "migration-done":
                self.current = None
            report(payload)
            return None
        self.reader.close()
        self.process.join()
        WORKERS.discard(self.process.pid)
        TOLD.pop(self.process.pid, None)
        return cast(StepResult, payload)


def _child(
    state: StepState,
    info: AliasInfo,
    options: RunOptions,
    writer: Any,
    loader: MigrationLoader | None,
    first: bool,
) -> None:
    # Installed here, after multiprocessing's bootstrap (and whatever patches it: coverage's
    # installs a SIGTERM handler of its own), before the signals blocked for the fork are let in.
    stop = _WorkerStop()
    for number in _handled_in_workers():
        signal.signal(number, stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _handled_in_workers())
    asked = options.should_stop or _never
    options = replace(options, should_stop=lambda: stop.signal or asked())
    global _WORKER_STOP
    _WORKER_STOP = stop

    def forward(progress: Progress) -> None:
        if progress.event != "step-done":
            writer.send(("progress", progress))

    try:
        result = run_step(state, info, options, forward, loader=loader, first=first)
    except BaseException as exc:  # a worker must always answer
        error = f"{type(exc).__name__}: {first_line(exc)}"
        result = StepResult(state.step, "failed", error=error, traceback=scrubbed_traceback(exc))
    finally:
        connections.close_all()
    writer.send(("result", result))
    writer.close()
