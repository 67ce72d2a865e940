"""Pure rendering of plans and results: lines of text with a style name, and JSON.

Commands map the style names onto ``self.style``; nothing here prints or touches a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from migrator.text import plural
from migrator.types import (
    AliasInfo,
    AliasStatus,
    Missing,
    PendingMigration,
    Plan,
    PlanState,
    Progress,
    StepResult,
    StepStatus,
)

JSON_VERSION = 1


Style = Literal["", "heading", "success", "warning", "error", "notice"]


@dataclass(frozen=True)
class Line:
    text: str
    style: Style = ""


def created_lines(missing: Sequence[Missing], *, dry_run: bool) -> list[Line]:
    verb = "Would create" if dry_run else "Created"
    return [
        Line(f"{verb} {item.kind} {item.name!r} for {item.alias}.", "notice") for item in missing
    ]


def describe(state: PlanState, alias: str) -> str:
    """``postgresql 15.4 127.0.0.1:5432/site, schema analytics``: what an alias is, no password."""
    info = state.plan.alias_info(alias)
    probe = state.probe(alias)
    vendor = f"{info.vendor} {probe.version}" if probe and probe.version else info.vendor
    schema = f", schema {probe.schema}" if probe and probe.schema else ""
    return f"{vendor} {info.location}{schema}"


def plan_lines(state: PlanState, verbosity: int = 1) -> list[Line]:
    plan = state.plan
    aliases = {step.alias for step in plan.steps}
    if not plan.ordered:
        return _up_to_date_lines(state)
    lines = [
        Line(
            f"Plan: {plural(len(plan.steps), 'step')} in {plural(len(plan.levels), 'level')} "
            f"on {plural(len(aliases), 'database')}, "
            f"{plural(state.pending_count, 'migration')} to run{_to_record(state)}.",
            "heading",
        )
    ]
    for number, level in enumerate(plan.levels, start=1):
        lines.append(Line(f"Level {number}", "heading"))
        for step in level:
            step_state = state.state(step)
            target = f" -> {step.target}" if step.target else ""
            lines.append(
                Line(
                    f"  {step.alias} ({describe(state, step.alias)}): {', '.join(step.apps)}{target}"
                )
            )
            if not step_state.has_work:
                lines.append(Line("    up to date", "success"))
            for migration in step_state.pending:
                verb = "unapply" if migration.backwards else "apply"
                lines.append(Line(f"    {verb} {migration}"))
            lines += _recorded_lines(step_state.recorded, verbosity)
    if not plan.levels:
        lines.append(
            Line("Nothing to migrate: no app with migrations is routed to any alias.", "warning")
        )
    for alias in plan.unplanned_aliases:
        lines.append(Line(f"Not touched: {alias} ({unplanned_reason(plan, alias)}).", "notice"))
    for label, operations in plan.unclassified.items():
        lines.append(
            Line(
                f"Unclassified operations in {label}: {', '.join(operations)}; taken to "
                "execute wherever allow_migrate(alias, app_label, **hints) allows.",
                "notice",
            )
        )
    for app in plan.homeless_apps:
        lines.append(
            Line(
                f"Not migrated anywhere: {app} (allow_migrate is False on every alias).", "warning"
            )
        )
    return lines


def _to_record(state: PlanState) -> str:
    count = state.recorded_count
    return f", {count} only to record" if count else ""


def _recorded_lines(recorded: Sequence[PendingMigration], verbosity: int) -> list[Line]:
    """Migrations a step only records (they execute nothing on its alias): a count, or each
    one with ``-v 2``."""
    if not recorded:
        return []
    if verbosity < 2:
        return [
            Line(
                f"    record {plural(len(recorded), 'migration')} that execute nothing here "
                "(-v 2 lists them)",
                "notice",
            )
        ]
    return [
        Line(f"    {'unrecord' if m.backwards else 'record'} {m} (executes nothing here)", "notice")
        for m in recorded
    ]


UNPLANNED_REASONS = {
    "not-a-database": "not a database: no ENGINE, Django's dummy backend; never connected to",
    "no-routes": "the routers allow no migrations there",
}


def unplanned_code(plan: Plan, alias: str) -> str:
    """Why ``alias`` is not in the plan: ``not-a-database`` (configured without an ENGINE, as
    ``"default": {}``) or ``no-routes``."""
    return "no-routes" if plan.alias_info(alias).is_database else "not-a-database"


def unplanned_reason(plan: Plan, alias: str) -> str:
    return UNPLANNED_REASONS[unplanned_code(plan, alias)]


def _up_to_date_lines(state: PlanState) -> list[Line]:
    """The fast path's plan: nothing pending anywhere, so no order was computed."""
    plan = state.plan
    lines = [
        Line(
            f"All {plural(len(plan.steps), 'database')} up to date: every migration file on disk is "
            "recorded (checked without loading the migration graph).",
            "heading",
        )
    ]
    lines += [
        Line(f"  {step.alias} ({describe(state, step.alias)}): {', '.join(step.apps)}")
        for step in plan.steps
    ]
    lines += [
        Line(f"Not touched: {alias} ({unplanned_reason(plan, alias)}).", "notice")
        for alias in plan.unplanned_aliases
    ]
    return lines


def progress_line(progress: Progress, *, prefix: bool = False) -> Line | None:
    """One line per event, the way Django's ``migrate`` prints its progress. With ``prefix``
    (parallel runs) every line starts with its alias, so lines of several aliases stay apart."""
    step = progress.step
    lead = f"[{step.alias}] " if prefix else ""
    if progress.event == "notice":  # about the whole run, not one alias: never prefixed
        return Line(progress.detail, "notice")
    if progress.event == "step-start":
        return Line(f"{lead}Migrating {step.alias}: {', '.join(step.apps)}", "heading")
    if progress.event == "lock-wait":
        return Line(f"{lead}  Waiting for the lock on {step.alias}: {progress.detail}", "warning")
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
            row.status,
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


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    """Columns padded to their widest cell; the ``right`` columns aligned right."""
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()
        for cells in [header, *rows]
    ]


def status_lines(rows: Sequence[AliasStatus]) -> list[Line]:
    """The menu's status: one row per alias, then what is wrong, then the pending total."""
    header = [
        "alias",
        "vendor",
        "database",
        "schemas",
        "reachable",
        "read-only",
        "applied",
        "pending",
    ]
    table: list[tuple[str, ...]] = []
    styles: list[Style] = []
    notes: list[Line] = []
    for row in rows:
        info, probe = row.info, row.probe
        if probe is None:
            table.append((info.alias, info.vendor, info.location, "", "-", "-", "-", "-"))
            styles.append("")
            why = (
                "no app is routed here"
                if info.is_database
                else "not a database (no ENGINE: Django's dummy backend)"
            )
            notes.append(Line(f"{info.alias}: {why}; never connected to.", "notice"))
            continue
        vendor = f"{info.vendor} {probe.version}" if probe.version else info.vendor
        table.append(
            (
                info.alias,
                vendor,
                info.location,
                ", ".join(probe.schemas),
                "yes" if probe.reachable else "no",
                "yes" if probe.read_only else "no",
                "?" if row.applied is None else str(len(row.applied)),
                "?" if row.pending is None else str(len(row.pending)),
            )
        )
        problems = list(probe.problems) if probe.reachable else []
        if row.error:
            problems.append(row.error)
        if probe.read_only:
            problems.append(f"read-only: {probe.read_only}")
        notes.extend(Line(f"{info.alias}: {problem}", "error") for problem in problems)
        notes.extend(
            Line(
                f"{m} does not exist yet; 'Create missing schemas/databases' creates it.", "warning"
            )
            for m in probe.missing
        )
        if problems:
            styles.append("error")
        else:
            styles.append("warning" if row.pending or probe.missing else "success")
    rendered = _table(header, table, right={6, 7})
    lines = [Line("Status", "heading"), Line(rendered[0])]
    lines += [Line(text, style) for text, style in zip(rendered[1:], styles, strict=True)]
    lines += notes
    planned = [row for row in rows if row.probe is not None]
    unknown = [row.info.alias for row in planned if row.pending is None]
    waiting = [row for row in planned if row.pending]
    total = sum(len(row.pending or ()) for row in planned)
    if waiting:
        overview = f"{plural(total, 'migration')} pending on {plural(len(waiting), 'database')}."
    else:
        overview = "Nothing pending."
    if unknown:
        overview += f" State unknown on {', '.join(unknown)}."
    style: Style = "error" if unknown else ("warning" if waiting else "success")
    lines.append(Line(overview, style))
    return lines


def alias_json(state: PlanState, info: AliasInfo) -> dict[str, Any]:
    probe = state.probe(info.alias)
    return {
        "alias": info.alias,
        "vendor": info.vendor,
        "version": probe.version if probe else "",
        "host": info.host,
        "port": info.port,
        "name": info.name,
        "schemas": list(probe.schemas) if probe else [],
        "schema": probe.schema if probe else "",
        "missing": [{"kind": m.kind, "name": m.name} for m in probe.missing] if probe else [],
    }


def plan_json(state: PlanState) -> dict[str, Any]:
    plan = state.plan
    return {
        "levels": [
            [
                {
                    "alias": step.alias,
                    "apps": list(step.apps),
                    "target": step.target,
                    "pending": [
                        {"app": m.app, "name": m.name, "backwards": m.backwards}
                        for m in state.state(step).pending
                    ],
                    "recorded_dependencies": [
                        {"app": m.app, "name": m.name, "backwards": m.backwards}
                        for m in state.state(step).recorded_dependencies
                    ],
                    "record_after": [
                        {"app": m.app, "name": m.name, "backwards": m.backwards}
                        for m in state.state(step).record_after
                    ],
                }
                for step in level
            ]
            for level in plan.levels
        ],
        "databases": [alias_json(state, plan.alias_info(a)) for a in _planned_aliases(state)],
        "ordered": plan.ordered,
        "unplanned_aliases": list(plan.unplanned_aliases),
        "unplanned": [
            {"alias": alias, "reason": unplanned_code(plan, alias)}
            for alias in plan.unplanned_aliases
        ],
        "homeless_apps": list(plan.homeless_apps),
        "pending_count": state.pending_count,
        "recorded_count": state.recorded_count,
        "unclassified": {key: list(ops) for key, ops in plan.unclassified.items()},
    }


def _planned_aliases(state: PlanState) -> list[str]:
    seen: list[str] = []
    for step in state.plan.steps:
        if step.alias not in seen:
            seen.append(step.alias)
    return seen


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
            }
            for row in summarize(state, results)
        ],
    }


def document(
    state: PlanState, results: Sequence[StepResult] | None, *, mode: str, ok: bool
) -> dict[str, Any]:
    """The whole ``--json`` document (schema in README)."""
    return {
        "version": JSON_VERSION,
        "mode": mode,
        "ok": ok,
        "plan": plan_json(state),
        "results": None if results is None else result_json(state, results),
    }
