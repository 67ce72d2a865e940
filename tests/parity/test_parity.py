"""Parity with Django's per-alias ``migrate`` (issue 12), scenario by scenario, on SQLite and
PostgreSQL; see ``harness.py`` for what is compared and the one difference allowed by design
(an alias the routers send nothing to stays untouched). Each scenario's docstring, in its
package's ``__init__.py``, says what it proves.

The scenarios where migrate_all does not yet do what Django does are strict xfails, so the suite
flips to a failure (XPASS) when the feature lands: remove the mark then. ``raises=ParityMismatch``
keeps every other failure (a broken fixture, an unreachable server) a plain failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.parity.harness import ParityMismatch, Scenario, check_parity, pg_sides, sqlite_sides

# Scenario -> what migrate_all does differently today (the same on SQLite and PostgreSQL).
DIFFERENCES = {
    "no_routers": None,
    "docs_routers": None,
    "target_db": None,
    "model_name": None,
    "hints_only": None,
    "swapped_user": None,
    "deleted_model": None,
    "unmanaged_view": None,
    "squashed": None,
}


def cases() -> list[Any]:
    return [
        pytest.param(
            name,
            marks=[]
            if difference is None
            else [
                pytest.mark.xfail(
                    reason=f"issue 12: {difference}", raises=ParityMismatch, strict=True
                )
            ],
            id=name,
        )
        for name, difference in DIFFERENCES.items()
    ]


@pytest.mark.parametrize("name", cases())
def test_sqlite(name: str, tmp_path: Path) -> None:
    scenario = Scenario.load(name)
    with sqlite_sides(scenario, tmp_path) as sides:
        check_parity(scenario, sides)


@pytest.mark.postgres
@pytest.mark.parity_postgres  # the matrix deselects it outside the default combination
@pytest.mark.parametrize("name", cases())
def test_postgresql(name: str) -> None:
    scenario = Scenario.load(name)
    with pg_sides(scenario) as sides:
        check_parity(scenario, sides)
