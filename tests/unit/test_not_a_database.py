"""Aliases that are not databases (``"default": {}``) and aliases whose database a service or an
option file names, as the pure layers show them: no database, no Django settings needed."""

from __future__ import annotations

import pytest

from migrator import render
from migrator.exceptions import UsageError
from migrator.planning.plan import build_plan, validate_selection
from migrator.types import DUMMY_ENGINE, DUMMY_VENDOR, AliasInfo, PlanState, Selection, StepState

DUMMY = AliasInfo(alias="default", vendor=DUMMY_VENDOR, engine=DUMMY_ENGINE, name="")
PRIMARY = AliasInfo(
    alias="primary", vendor="sqlite", engine="django.db.backends.sqlite3", name="primary.db"
)
REPLICA = AliasInfo(
    alias="replica", vendor="sqlite", engine="django.db.backends.sqlite3", name="replica.db"
)


def test_dummy_alias_is_listed_as_not_a_database() -> None:
    plan = build_plan((DUMMY, PRIMARY, REPLICA), ("blog",), {"blog": ("primary",)}, {})
    state = PlanState(plan, tuple(StepState(step, ()) for step in plan.steps))
    assert plan.unplanned_aliases == ("default", "replica")
    assert [line.text for line in render.plan_lines(state)][-2:] == [
        "Not touched: default (not a database: no ENGINE, Django's dummy backend; never "
        "connected to).",
        "Not touched: replica (the routers allow no migrations there).",
    ]
    assert render.plan_json(state)["unplanned"] == [
        {"alias": "default", "reason": "not-a-database"},
        {"alias": "replica", "reason": "no-routes"},
    ]
    assert (DUMMY.is_database, DUMMY.location, PRIMARY.is_database) == (False, "-", True)


def test_database_option_naming_a_dummy_alias_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as error:
        validate_selection(
            Selection(databases=("default",)),
            ["default", "primary"],
            ["blog"],
            ["blog"],
            not_databases=("default",),
        )
    assert str(error.value) == (
        "--database default: DATABASES['default'] is not a database: it has no ENGINE, so "
        "Django uses its dummy backend there (every query fails) and nothing can be migrated on "
        "it. Databases: primary."
    )
    validate_selection(
        Selection(databases=("primary",)),
        ["default", "primary"],
        ["blog"],
        ["blog"],
        not_databases=("default",),
    )


@pytest.mark.parametrize(
    ("info", "location"),
    [
        (AliasInfo("a", "postgresql", "", "", source="service site"), "service site"),
        (
            AliasInfo("a", "mysql", "", "", host="db1", port="3307", source="read_default_file f"),
            "db1:3307 (read_default_file f)",
        ),
        (AliasInfo("a", "postgresql", "", "site", source="service site"), "localhost/site"),
        (AliasInfo("a", "postgresql", "", "site", host="h", port="5432"), "h:5432/site"),
    ],
)
def test_location_before_and_after_the_server_named_the_database(
    info: AliasInfo, location: str
) -> None:
    assert info.location == location
