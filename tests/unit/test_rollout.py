"""Staged rollout, pure (migrator.planning.rollout): which aliases a shard takes, the plan
restricted to a shard, and which steps of a level are canaries. No database."""

from __future__ import annotations

import pytest

from migrator.exceptions import UsageError
from migrator.planning.plan import build_plan
from migrator.planning.rollout import (
    canaries,
    expand_canaries,
    foreign_requirements,
    parse_shard,
    restrict,
    shard_aliases,
    shard_index,
    shard_of,
)
from migrator.types import AliasInfo, Shard, Step

TENANTS = [f"tenant_{n:03d}" for n in range(200)]


def own_keys(aliases: list[str]) -> dict[str, str]:
    """Every alias on a database of its own."""
    return {alias: f"sqlite|{alias}.sqlite3" for alias in aliases}


@pytest.mark.parametrize(("text", "index", "count"), [("1/2", 1, 2), ("2/2", 2, 2), ("3/7", 3, 7), ("1/1", 1, 1), (" 4 / 4 ", 4, 4)])  # fmt: skip
def test_a_shard_is_k_of_n(text: str, index: int, count: int) -> None:
    assert parse_shard(text) == Shard(index, count)


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "1/0", "a/b", "1/2/3", "-1/2", ""])
def test_a_bad_shard_is_refused_with_the_form(text: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse_shard(text)
    assert str(refused.value) == (
        f"--shard {text!r}: expected K/N with 1 <= K <= N, the K-th of N shards, "
        "e.g. --shard 1/4 ... --shard 4/4."
    )


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_the_shards_are_disjoint_and_cover_every_alias(count: int) -> None:
    keys = own_keys(TENANTS)
    parts = [shard_aliases(TENANTS, keys, Shard(k, count)) for k in range(1, count + 1)]
    assert sorted(alias for part in parts for alias in part) == TENANTS
    assert sum(len(part) for part in parts) == len(TENANTS)
    for part in parts:  # each in the given order; none empty with 200 aliases
        assert list(part) == [alias for alias in TENANTS if alias in part]
        assert part


def test_adding_aliases_moves_none_of_the_others() -> None:
    more = [*TENANTS, *(f"tenant_{n:03d}" for n in range(200, 260)), "eu-1"]
    for count in (2, 4):
        for k in range(1, count + 1):
            before = shard_aliases(TENANTS, own_keys(TENANTS), Shard(k, count))
            after = shard_aliases(more, own_keys(more), Shard(k, count))
            assert [alias for alias in after if alias in TENANTS] == list(before)


def test_the_hash_is_stable_across_processes() -> None:
    # SHA-256 of the name, not Python's salted hash(): pinned, so a change would show.
    assert (shard_of("default", 2), shard_of("users_db", 2)) == (2, 1)
    assert [shard_of(f"tenant_{n:03d}", 2) for n in range(6)] == [2, 1, 2, 1, 1, 2]


def test_aliases_on_one_database_land_in_one_shard() -> None:
    keys = own_keys(TENANTS)
    # Two aliases for each of ten databases, the second named very differently.
    for n in range(10):
        keys[f"twin_{n}"] = keys[f"tenant_{n:03d}"]
    aliases = list(keys)
    for count in (2, 3, 7):
        for n in range(10):
            assert shard_index(f"twin_{n}", keys, count) == shard_index(
                f"tenant_{n:03d}", keys, count
            )
        parts = [shard_aliases(aliases, keys, Shard(k, count)) for k in range(1, count + 1)]
        assert sorted(a for part in parts for a in part) == sorted(aliases)


def info(alias: str) -> AliasInfo:
    return AliasInfo(alias=alias, vendor="sqlite", engine="sqlite3", name=f"{alias}.sqlite3")


def test_a_restricted_plan_keeps_its_aliases_steps_and_their_own_requirements() -> None:
    aliases = [info(a) for a in ("default", "users_db", "t1", "t2")]
    plan = build_plan(
        aliases,
        ["users", "auth", "cache"],
        {"users": ["users_db"], "auth": ["default"], "cache": ["default", "t1", "t2"]},
        {"auth": {"users"}},
    )
    auth = plan.levels[1][0]
    users = next(s for s in plan.steps if s.alias == "users_db")
    assert (auth.alias, auth.apps, plan.requires[auth]) == (
        "default",
        ("auth",),
        frozenset({users}),
    )
    mine = restrict(plan, {"default", "t2"})
    assert [[s.alias for s in level] for level in mine.levels] == [["default", "t2"], ["default"]]
    assert mine.requires[auth] == frozenset()
    assert restrict(plan, {"users_db"}).levels == ((users,),)
    assert foreign_requirements(plan, {"default", "t2"}) == {auth: (users,)}
    assert foreign_requirements(plan, {"default", "users_db"}) == {}


def steps(*aliases: str) -> tuple[Step, ...]:
    return tuple(Step(alias, ("cache",), level=1) for alias in aliases)


def test_canaries_are_the_first_n_steps_or_the_chosen_aliases() -> None:
    level = steps("default", "t1", "t2", "t3", "t4")
    assert canaries(level, 2) == level[:2]
    assert canaries(level, 0) == ()
    assert canaries(level, 9) == level
    assert canaries(level, 1, {"t3", "t4"}) == level[3:4]
    assert canaries(level, 5, {"t4", "t2"}) == (level[2], level[4])  # settings order
    # A level without any chosen alias takes its first steps.
    assert canaries(level, 1, {"elsewhere"}) == level[:1]


def test_canary_patterns_expand_in_settings_order() -> None:
    aliases = ["default", "eu-2", "tenant_000", "eu-1", "tenant_001"]
    assert expand_canaries(["tenant_001", "eu-*"], aliases) == ("eu-2", "eu-1", "tenant_001")
    assert expand_canaries([], aliases) == ()
