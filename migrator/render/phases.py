"""Deploy phases (``--phase``) in a plan: each migration's phase as the tool resolved it, what
a ``--phase pre`` run holds back for after the deploy, and the JSON of both."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from migrator.render.lines import Line
from migrator.text import plural
from migrator.types import MigrationPhase, PendingMigration, PlanState, StepState

TOOLS = {"syzygy": "django-syzygy", "safemigrate": "django-safemigrate"}


Lookup = dict[tuple[str, PendingMigration], MigrationPhase]


def lookup(state: PlanState) -> Lookup:
    """Each migration's phase by (alias, migration), made once per plan."""
    return {(p.alias, p.migration): p for p in state.phases}


def heading(state: PlanState) -> str:
    """`` (--phase pre, django-syzygy)`` after ``Plan``."""
    if state.phase is None:
        return ""
    tool = TOOLS.get(state.phase_tool, state.phase_tool)
    return f" (--phase {state.phase}, {tool})" if tool else f" (--phase {state.phase})"


def held_count(state: PlanState) -> str:
    """``, 2 held for --phase post`` after the plan's counts."""
    count = state.held_count
    return f", {count} held for --phase post" if count else ""


def label(phases: Lookup, alias: str, migration: PendingMigration) -> str:
    """``  [pre: stage pre_deploy]`` after a migration of the plan, with --phase."""
    found = phases.get((alias, migration))
    return f"  [{found.phase}: {found.why}]" if found is not None else ""


def held_lines(phases: Lookup, step_state: StepState) -> list[Line]:
    """A step's migrations that --phase pre leaves for after the deploy."""
    return [
        Line(
            f"    hold {m}{label(phases, step_state.step.alias, m)} until --phase post",
            "notice",
        )
        for m in step_state.held
    ]


def held_notice(state: PlanState) -> list[Line]:
    """After a plan or a run with --phase pre: what waits for --phase post, and where."""
    count = state.held_count
    if not count:
        return []
    aliases = list(dict.fromkeys(s.step.alias for s in state.states if s.held))
    return [
        Line(
            f"Held for after the deploy: {plural(count, 'migration')} on {', '.join(aliases)}; "
            "run 'migrate_all --phase post' once the new code is deployed.",
            "notice",
        )
    ]


def _items(migrations: Sequence[PendingMigration]) -> list[dict[str, Any]]:
    return [{"app": m.app, "name": m.name, "backwards": m.backwards} for m in migrations]


def step_json(step_state: StepState) -> dict[str, Any]:
    return {"held": _items(step_state.held)}


def phase_json(state: PlanState) -> dict[str, Any] | None:
    if state.phase is None:
        return None
    return {
        "asked": state.phase,
        "tool": state.phase_tool,
        "held_count": state.held_count,
        "migrations": [
            {
                "alias": p.alias,
                "app": p.migration.app,
                "name": p.migration.name,
                "backwards": p.migration.backwards,
                "phase": p.phase,
                "why": p.why,
                "runs": p.runs,
            }
            for p in state.phases
        ],
    }
