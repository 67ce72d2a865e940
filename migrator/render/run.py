"""A run as text and JSON: a line per progress event, tracebacks, the summary table, what failed,
and the one JSON document of a run (plan and results)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from migrator.render.lines import JSON_VERSION, Line, Style
from migrator.render.plan import plan_json
from migrator.text import plural
from migrator.types import (
    AliasInfo,
    PlanState,
    Progress,
    StepResult,
    StepStatus,
)


def progress_line(progress: Progress, *, prefix: bool = False) -> Line | None:
    """One line per event, the way Django's ``migrate`` prints its progress. With ``prefix``
    (parallel runs) every line starts with its alias, so lines of several aliases stay apart."""
    step = progress.step
    lead = f"[{step.alias}] " if prefix else ""
    if progress.event == "notice":  # about the whole run, not one alias: never prefixed
        return Line(progress.detail, "notice")
    if progress.event == "step-start":
        canary = " (canary)" if progress.canary else ""
        return Line(f"{lead}Migrating {step.alias}{canary}: {', '.join(step.apps)}", "heading")
    if progress.event == "lock-wait":
        return Line(f"{lead}  Waiting for the lock on {step.alias}: {progress.detail}", "warning")
    if progress.event == "lock-retry" and progress.migration is not None:
        return Line(f"{lead}  {step.alias}: {progress.migration} {progress.detail}", "warning")
    if progress.event == "migration-done" and progress.migration is not None:
        verb = "Unapplied" if progress.migration.backwards else "Applied"
        suffix = " (faked)" if progress.fake else ""
        return Line(f"{lead}  {verb} {progress.migration}{suffix}", "success")
    if progress.event == "step-done" and progress.result is not None:
        result = progress.result
        if result.status == "failed":
            return Line(f"{lead}  FAILED on {step.alias}: {result.error}", "error")
        if result.status == "skipped":
            return Line(
                f"{lead}Skipped {step.alias} ({', '.join(step.apps)}): {result.error}", "warning"
            )
    return None


def traceback_lines(result: StepResult, *, prefix: bool = False) -> list[Line]:
    """A failed step's traceback, indented under its FAILED line."""
    lead = f"[{result.step.alias}] " if prefix else ""
    return [Line(f"{lead}    {line}", "error") for line in result.traceback.splitlines()]


_STATUS_RANK = {"failed": 4, "interrupted": 3, "skipped": 2, "applied": 1, "up-to-date": 0}
_STATUS_STYLE: dict[StepStatus, Style] = {
    "failed": "error",
    "interrupted": "error",
    "skipped": "warning",
    "applied": "success",
    "up-to-date": "",
}


@dataclass(frozen=True)
class AliasSummary:
    info: AliasInfo
    apps: tuple[str, ...]
    applied: int
    status: StepStatus
    seconds: float
    recorded: int = 0
    earlier: bool = False  # every step of the alias finished in an earlier attempt (--resume)


def summarize(state: PlanState, results: Sequence[StepResult]) -> list[AliasSummary]:
    """One row per alias in plan order: its apps, migrations run, worst status, time spent."""
    rows: dict[str, AliasSummary] = {}
    for result in results:
        alias = result.step.alias
        previous = rows.get(alias)
        apps = (previous.apps if previous else ()) + tuple(
            app for app in result.step.apps if not previous or app not in previous.apps
        )
        status = result.status
        if previous and _STATUS_RANK[previous.status] > _STATUS_RANK[status]:
            status = previous.status
        rows[alias] = AliasSummary(
            info=state.plan.alias_info(alias),
            apps=apps,
            applied=(previous.applied if previous else 0) + len(result.applied),
            recorded=(previous.recorded if previous else 0) + len(result.recorded),
            status=status,
            seconds=(previous.seconds if previous else 0.0) + result.seconds,
            earlier=(previous.earlier if previous else True) and result.earlier,
        )
    return list(rows.values())


def _vendor(state: PlanState, info: AliasInfo) -> str:
    probe = state.probe(info.alias)
    return f"{info.vendor} {probe.version}" if probe and probe.version else info.vendor


def summary_lines(state: PlanState, results: Sequence[StepResult]) -> list[Line]:
    rows = summarize(state, results)
    header = ("alias", "vendor", "database", "apps", "applied", "status", "seconds")
    table = [
        (
            row.info.alias,
            _vendor(state, row.info),
            row.info.location,
            ", ".join(row.apps),
            str(row.applied),
            f"{row.status}*" if row.earlier else row.status,
            f"{row.seconds:.2f}",
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *table]) for i in range(len(header))]
    right = {4, 6}

    def render(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    lines = [Line("Summary", "heading"), Line(render(header))]
    for row, cells in zip(rows, table, strict=False):
        lines.append(Line(render(cells), _STATUS_STYLE[row.status]))
    if any(row.earlier for row in rows):
        lines.append(Line("* in an earlier attempt of this run (--resume did not connect to it)"))
    applied = sum(row.applied for row in rows)
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    interrupted = [r for r in results if r.status == "interrupted"]
    if interrupted:
        lines.append(
            Line(
                f"Interrupted: {plural(applied, 'migration')} applied; {len(skipped)} steps not "
                "started. Run again to continue; nothing is repeated.",
                "error",
            )
        )
        lines.extend(Line(f"  {problem}", "error") for problem in problem_lines(results))
    elif failed or skipped:
        lines.append(
            Line(
                f"Failed: {plural(len(failed), 'step')} failed, {len(skipped)} skipped; "
                f"{plural(applied, 'migration')} applied.",
                "error",
            )
        )
        lines.extend(Line(f"  {problem}", "error") for problem in problem_lines(results))
    else:
        lines.append(
            Line(
                f"Done: {_done(results)} on {plural(len(rows), 'database')}.",
                "success",
            )
        )
    return lines


def _done(results: Sequence[StepResult]) -> str:
    """``3 migrations applied``, and ``, 2 unapplied`` when the run went backwards too, and
    ``, 12 recorded`` for those that execute nothing on their alias and were only recorded."""
    backwards = sum(1 for r in results for m in r.applied if m.backwards)
    forwards = sum(len(r.applied) for r in results) - backwards
    unrecorded = sum(1 for r in results for m in r.recorded if m.backwards)
    recorded = sum(len(r.recorded) for r in results) - unrecorded
    text = f"{plural(forwards, 'migration')} applied"
    if backwards:
        text += f", {backwards} unapplied"
    if recorded:
        text += f", {recorded} only recorded"
    return f"{text}, {unrecorded} only unrecorded" if unrecorded else text


def problem_lines(results: Sequence[StepResult]) -> list[str]:
    """What failed (and at which migration) and why each skipped step was skipped."""
    lines = []
    for result in results:
        where = f"{result.step.alias} ({', '.join(result.step.apps)})"
        if result.status == "failed":
            at = f" at {result.failed_migration}" if result.failed_migration else ""
            lines.append(f"{where} failed{at}: {result.error}")
            if result.executed_sql:
                lines.append(
                    f"  MySQL/MariaDB does not roll back DDL: these statements of "
                    f"{result.failed_migration} had run and may be applied; check them and repair "
                    "by hand before running again:"
                )
                lines.extend(f"    {statement};" for statement in result.executed_sql)
        elif result.status == "interrupted":
            lines.append(f"{where} interrupted: {result.error}")
        elif result.status == "skipped":
            lines.append(f"{where} skipped: {result.error}")
    return lines


def result_json(state: PlanState, results: Sequence[StepResult]) -> dict[str, Any]:
    return {
        "steps": [
            {
                "level": result.step.level,
                "alias": result.step.alias,
                "apps": list(result.step.apps),
                "status": result.status,
                "applied": [
                    {"app": m.app, "name": m.name, "backwards": m.backwards} for m in result.applied
                ],
                "recorded": [
                    {"app": m.app, "name": m.name, "backwards": m.backwards}
                    for m in result.recorded
                ],
                "seconds": round(result.seconds, 3),
                "lock_wait": round(result.lock_wait, 3),
                "error": result.error if result.status in ("failed", "interrupted") else None,
                "failed_migration": result.failed_migration,
                "executed_sql": list(result.executed_sql),
                "traceback": result.traceback or None,
                "skip_reason": result.error if result.status == "skipped" else None,
                "earlier": result.earlier,
                "canary": result.canary,
                "worker": result.worker or None,
                "retries": [
                    {
                        "migration": r.migration,
                        "attempt": r.attempt,
                        "error": r.error,
                        "waited": r.waited,
                    }
                    for r in result.retries
                ],
            }
            for result in results
        ],
        "summary": [
            {
                "alias": row.info.alias,
                "apps": list(row.apps),
                "applied": row.applied,
                "recorded": row.recorded,
                "status": row.status,
                "seconds": round(row.seconds, 3),
                "earlier": row.earlier,
            }
            for row in summarize(state, results)
        ],
    }


def document(
    state: PlanState | None,
    results: Sequence[StepResult] | None,
    *,
    mode: str,
    ok: bool,
    run_id: str | None = None,
) -> dict[str, Any]:
    """The whole ``--json`` document (schema in README); ``state`` None: a resumed run that had
    nothing left to do."""
    return {
        "version": JSON_VERSION,
        "mode": mode,
        "ok": ok,
        "run_id": run_id,
        "plan": None if state is None else plan_json(state),
        "results": None if results is None or state is None else result_json(state, results),
    }
