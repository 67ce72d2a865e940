"""The plan's levels in order: a step whose requirement failed, was skipped or was interrupted is
skipped with the reason; ``--fail-fast`` and a stop request start nothing further; independent
steps of a level go to forked workers with ``--parallel`` where the platform can fork. With
``--canary N`` each level's canary steps run first; when one does not succeed, nothing else
starts."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from django.db.migrations.loader import MigrationLoader

from migrator.exceptions import ConfigurationError
from migrator.execution.step import ProgressCallback, first_on_alias, ignore_progress, run_step
from migrator.execution.workers import can_fork, fork_available, run_forked
from migrator.planning.rollout import canaries
from migrator.text import first_line
from migrator.types import (
    Plan,
    PlanState,
    Progress,
    RunOptions,
    Step,
    StepResult,
)


def skip_reason(
    step: Step,
    plan: Plan,
    results: Mapping[Step, StepResult],
    fail_fast: bool,
    stopped: str | None = None,
) -> str | None:
    """Why ``step`` must not start, given the results so far; None when it may run.
    ``stopped``: why the run starts nothing more (a canary did not succeed)."""
    for required in sorted(plan.requires.get(step, ()), key=plan.order.__getitem__):
        done = results.get(required)
        if done is not None and done.status in ("failed", "skipped", "interrupted"):
            verb = {"failed": "failed", "skipped": "was skipped", "interrupted": "was interrupted"}[
                done.status
            ]
            return f"depends on {required.alias} ({', '.join(required.apps)}), which {verb}"
    interrupted = [r for r in results.values() if r.status == "interrupted"]
    if interrupted:
        return "not started: the run was interrupted"
    if stopped:
        return stopped
    if fail_fast:
        failed = [r for r in results.values() if r.status == "failed"]
        if failed:
            return f"not started: --fail-fast after {failed[0].step.alias} failed"
    return None


def run_plan(
    state: PlanState,
    options: RunOptions,
    report: ProgressCallback = ignore_progress,
    *,
    parallel: int = 1,
    fail_fast: bool = False,
    loader: MigrationLoader | None = None,
    canary: int = 0,
    canary_aliases: Collection[str] = (),
    executor: str = "local",
) -> tuple[StepResult, ...]:
    """Run the levels in order. A failed step's dependents are skipped (with the reason); steps
    that do not depend on it still run, unless ``fail_fast``. With ``parallel`` > 1 the steps of
    one level run at the same time in forked worker processes. With ``canary`` > 0 the first
    ``canary`` steps of each level (on ``canary_aliases`` where the level has any: the
    ``rollout.canaries``) run before the others of the level; when one fails, is interrupted or
    skipped, every step not started yet is skipped, naming it. With ``executor="celery"`` the
    steps go to Celery workers (``celery_steps``, imported only then; no canaries)."""
    if executor == "celery":
        from migrator.execution.celery_steps import run_celery

        plan = state.plan
        return run_celery(
            state,
            options,
            report,
            fail_fast,
            loader,
            lambda step, results: skip_reason(step, plan, results, fail_fast),
        )
    if loader is None and (
        options.force_migrate or any(step_state.has_work for step_state in state.states)
    ):
        loader = MigrationLoader(None, ignore_no_migrations=True)
    if parallel > 1 and not fork_available() and any(len(level) > 1 for level in state.plan.levels):
        # Said once, before the first step, and only where steps could have run at once.
        report(Progress("notice", state.plan.steps[0], detail=no_fork_notice(parallel)))
        parallel = 1
    return _run_levels(state, options, report, parallel, fail_fast, loader, canary, canary_aliases)


def check_executor(executor: str) -> None:
    """Before anything is touched: the Celery executor's settings and app (a clear error when
    either is wrong, or when celery is not installed)."""
    if executor != "celery":
        return
    try:
        from migrator.execution import celery_steps
    except ImportError as exc:
        raise ConfigurationError(
            f"--executor celery needs Celery ({first_line(exc)}); install it with "
            "'pip install django-migrate-all[celery]'."
        ) from None
    settings = celery_steps.celery_settings()
    celery_steps.check_app(celery_steps.celery_app(settings.app), settings)


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
    canary: int = 0,
    canary_aliases: Collection[str] = (),
) -> tuple[StepResult, ...]:
    plan = state.plan
    results: dict[Step, StepResult] = {}
    started: set[str] = set()  # aliases whose first step has run (pre_migrate was sent)
    stopped: str | None = None  # a canary did not succeed: nothing more starts
    for level in plan.levels:
        # Canaries are chosen among the steps with work: an up-to-date step proves nothing.
        working = tuple(step for step in level if state.state(step).has_work)
        first = canaries(working, canary, canary_aliases)
        rest = tuple(step for step in level if step not in first)
        for batch, is_canary in ((first, True), (rest, False)):
            said = _canary_report(report) if is_canary else report
            for result in _run_batch(
                state, batch, options, said, parallel, fail_fast, loader, started, results, stopped
            ):
                results[result.step] = replace(result, canary=True) if is_canary else result
            if is_canary and stopped is None:
                stopped = _canary_stop(first, results)
    return tuple(results[step] for step in plan.steps)


def _canary_report(report: ProgressCallback) -> ProgressCallback:
    def said(progress: Progress) -> None:
        result = progress.result
        report(
            replace(
                progress,
                canary=True,
                result=None if result is None else replace(result, canary=True),
            )
        )

    return said


def _canary_stop(first: tuple[Step, ...], results: Mapping[Step, StepResult]) -> str | None:
    """Why nothing more starts after this level's canaries: the first that did not succeed."""
    verbs = {"failed": "failed", "interrupted": "was interrupted", "skipped": "was skipped"}
    for step in first:
        status = results[step].status
        if status in verbs:
            return f"not started: canary {step.alias} {verbs[status]}"
    return None


def _run_batch(
    state: PlanState,
    batch: tuple[Step, ...],
    options: RunOptions,
    report: ProgressCallback,
    parallel: int,
    fail_fast: bool,
    loader: MigrationLoader | None,
    started: set[str],
    results: Mapping[Step, StepResult],
    stopped: str | None,
) -> list[StepResult]:
    """Steps of one level (all of it, or its canaries, or the others): serial, or forked."""
    plan = state.plan
    done: dict[Step, StepResult] = {}
    runnable = []
    for step in batch:
        reason = skip_reason(step, plan, results, fail_fast, stopped)
        if reason is None:
            runnable.append(step)
            continue
        done[step] = StepResult(step, "skipped", error=reason)
        report(Progress("step-done", step, result=done[step]))
    if parallel > 1 and len(runnable) > 1 and can_fork(state, runnable):
        forked = run_forked(state, runnable, options, report, parallel, fail_fast, loader, started)
        done.update((result.step, result) for result in forked)
        return [done[step] for step in batch]
    for step in runnable:
        reason = skip_reason(step, plan, {**results, **done}, fail_fast, stopped)
        if reason is not None:
            done[step] = StepResult(step, "skipped", error=reason)
            report(Progress("step-done", step, result=done[step]))
            continue
        info = plan.alias_info(step.alias)
        first = first_on_alias(state.state(step), options, started)
        done[step] = run_step(state.state(step), info, options, report, loader=loader, first=first)
    return [done[step] for step in batch]
