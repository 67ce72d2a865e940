"""The steps restricted to a deploy phase (migrator.planning.phases): pure, no database."""

from __future__ import annotations

from migrator.planning.phases import restrict, with_alias_plans
from migrator.types import PendingMigration, Step, StepState

A1, A2, A3 = (PendingMigration("a", f"000{n}") for n in (1, 2, 3))
B1 = PendingMigration("b", "0001")


def test_restrict_holds_back_what_the_tool_leaves_for_later() -> None:
    one = StepState(Step("x", ("a",), 0), (A1, A2), recorded_dependencies=(B1,))
    two = StepState(Step("x", ("c",), 1), (A3,))
    other = StepState(Step("y", ("a",), 0), (A1, A2, A3))
    states = with_alias_plans([one, two, other])
    assert [s.last for s in states] == [False, True, True]

    restricted = restrict(states, {"x": frozenset({A1, B1})})
    assert [(s.pending, s.recorded_dependencies, s.held) for s in restricted] == [
        ((A1,), (B1,), (A2,)),
        ((), (), (A3,)),
        ((A1, A2, A3), (), ()),  # an alias the tool did not restrict keeps everything
    ]
    # pre/post_migrate: the alias's plan is what runs; post_migrate follows its last step with work.
    assert [s.alias_plan for s in restricted] == [(A1, B1), (A1, B1), (A1, A2, A3)]
    assert [s.last for s in restricted] == [True, False, True]
    assert not restricted[1].has_work


def test_an_alias_with_nothing_left_keeps_its_first_step_as_the_last() -> None:
    states = with_alias_plans([StepState(Step("x", ("a",), 0), (A1,))])
    (held,) = restrict(states, {"x": frozenset()})
    assert (held.pending, held.held, held.alias_plan, held.last) == ((), (A1,), (), True)
