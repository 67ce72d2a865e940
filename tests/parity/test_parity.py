"""Parity with Django's per-alias ``migrate`` (issue 12), scenario by scenario, on SQLite and
PostgreSQL; see ``harness.py`` for what is compared and the one difference allowed by design."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.parity.harness import Scenario, check_parity, pg_sides, sqlite_sides

SCENARIOS = [
    "docs_routers",
    "target_db",
    "model_name",
    "hints_only",
    "swapped_user",
    "deleted_model",
    "unmanaged_view",
]


@pytest.mark.parametrize("name", SCENARIOS)
def test_sqlite(name: str, tmp_path: Path) -> None:
    scenario = Scenario.load(name)
    with sqlite_sides(scenario, tmp_path) as sides:
        check_parity(scenario, sides)


@pytest.mark.postgres
@pytest.mark.parametrize("name", SCENARIOS)
def test_postgresql(name: str) -> None:
    scenario = Scenario.load(name)
    with pg_sides(scenario) as sides:
        check_parity(scenario, sides)
