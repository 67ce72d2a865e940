"""Executes a plan: per step, Django's own ``migrate`` for the step's apps on the step's alias."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

from django.core.management import call_command
from django.core.management.commands.migrate import Command as DjangoMigrateCommand

from migrator.backends import LockTimeout, backend
from migrator.inspect import first_line
from migrator.types import (
    AliasInfo,
    PendingMigration,
    PlanState,
    Progress,
    RunOptions,
    Step,
    StepResult,
    StepState,
)

ProgressCallback = Callable[[Progress], None]


class _Migrate(DjangoMigrateCommand):
    """Django's ``migrate``, unchanged but for reporting progress to migrator's callback."""

    def __init__(self, step: Step, report: ProgressCallback, applied: list[PendingMigration]):
        super().__init__(stdout=io.StringIO(), stderr=io.StringIO())
        self._step = step
        self._report = report
        self._applied = applied

    def migration_progress_callback(
        self, action: str, migration: Any = None, fake: bool = False
    ) -> None:
        if migration is None or action not in _ACTIONS:
            return
        backwards, done = _ACTIONS[action]
        item = PendingMigration(migration.app_label, migration.name, backwards)
        if done and migration.app_label in self._step.apps:
            self._applied.append(item)
        if migration.app_label in self._step.apps:
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
    started = time.monotonic()
    error = None
    waited = 0.0
    vendor = backend(info.vendor)
    lock_timeout = 60.0 if options.lock_timeout is None else options.lock_timeout
    try:
        with vendor.lock(info, lock_timeout) as lock:
            waited = lock.waited
            with vendor.session(step.alias, options.session.get(step.alias, {})):
                for app in step.apps:
                    arguments = [app] if step.target is None else [app, step.target]
                    call_command(
                        _Migrate(step, report, applied),
                        *arguments,
                        database=step.alias,
                        interactive=options.interactive,
                        fake=options.fake,
                        fake_initial=options.fake_initial,
                        verbosity=0,
                        skip_checks=True,
                    )
    except LockTimeout as exc:
        error = (
            f"LockTimeout: could not lock {step.alias} within {lock_timeout:g}s: {exc}. "
            "Another migrate_all/migrator run is migrating it; wait for it to finish or raise "
            "--lock-timeout"
        )
    except Exception as exc:
        error = f"{type(exc).__name__}: {first_line(exc)}"
    seconds = time.monotonic() - started
    status = "failed" if error else ("applied" if applied else "up-to-date")
    result = StepResult(
        step, status, applied=tuple(applied), seconds=seconds, error=error, lock_wait=waited
    )
    report(Progress("step-done", step, result=result))
    return result


def run_plan(
    state: PlanState, options: RunOptions, report: ProgressCallback = _ignore
) -> tuple[StepResult, ...]:
    """Run the levels in order; after the first failure the remaining steps are not run."""
    results: list[StepResult] = []
    failed = False
    for step_state in state.states:
        if failed:
            results.append(StepResult(step_state.step, "not-run"))
            continue
        info = state.plan.alias_info(step_state.step.alias)
        result = run_step(step_state, info, options, report)
        results.append(result)
        failed = result.status == "failed"
    return tuple(results)
