"""``--parallel``: the independent steps of a level in forked workers, never two at once on one
database or schema (scopes), each reporting through a pipe of its own; a worker that dies is
reported with what it committed, read back from ``django_migrations``."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from typing import Any, cast

from django.db import connections
from django.db.migrations.loader import MigrationLoader

from migrator import preflight
from migrator.backends.sqlite import database_file
from migrator.concurrency import Server, server
from migrator.execution.signals import (
    TOLD,
    WORKERS,
    become_worker,
    handled_in_workers,
    quiet_from_now_on,
    tell_workers,
)
from migrator.execution.step import (
    ProgressCallback,
    first_on_alias,
    log_result,
    run_step,
    scrubbed_traceback,
)
from migrator.history import read_applied
from migrator.text import first_line
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
    never,
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
    servers: Mapping[str, Server | None] | None = None,
    per_server: int | None = None,
) -> Step | None:
    """The first waiting step whose scope overlaps no running step's and whose server
    (``servers``, ``concurrency.server``) runs fewer than ``per_server`` steps; None when every
    waiting step would share its database (and schema) with a running one or its server is full.

    Two steps on one target at once would wait for each other's lock (or fail on it with a
    short --lock-timeout); steps of a level are otherwise independent, so only the scope and
    the per-server bound (MIGRATOR["MAX_CONNECTIONS_PER_SERVER"]) count.
    """
    running = list(running)
    busy = [scopes[step.alias] for step in running]
    where = servers or {}
    load = Counter(where.get(step.alias) for step in running)

    def fits(step: Step) -> bool:
        if any(overlap(scopes[step.alias], b) for b in busy):
            return False
        key = where.get(step.alias)
        return per_server is None or key is None or load[key] < per_server

    return next((step for step in waiting if fits(step)), None)


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


def run_forked(
    state: PlanState,
    steps: list[Step],
    options: RunOptions,
    report: ProgressCallback,
    workers: int,
    fail_fast: bool,
    loader: MigrationLoader | None,
    started: set[str],
) -> list[StepResult]:
    """Run independent steps in forked children (at most ``workers`` at once and never more than
    ``options.bounds``: MIGRATOR["MAX_CONNECTIONS"] workers, MIGRATOR["MAX_CONNECTIONS_PER_SERVER"]
    on one server; never two whose scopes overlap: ``next_startable``).

    Children inherit the loaded project (no second start-up) and open their own connections;
    each sends its progress and its result through a pipe of its own (a worker killed while
    writing breaks only its own pipe, never the others'), and this process does all printing,
    one whole line at a time.
    """
    context = multiprocessing.get_context("fork")
    connections.close_all()  # children must not share this process's sockets
    scopes = _scopes(state.plan)
    servers = {info.alias: server(info) for info in state.plan.aliases}
    workers = min(workers, options.bounds.overall)
    waiting = list(steps)
    running: dict[Step, _Worker] = {}
    results: list[StepResult] = []
    try:
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
                    result = StepResult(
                        step, "skipped", error="not started: the run was interrupted"
                    )
                    results.append(result)
                    report(Progress("step-done", step, result=result))
                waiting.clear()
            while len(running) < workers:
                chosen = next_startable(
                    waiting, running, scopes, servers, options.bounds.per_server
                )
                if chosen is None:
                    break  # each waiting step shares its target with a running one
                waiting.remove(chosen)
                info = state.plan.alias_info(chosen.alias)
                first = first_on_alias(state.state(chosen), options, started)
                reader, writer = context.Pipe(duplex=False)
                process = context.Process(
                    target=_child,
                    args=(state.state(chosen), info, options, writer, loader, first),
                    daemon=False,
                )
                # No stop signal is handled between the fork and WORKERS naming the worker: the
                # signal handler passes each signal on to every worker (tell_workers).
                blocked = signal.pthread_sigmask(signal.SIG_BLOCK, handled_in_workers())
                try:
                    process.start()
                    WORKERS.add(cast(int, process.pid))  # started: it has one
                finally:
                    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
                writer.close()  # the child's end: once the child is gone, reading ends (EOFError)
                running[chosen] = _Worker(process, reader, time.monotonic())
            if not running:
                continue
            if stop and any(w.process.pid not in TOLD for w in running.values()):
                tell_workers(
                    "SIGTERM"
                )  # a stop asked for by the caller, not by a signal: pass it on
            ready = multiprocessing.connection.wait(
                [w.reader for w in running.values()], timeout=0.5
            )
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
                    log_result(result)  # the worker could not log it
                results.append(result)
                report(Progress("step-done", step, result=result))
    finally:  # whatever ended the loop, its workers are no longer this run's to tell
        for worker in running.values():
            WORKERS.discard(worker.process.pid)
            TOLD.pop(worker.process.pid, None)
    return results


_DIED = StepResult(Step("", (), 0), "failed")  # stands for "no result: the worker is gone"


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
    stop = become_worker()
    asked = options.should_stop or never
    options = replace(options, should_stop=lambda: stop.signal or asked())

    def forward(progress: Progress) -> None:
        if progress.event != "step-done":
            writer.send(("progress", progress))

    try:
        result = run_step(state, info, options, forward, loader=loader, first=first)
    except BaseException as exc:  # a worker must always answer
        error = f"{type(exc).__name__}: {first_line(exc)}"
        result = StepResult(state.step, "failed", error=error, traceback=scrubbed_traceback(exc))
    finally:
        quiet_from_now_on()  # the step is over: no signal cuts the report short
        connections.close_all()
    writer.send(("result", result))
    writer.close()


def can_fork(state: PlanState, steps: list[Step]) -> bool:
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


def fork_available() -> bool:
    """Whether this platform can fork worker processes (Windows cannot: it only spawns)."""
    return "fork" in multiprocessing.get_all_start_methods()
