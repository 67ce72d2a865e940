"""The per-alias plan (issue 14): for every scenario and every alias the routers send migrations
to, what ``migrate_all --plan`` plans there (to apply, and only to record) is what Django's own
``manage.py migrate --plan --database X`` lists (the order is Django's executor's: each step is one
executor pass), once on fresh databases and once after ``migrate_all`` ran one app; SQLite, in
every matrix combination. Aliases the routers send
nothing to are left out on purpose: Django's loop would record every migration there, migrate_all
never touches them (harness.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import manage
from tests.parity.harness import Scenario, Side, environment, sqlite_sides
from tests.parity.test_parity import DIFFERENCES


def djangos_plan(scenario: Scenario, sides: dict[str, Side], alias: str, side: str) -> list[str]:
    """``migrate --plan --database ALIAS``'s migrations on ``side``'s databases, in its order."""
    result = manage(
        "migrate", "--plan", "--database", alias, env=environment(scenario, side, sides)
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Planned operations:", result.stdout
    return [line for line in lines[1:] if line and not line.startswith(" ")]


def our_plans(scenario: Scenario, sides: dict[str, Side]) -> dict[str, list[str]]:
    """Per alias, every migration ``migrate_all --plan --json`` plans there, in run order."""
    result = manage(
        "migrate_all", "--plan", "--json", env=environment(scenario, "migrate_all", sides)
    )
    assert result.returncode == 0, result.stderr
    plans: dict[str, list[str]] = {}
    for level in json.loads(result.stdout)["plan"]["levels"]:
        for step in level:
            found = plans.setdefault(step["alias"], [])
            for part in ("recorded_dependencies", "pending", "record_after"):
                found.extend(f"{m['app']}.{m['name']}" for m in step[part])
    return plans


@pytest.mark.parametrize("name", sorted(DIFFERENCES))
def test_each_alias_plans_what_djangos_migrate_plan_lists(name: str, tmp_path: Path) -> None:
    scenario = Scenario.load(name)
    with sqlite_sides(scenario, tmp_path) as sides:
        ours = our_plans(scenario, sides)
        assert ours, "migrate_all plans nothing"
        compare(scenario, sides, ours, "django")  # fresh: Django reads its own empty databases
        # After a partial run (the first step's first app, and what it depends on), on the
        # same databases for both commands.
        first = next(iter(ours.values()))[0].partition(".")[0]
        env = environment(scenario, "migrate_all", sides)
        result = manage("migrate_all", "--noinput", "--app", first, env=env)
        assert result.returncode == 0, result.stderr
        compare(scenario, sides, our_plans(scenario, sides), "migrate_all")


def compare(
    scenario: Scenario, sides: dict[str, Side], ours: dict[str, list[str]], side: str
) -> None:
    for alias, planned in ours.items():
        theirs = djangos_plan(scenario, sides, alias, side)
        assert len(planned) == len(set(planned)), f"{alias}: planned twice: {planned}"
        assert sorted(planned) == sorted(theirs), alias
