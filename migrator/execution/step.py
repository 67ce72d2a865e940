"""One step: the alias's lock (watched), one pass of Django's migration executor for the step's
apps on the step's alias, as Django's ``migrate`` runs it (``django_compat``), the rows only to
record, the signals Django sends; its result, with the traceback of what failed (scrubbed)."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from django.db import connections
from django.db.migrations.loader import MigrationLoader

from migrator import django_compat
from migrator.backends import (
    Guard,
    LockInterrupted,
    LockTimeout,
    LockWait,
    backend,
    lock_timeout_error,
)
from migrator.conf import DEFAULT_LOCK_TIMEOUT
from migrator.execution.retries import Retrier, RetryStopped, StatementLog
from migrator.execution.signals import migration_running, worker_stop
from migrator.project.databases import passwords
from migrator.text import first_line, redact, secrets_of
from migrator.types import (
    AliasInfo,
    Event,
    PendingMigration,
    Progress,
    RunOptions,
    Step,
    StepResult,
    StepState,
    StepStatus,
    never,
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


def ignore_progress(progress: Progress) -> None:
    return None


class _Tracker:
    """The executor's progress callback: reports the migrations that execute something on the
    alias, notes those only recorded, and stops between two migrations when asked to."""

    def __init__(
        self,
        state: StepState,
        report: ProgressCallback,
        should_stop: Callable[[], str | None],
        statements: StatementLog,
    ):
        self.state = state
        self.report = report
        self.should_stop = should_stop
        self.statements = statements
        self.executes = {(m.app, m.name) for m in state.pending}
        self.applied: list[PendingMigration] = []
        self.recorded: list[PendingMigration] = []
        self.current: PendingMigration | None = None
        self.lost: Callable[[], str | None] = never  # the step's lock, once it is held

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


class PlanChanged(Exception):
    """A ``pre_migrate`` receiver changed the plan it was sent (as django-safemigrate's does in
    its own command): migrator runs the plan it showed, never silently less."""


def _changed_plan(alias: str, sent: list[Any], now: list[Any]) -> str:
    left_out = [f"{m.app_label}.{m.name}" for m, b in sent if (m, b) not in now]
    added = [f"{m.app_label}.{m.name}" for m, b in now if (m, b) not in sent]
    what = "; ".join(
        part
        for part in (
            f"left out {', '.join(left_out)}" if left_out else "",
            f"added {', '.join(added)}" if added else "",
            "reordered it" if not left_out and not added else "",
        )
        if part
    )
    return (
        f"a pre_migrate receiver changed the plan of {alias} ({what}) before anything ran "
        "there; migrator runs the plan it showed and never silently less or more. For a deploy "
        "in phases, run 'migrate_all --phase pre' (django-syzygy, django-safemigrate) instead"
    )


def _without_held(plan: list[Any], state: StepState, loader: Any) -> list[Any]:
    """--phase pre: the executor's plan for the step without what the phase tool holds back for
    after the deploy. A kept migration that needs a held one (forwards: a dependency; backwards:
    a dependent) would leave a history Django calls inconsistent: refused, nothing run."""
    held = {(m.app, m.name) for m in state.held}
    kept = [(m, backwards) for m, backwards in plan if (m.app_label, m.name) not in held]
    for migration, backwards in kept:
        node = loader.graph.node_map[(migration.app_label, migration.name)]
        for other in node.children if backwards else node.parents:
            if other.key in held:
                raise PlanChanged(
                    f"{migration.app_label}.{migration.name} needs "
                    f"{other.key[0]}.{other.key[1]}, which --phase pre holds back on "
                    f"{state.step.alias} for after the deploy; nothing ran in this step. Please "
                    "report this with 'migrate_all --plan --phase pre --json'"
                )
    return kept


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
    retrier: Retrier | None = None,
) -> None:
    """One executor pass for the step's apps, then what only needs recording, then the signals:
    what ``migrate --database X`` does, over the whole run on the alias."""
    step = state.step
    connection = connections[step.alias]
    executor = django_compat.SharedGraphExecutor(
        connection, django_compat.loader_for(connection, loader), tracker, guard, retrier
    )
    graph_loader = executor.loader
    alias_plan = django_compat.plan_of(
        graph_loader, ((m.app, m.name, m.backwards) for m in state.alias_plan)
    )
    start_state = None
    if first:
        start_state = executor.applied_state()
        sent = list(alias_plan)
        django_compat.send_pre_migrate(
            step.alias, start_state.apps, alias_plan, interactive=options.interactive
        )
        if alias_plan != sent:
            raise PlanChanged(_changed_plan(step.alias, sent, alias_plan))
    targets = _targets(state, graph_loader)
    plan = executor.migration_plan(targets)
    if state.held:
        plan = _without_held(plan, state, graph_loader)
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
    report: ProgressCallback = ignore_progress,
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
    # SQL run for the current migration (MySQL repair hints, lock-timeout retries)
    log = StatementLog()
    should_stop = options.should_stop or never
    tracker = _Tracker(state, report, should_stop, log)
    setting = options.lock_retries.get(step.alias)
    retrier = None
    if setting is not None:
        retrier = Retrier(
            step, info.vendor, setting, report, should_stop, tracker.watch, log, _holders(step)
        )
    in_worker = worker_stop()
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

            @contextmanager
            def guard(migration: Any, backwards: bool) -> Iterator[None]:
                ddl = retrier.ddl_lock_timeout(migration) if retrier is not None else None
                info = Guard(
                    step.alias,
                    lock.scope,
                    migration,
                    backwards,
                    values,
                    lock_timeout,
                    wait,
                    ddl_lock_timeout=ddl,
                )
                with vendor.guard(info), migration_running():
                    yield

            with connections[step.alias].execute_wrapper(log.record):
                stop = should_stop()
                if stop:
                    raise Interrupted(f"stopped by {stop} before {', '.join(step.apps)}")
                _execute(state, graph, options, tracker, first, guard, retrier)
    except (Interrupted, RetryStopped) as exc:  # before a migration, or in a retry's backoff
        error, status = f"Interrupted: {exc}", "interrupted"
        tracker.current = None
    except KeyboardInterrupt:
        if in_worker is None:
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
        if retrier is not None and tracker.current is not None:
            migration = graph.graph.nodes.get((tracker.current.app, tracker.current.name))
            error += retrier.not_retried(migration, exc) if migration is not None else ""
        trace = scrubbed_traceback(exc)
    seconds = time.monotonic() - started
    applied = tracker.applied
    if status is None:
        status = "failed" if error else ("applied" if applied or tracker.recorded else "up-to-date")
    current = tracker.current
    # MySQL/MariaDB DDL is not transactional: show what already ran of the failed migration (up
    # to the statement that failed: after it, only the guard's own clean-up ran).
    ran = log.statements if log.failed is None else log.statements[: log.failed + 1]
    executed = tuple(ran) if status == "failed" and current and info.vendor == "mysql" else ()
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
        retries=tuple(retrier.retries) if retrier is not None else (),
    )
    log_result(result)
    report(Progress("step-done", step, result=result))
    return result


def _holders(step: Step) -> Callable[[str], str]:
    """Who holds the locks a statement waited for (PostgreSQL; elsewhere nothing is read)."""

    def holders(statement: str) -> str:
        if connections[step.alias].vendor != "postgresql":
            return ""
        from migrator.backends.postgresql import lock_holders

        return lock_holders(step.alias, statement)

    return holders


def scrubbed_traceback(exc: BaseException) -> str:
    """``exc``'s formatted traceback (its causes included), every form of every configured
    password replaced: it goes to the output and the logs."""
    text = "".join(traceback.format_exception(exc)).rstrip()
    return redact(text, secrets_of(passwords()))


def log_result(result: StepResult) -> None:
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


def first_on_alias(step_state: StepState, options: RunOptions, started: set[str]) -> bool:
    """Whether this step is the first of the run to work on its alias (``pre_migrate`` goes
    before it); steps with nothing to do are not run, so they do not count."""
    alias = step_state.step.alias
    if alias in started or not (step_state.has_work or options.force_migrate):
        return False
    started.add(alias)
    return True
