"""A plan as text and JSON: the levels and steps, what each applies and only records, what is up
to date, aliases left out and why, databases and schemas created (or to be created)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from migrator.render import phases as phase_render
from migrator.render.lines import Line
from migrator.text import plural
from migrator.types import (
    AliasInfo,
    Missing,
    PendingMigration,
    Plan,
    PlanState,
    RetryDecision,
    StepState,
)


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
    found = phase_render.lookup(state)  # --phase: each migration's phase
    lines = [
        Line(
            f"Plan{_shard(state)}{phase_render.heading(state)}: {plural(len(plan.steps), 'step')} in {plural(len(plan.levels), 'level')} "
            f"on {plural(len(aliases), 'database')}, "
            f"{plural(state.pending_count, 'migration')} to run{_to_record(state)}"
            f"{phase_render.held_count(state)}.",
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
            if not step_state.has_work and not step_state.held:
                lines.append(Line("    up to date", "success"))
            retried = dict(step_state.retry) if verbosity >= 2 else {}
            for migration in step_state.pending:
                verb = "unapply" if migration.backwards else "apply"
                phase = phase_render.label(found, step.alias, migration)
                note = _retry_note(state, step.alias, retried.get(migration))
                lines.append(Line(f"    {verb} {migration}{phase}{note}"))
            lines += _recorded_lines(step_state.recorded, verbosity, found, step.alias)
            lines += phase_render.held_lines(found, step_state)
    if not plan.levels and state.shard is not None:
        lines.append(
            Line(
                f"Nothing to migrate in shard {state.shard}: no planned alias falls in it.",
                "notice",
            )
        )
    elif not plan.levels:
        lines.append(
            Line("Nothing to migrate: no app with migrations is routed to any alias.", "warning")
        )
    lines += phase_render.held_notice(state)
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


def _retry_note(state: PlanState, alias: str, decision: RetryDecision | None) -> str:
    """`` [lock retries: yes; ...]`` after a migration with ``-v 2``, where MIGRATOR["LOCK_RETRIES"]
    is on for the alias."""
    if decision is None or alias not in state.lock_retries:
        return ""
    return f"  [lock retries: {decision.kind}; {decision.reason}]"


def _pending_json(state: PlanState, step_state: StepState) -> list[dict[str, Any]]:
    return [
        {
            "app": m.app,
            "name": m.name,
            "backwards": m.backwards,
            "retry": decision.kind,
            "retry_reason": decision.reason,
        }
        for m, decision in _decisions(step_state)
    ]


def _decisions(step_state: StepState) -> list[tuple[PendingMigration, RetryDecision]]:
    """Each pending migration with its retry decision (a state not prepared: "no" for all)."""
    found = dict(step_state.retry)
    unknown = RetryDecision("no", "MIGRATOR['LOCK_RETRIES'] is not set for this alias")
    return [(m, found.get(m, unknown)) for m in step_state.pending]


def _to_record(state: PlanState) -> str:
    count = state.recorded_count
    return f", {count} only to record" if count else ""


def _recorded_lines(
    recorded: Sequence[PendingMigration],
    verbosity: int,
    found: phase_render.Lookup | None = None,
    alias: str = "",
) -> list[Line]:
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
        Line(
            f"    {'unrecord' if m.backwards else 'record'} {m} (executes nothing here)"
            f"{phase_render.label(found or {}, alias, m)}",
            "notice",
        )
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
                    "pending": _pending_json(state, state.state(step)),
                    "recorded_dependencies": [
                        {"app": m.app, "name": m.name, "backwards": m.backwards}
                        for m in state.state(step).recorded_dependencies
                    ],
                    "record_after": [
                        {"app": m.app, "name": m.name, "backwards": m.backwards}
                        for m in state.state(step).record_after
                    ],
                    **phase_render.step_json(state.state(step)),  # "held": --phase pre
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
        "phase": phase_render.phase_json(state),  # --phase; else null
        "lock_retries": {
            alias: {
                "retries": value.retries,
                "backoff": value.backoff,
                "max_backoff": value.max_backoff,
                "ddl_lock_timeout": value.ddl_lock_timeout,
            }
            for alias, value in state.lock_retries.items()
        },
        "shard": None
        if state.shard is None
        else {
            "index": state.shard.index,
            "count": state.shard.count,
            "aliases": list(state.shard.aliases),
        },
    }


def _shard(state: PlanState) -> str:
    """`` (shard 2/4)`` after ``Plan`` with ``--shard``."""
    return "" if state.shard is None else f" (shard {state.shard})"


def _planned_aliases(state: PlanState) -> list[str]:
    seen: list[str] = []
    for step in state.plan.steps:
        if step.alias not in seen:
            seen.append(step.alias)
    return seen
