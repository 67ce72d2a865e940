"""Executes a plan: per step, Django's own ``migrate`` for the step's apps on the step's alias."""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from queue import Empty
from typing import Any

from django.core.management import call_command
from django.core.management.commands import migrate as django_migrate
from django.core.management.commands.migrate import Command as DjangoMigrateCommand
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from migrator.backends import LockTimeout, backend
from migrator.backends.sqlite import database_file
from migrator.inspect import first_line
from migrator.types import (
    AliasInfo,
    PendingMigration,
    Plan,
    PlanState,
    Progress,
    RunOptions,
    Step,
    StepResult,
    StepState,
)

ProgressCallback = Callable[[Progress], None]


class _SharedGraphExecutor(MigrationExecutor):
    """Django's executor on a migration graph loaded once per run instead of once per call.

    Django's ``migrate`` builds a ``MigrationLoader`` (imports, graph) every time it is called;
    a step calls it once per app. The graph does not depend on the database unless squashed
    migrations are involved, so it is shared; the applied set is read fresh for every call.
    """

    graph_loader: MigrationLoader

    def __init__(self, connection: Any, progress_callback: Any = None) -> None:
        self.connection = connection
        self.loader = self.graph_loader
        self.recorder = MigrationRecorder(connection)
        self.loader.applied_migrations = self.recorder.applied_migrations()  # type: ignore[assignment]
        self.progress_callback = progress_callback


@contextmanager
def _shared_graph(loader: MigrationLoader | None) -> Iterator[None]:
    """While active, Django's ``migrate`` uses ``loader``'s graph (unless squashed migrations
    make the graph depend on each database's history: then Django loads it as usual)."""
    if loader is None or loader.replacements:
        yield
        return
    executor = type("StepExecutor", (_SharedGraphExecutor,), {"graph_loader": loader})
    module: Any = django_migrate  # the name Django's migrate command looks the executor up by
    original = module.MigrationExecutor
    module.MigrationExecutor = executor
    try:
        yield
    finally:
        module.MigrationExecutor = original


class Interrupted(Exception):
    """A stop was requested (SIGINT/SIGTERM): raised before the next migration starts."""


class _Migrate(DjangoMigrateCommand):
    """Django's ``migrate``, unchanged but for reporting progress to migrator's callback and
    stopping between two migrations when a stop was requested."""

    def __init__(
        self,
        state: StepState,
        report: ProgressCallback,
        applied: list[PendingMigration],
        should_stop: Callable[[], str | None],
    ):
        super().__init__(stdout=io.StringIO(), stderr=io.StringIO())
        self._state = state
        self._step = state.step
        self._report = report
        self._applied = applied
        self._should_stop = should_stop

    def migration_progress_callback(
        self, action: str, migration: Any = None, fake: bool = False
    ) -> None:
        if migration is None or action not in _ACTIONS:
            return
        backwards, done = _ACTIONS[action]
        if not done:
            stop = self._should_stop()
            if stop:
                raise Interrupted(
                    f"stopped by {stop} before {migration.app_label}.{migration.name}"
                )
        item = PendingMigration(migration.app_label, migration.name, backwards)
        if not self._state.runs_sql(migration.app_label):
            return  # only recorded here, as a dependency: no SQL ran
        if done:
            self._applied.append(item)
        event = "migration-done" if done else "migration-start"
        self._report(Progress(event, self._step, migration=item, fake=fake))


_ACTIONS = {
    "apply_start": (False, False),
    "apply_success": (False, True),
    "unapply_start": (True, False),
    "unapply_success": (True, True),
}


def _ignore(progress: Progress) -> None:
    return None


def _never() -> str | None:
    return None


def run_step(
    state: StepState, info: AliasInfo, options: RunOptions, report: ProgressCallback = _ignore
) -> StepResult:
    """Run one step; a step with nothing pending is not handed to Django unless forced."""
    step = state.step
    if not state.pending and not options.force_migrate:
        result = StepResult(step, "up-to-date")
        report(Progress("step-done", step, result=result))
        return result
    report(Progress("step-start", step))
    applied: list[PendingMigration] = []
    current: list[PendingMigration] = []  # the migration Django is running right now

    def track(progress: Progress) -> None:
        if progress.migration is not None:
            current[:] = [progress.migration] if progress.event == "migration-start" else []
        report(progress)

    statements: list[str] = []  # SQL run for the current migration (MySQL repair hints)

    def record_sql(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql if not params else f"{sql} -- params: {params!r}")
        return execute(sql, params, many, context)

    def track_sql(progress: Progress) -> None:
        if progress.event == "migration-start":
            statements.clear()
        track(progress)

    should_stop = options.should_stop or _never
    started = time.monotonic()
    error = None
    status = ""
    waited = 0.0
    vendor = backend(info.vendor)
    lock_timeout = 60.0 if options.lock_timeout is None else options.lock_timeout
    try:
        with vendor.lock(info, lock_timeout) as lock:
            waited = lock.waited
            with (
                vendor.session(step.alias, options.session.get(step.alias, {})),
                connections[step.alias].execute_wrapper(record_sql),
            ):
                for app in step.apps:
                    stop = should_stop()
                    if stop:
                        raise Interrupted(f"stopped by {stop} before {app}")
                    arguments = [app] if step.target is None else [app, step.target]
                    call_command(
                        _Migrate(state, track_sql, applied, should_stop),
                        *arguments,
                        database=step.alias,
                        interactive=options.interactive,
                        fake=options.fake,
                        fake_initial=options.fake_initial,
                        verbosity=0,
                        skip_checks=True,
                    )
    except Interrupted as exc:
        error, status = f"Interrupted: {exc}", "interrupted"
        current.clear()
    except LockTimeout as exc:
        error = (
            f"LockTimeout: could not lock {step.alias} within {lock_timeout:g}s: {exc}. "
            "Another migrate_all/migrator run is migrating it; wait for it to finish or raise "
            "--lock-timeout"
        )
    except Exception as exc:
        error = f"{type(exc).__name__}: {first_line(exc)}"
    seconds = time.monotonic() - started
    if not status:
        status = "failed" if error else ("applied" if applied else "up-to-date")
    # MySQL/MariaDB DDL is not transactional: show what already ran of the failed migration.
    executed = (
        tuple(statements) if status == "failed" and current and info.vendor == "mysql" else ()
    )
    result = StepResult(
        step,
        status,
        applied=tuple(applied),
        seconds=seconds,
        error=error,
        lock_wait=waited,
        failed_migration=str(current[0]) if error and current else None,
        executed_sql=executed,
    )
    report(Progress("step-done", step, result=result))
    return result


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
    with _shared_graph(loader or _loader_if_needed(state, options)):
        return _run_levels(state, options, report, parallel, fail_fast)


def _loader_if_needed(state: PlanState, options: RunOptions) -> MigrationLoader | None:
    if options.force_migrate or any(step_state.pending for step_state in state.states):
        return MigrationLoader(None, ignore_no_migrations=True)
    return None


def _run_levels(
    state: PlanState,
    options: RunOptions,
    report: ProgressCallback,
    parallel: int,
    fail_fast: bool,
) -> tuple[StepResult, ...]:
    plan = state.plan
    results: dict[Step, StepResult] = {}
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
            for result in _run_forked(state, runnable, options, report, parallel, fail_fast):
                results[result.step] = result
            continue
        for step in runnable:
            reason = skip_reason(step, plan, results, fail_fast)
            if reason is not None:
                results[step] = StepResult(step, "skipped", error=reason)
                report(Progress("step-done", step, result=results[step]))
                continue
            info = plan.alias_info(step.alias)
            results[step] = run_step(state.state(step), info, options, report)
    return tuple(results[step] for step in plan.steps)


def _can_fork(state: PlanState, steps: list[Step]) -> bool:
    """Forked workers need the fork start method and databases another process can reach."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    return all(
        not (info.vendor == "sqlite" and database_file(info) is None)
        for info in (state.plan.alias_info(step.alias) for step in steps)
    )


def _run_forked(
    state: PlanState,
    steps: list[Step],
    options: RunOptions,
    report: ProgressCallback,
    workers: int,
    fail_fast: bool,
) -> list[StepResult]:
    """Run independent steps in forked children (at most ``workers`` at once).

    Children inherit the loaded project (no second start-up) and open their own connections;
    they send progress and their result through a queue, and this process does all printing,
    one whole line at a time.
    """
    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue()
    connections.close_all()  # children must not share this process's sockets
    waiting = list(steps)
    forwarded = False
    running: dict[Step, Any] = {}
    results: list[StepResult] = []
    while waiting or running:
        while waiting and len(running) < workers:
            step = waiting.pop(0)
            if fail_fast and any(r.status == "failed" for r in results):
                failed = next(r for r in results if r.status == "failed")
                result = StepResult(
                    step,
                    "skipped",
                    error=f"not started: --fail-fast after {failed.step.alias} failed",
                )
                results.append(result)
                report(Progress("step-done", step, result=result))
                continue
            info = state.plan.alias_info(step.alias)
            process = context.Process(
                target=_child, args=(state.state(step), info, options, queue), daemon=False
            )
            process.start()
            running[step] = process
        if not running:
            continue
        if options.should_stop and options.should_stop() and not forwarded:
            forwarded = True  # a SIGTERM to this process alone: pass it on to the workers
            for process in running.values():
                os.kill(process.pid, signal.SIGTERM)
        try:
            kind, payload = queue.get(timeout=0.5)
        except Empty:
            if any(not process.is_alive() for process in running.values()):
                _drain(queue, running, results, report, timeout=1.0)
                for step, process in list(running.items()):
                    if not process.is_alive():
                        process.join()
                        running.pop(step)
                        result = StepResult(
                            step,
                            "failed",
                            error=f"WorkerDied: the worker for {step.alias} exited with code "
                            f"{process.exitcode} before reporting a result",
                        )
                        results.append(result)
                        report(Progress("step-done", step, result=result))
            continue
        _handle(kind, payload, running, results, report)
    return results


def _handle(
    kind: str,
    payload: Any,
    running: dict[Step, Any],
    results: list[StepResult],
    report: ProgressCallback,
) -> None:
    if kind == "progress":
        report(payload)
        return
    results.append(payload)
    running.pop(payload.step).join()
    report(Progress("step-done", payload.step, result=payload))


def _drain(
    queue: Any,
    running: dict[Step, Any],
    results: list[StepResult],
    report: ProgressCallback,
    timeout: float,
) -> None:
    """Read what finished workers sent before deciding that one died without answering."""
    while True:
        try:
            kind, payload = queue.get(timeout=timeout)
        except Empty:
            return
        _handle(kind, payload, running, results, report)


def _child(state: StepState, info: AliasInfo, options: RunOptions, queue: Any) -> None:
    def forward(progress: Progress) -> None:
        if progress.event != "step-done":
            queue.put(("progress", progress))

    try:
        result = run_step(state, info, options, forward)
    except BaseException as exc:  # a worker must always answer
        result = StepResult(state.step, "failed", error=f"{type(exc).__name__}: {first_line(exc)}")
    finally:
        connections.close_all()
    queue.put(("result", result))
