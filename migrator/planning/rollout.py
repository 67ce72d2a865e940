"""Staged rollout, pure: which aliases a shard (``--shard K/N``) takes, the plan restricted to
some aliases, and which steps of a level are canaries (``--canary N``, ``MIGRATOR["CANARIES"]``).

No ``django.db`` here: the callers pass each alias's database key (``project.databases``)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from fnmatch import fnmatchcase

from migrator.exceptions import UsageError
from migrator.types import Plan, PlanState, Shard, Step

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def parse_shard(text: str) -> Shard:
    """``K/N`` from ``--shard``: the K-th of N shards, 1 <= K <= N."""
    found = _SHARD.fullmatch(text)
    if found:
        index, count = int(found[1]), int(found[2])
        if 1 <= index <= count:
            return Shard(index=index, count=count)
    raise UsageError(
        f"--shard {text!r}: expected K/N with 1 <= K <= N, the K-th of N shards, "
        "e.g. --shard 1/4 ... --shard 4/4."
    )


def shard_of(name: str, count: int) -> int:
    """The shard (1..count) of an alias name: a stable hash (SHA-256, not Python's ``hash()``,
    which changes per process), so an alias keeps its shard whatever other aliases come and go."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def shard_aliases(aliases: Sequence[str], keys: Mapping[str, str], shard: Shard) -> tuple[str, ...]:
    """The aliases of ``shard``, in the given order (``shard_index``)."""
    return tuple(alias for alias in aliases if shard_index(alias, keys, shard.count) == shard.index)


def shard_index(alias: str, keys: Mapping[str, str], count: int) -> int:
    """The shard (1..count) of ``alias``: its name's hash, except that aliases on one database
    (equal ``keys``: alias -> database key, every alias of the project) go together, by the
    hash of the group's smallest alias name."""
    key = keys.get(alias)
    group = [other for other, found in keys.items() if found == key] if key is not None else []
    return shard_of(min(group, default=alias), count)


def restrict(plan: Plan, aliases: Collection[str]) -> Plan:
    """``plan`` with only the steps on ``aliases`` (levels that lose every step are dropped; the
    steps keep their level numbers); requirements on steps left out are dropped too."""
    wanted = set(aliases)
    levels = tuple(
        kept
        for kept in (tuple(step for step in level if step.alias in wanted) for level in plan.levels)
        if kept
    )
    kept_steps = {step for level in levels for step in level}
    return replace(
        plan,
        levels=levels,
        requires={
            step: frozenset(required & kept_steps)
            for step, required in plan.requires.items()
            if step in kept_steps
        },
    )


def restrict_state(state: PlanState, aliases: Collection[str]) -> PlanState:
    """``state`` with only the steps (and probes) of ``aliases``."""
    wanted = set(aliases)
    return replace(
        state,
        plan=restrict(state.plan, wanted),
        states=tuple(s for s in state.states if s.step.alias in wanted),
        probes=tuple(p for p in state.probes if p.info.alias in wanted),
    )


def foreign_requirements(plan: Plan, own: Collection[str]) -> dict[Step, tuple[Step, ...]]:
    """Per step on ``own`` aliases, the steps on other aliases it requires, in plan order."""
    mine = set(own)
    found: dict[Step, tuple[Step, ...]] = {}
    for step in plan.steps:
        if step.alias not in mine:
            continue
        others = [s for s in plan.requires.get(step, ()) if s.alias not in mine]
        if others:
            found[step] = tuple(sorted(others, key=plan.steps.index))
    return found


def canaries(level: Sequence[Step], count: int, chosen: Collection[str] = ()) -> tuple[Step, ...]:
    """The canary steps of a level (the caller passes the steps with work only): the first
    ``count`` steps (settings order) on the ``chosen`` aliases (``MIGRATOR["CANARIES"]``,
    patterns expanded); when none is given, or none of them has a step here, the first
    ``count`` steps."""
    if count < 1:
        return ()
    listed = [step for step in level if step.alias in chosen]
    return tuple((listed or list(level))[:count])


def expand_canaries(patterns: Sequence[str], aliases: Sequence[str]) -> tuple[str, ...]:
    """``MIGRATOR["CANARIES"]`` (names and shell-style patterns, validated by ``conf``) as the
    aliases they match, in settings order."""
    return tuple(alias for alias in aliases if any(fnmatchcase(alias, p) for p in patterns))
