"""The run journal's pure parts: a plan without the aliases a resumed run finished, what changed
between a recorded plan and today's, run ids. No database."""

from __future__ import annotations

import re
from dataclasses import replace

from migrator.execution.journal import everywhere, new_run_id, plan_changes, plan_hash
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


def test_a_new_migration_of_an_app_no_step_runs_changes_a_full_runs_hash() -> None:
    """On a full run every migrated alias ends with every migration recorded (as Django's
    migrate --database X records them): a new migration of any app changes what a resumed run
    must still do, even where no step runs that app."""
    names = {"users": ["0001_initial"], "cache": ["0001_initial"], "blog": ["0001_initial"]}
    more = {**names, "analytics": ["0001_initial"]}
    steps = [step("a", "users.0001_initial")]
    before, after = everywhere(PLAN, names), everywhere(PLAN, more)
    assert after == [*before[:0], "analytics.0001_initial", *before]
    assert plan_hash(steps, before) != plan_hash(steps, after)
    assert plan_changes(steps, steps, before, after) == [
        "every alias it migrates would record the new migrations analytics.0001_initial"
    ]
    # A run of some apps only (--app) records only theirs: the others do not count.
    partial = replace(PLAN, records_all=False)
    assert everywhere(partial, more) == []
    assert plan_hash(steps, everywhere(partial, names)) == plan_hash(steps)
