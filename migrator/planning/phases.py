"""Pure: the steps of a plan restricted to one deploy phase (``--phase``), from what the phase tool
decided per alias (``migrator.project.phases``), and each alias's whole plan across its steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from migrator.types import PendingMigration, StepState


def with_alias_plans(states: Sequence[StepState]) -> tuple[StepState, ...]:
    """Each step's ``alias_plan`` (everything the run does on its alias, in order: the ``plan``
    of pre/post_migrate) and ``last`` (the alias's last step with work: post_migrate follows
    it; its first step when none has work)."""
    by_alias: dict[str, list[PendingMigration]] = {}
    final: dict[str, int] = {}
    for index, state in enumerate(states):
        alias = state.step.alias
        by_alias.setdefault(alias, []).extend(
            (*state.pending, *state.recorded_dependencies, *state.record_after)
        )
        if state.has_work or alias not in final:
            final[alias] = index
    return tuple(
        replace(
            state,
            alias_plan=tuple(by_alias[state.step.alias]),
            last=final[state.step.alias] == index,
        )
        for index, state in enumerate(states)
    )


def restrict(
    states: Sequence[StepState], runs: Mapping[str, frozenset[PendingMigration]]
) -> tuple[StepState, ...]:
    """The steps with only the migrations ``runs`` keeps on their alias (aliases it does not
    name keep everything); the others become the step's ``held``. ``alias_plan`` and ``last``
    are computed again from what is left."""
    restricted = []
    for state in states:
        keep = runs.get(state.step.alias)
        if keep is None:
            restricted.append(state)
            continue
        every = (*state.pending, *state.recorded_dependencies, *state.record_after)
        restricted.append(
            replace(
                state,
                pending=tuple(m for m in state.pending if m in keep),
                recorded_dependencies=tuple(m for m in state.recorded_dependencies if m in keep),
                record_after=tuple(m for m in state.record_after if m in keep),
                held=(*state.held, *(m for m in every if m not in keep)),
            )
        )
    return with_alias_plans(restricted)
