"""The run journal's pure parts: a plan without the aliases a resumed run finished, what changed
between a recorded plan and today's, run ids. No database."""

from __future__ import annotations

import re

from migrator.execution.journal import new_run_id, plan_changes, plan_hash
from migrator.planning.plan import without_aliases
from migrator.types import AliasInfo, Plan, Step

A = Step("a", ("users",), level=1)
B = Step("b", ("cache",), level=1)
C = Step("c", ("blog",), level=2)
PLAN = Plan(
    levels=((A, B), (C,)),
    aliases=tuple(AliasInfo(alias, "sqlite", "x", f"{alias}.db") for alias in "abc"),
    requires={A: frozenset(), B: frozenset(), C: frozenset({A, B})},
)


def test_a_plan_without_done_aliases_keeps_order_and_drops_empty_levels() -> None:
    rest = without_aliases(PLAN, {"a", "b"})
    assert rest.levels == ((C,),)
    assert rest.requires == {C: frozenset()}
    assert rest.aliases == PLAN.aliases  # the report still names every alias
    assert without_aliases(PLAN, {"b"}).levels == ((A,), (C,))
    assert without_aliases(PLAN, set()) is PLAN


def step(alias: str, *migrations: str, level: int = 1) -> dict[str, object]:
    return {
        "level": level,
        "alias": alias,
        "apps": ["cache"],
        "target": None,
        "migrations": list(migrations),
    }


def test_plan_changes_name_steps_and_migrations() -> None:
    before = [step("a", "cache.0001"), step("b", "cache.0001")]
    assert plan_changes(before, before) == []
    after = [step("a", "cache.0001", "cache.0002"), step("c", "cache.0001", level=2)]
    assert plan_changes(before, after) == [
        "step c (cache) is new",
        "step b (cache) is gone",
        "a (cache) has new migrations cache.0002",
    ]
    assert plan_changes(before, list(reversed(before))) == ["the steps are in another order"]
    assert plan_hash(before) != plan_hash(list(reversed(before)))


def test_run_ids_sort_by_time_and_are_unique() -> None:
    ids = [new_run_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert ids == sorted(ids, key=lambda i: i.split("-")[0])
    assert re.fullmatch(r"\d{8}T\d{12}Z-[0-9a-f]{6}", ids[0])
