"""Django's system checks around a run: before anything without the databases (no check opens a
connection), and on the aliases a run migrates only after preflight, never in a mode that must
change nothing (issue 14).

Django 6.1 hands every alias to the checks unless told which: JSONField's check (the testproject's
analytics.Event.payload) then connects to analytics_db, which creates its SQLite file, so ``--plan``
created ``analytics_db.sqlite3``. On older Django these tests hold as well."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core import checks as django_checks
from django.test import override_settings

from tests.commands.test_doctor import SEVERAL_HOMES, routers
from tests.conftest import aliases_pointed_at, sqlite_entry
from tests.helpers import ALIASES, manage, recorded, run, sqlite_tables

Check = Callable[..., list[django_checks.CheckMessage]]
LEVEL_1 = "default, users_db, analytics_db, legacy_db, cache_db"


def files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ({"plan_only": True}, 0),
        ({"plan_only": True, "json": True}, 0),
        ({"check": True}, 1),  # 115 pending
        ({"check": True, "json": True}, 1),
        ({"plan_only": True, "create_schemas": True}, 0),
        ({"doctor": True}, 0),
        ({"doctor": True, "json": True}, 0),
        ({"graph": "mermaid"}, 0),
        ({"graph": "dot"}, 0),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, dict) else str(value),
)
def test_modes_that_change_nothing_create_no_database_file(
    sqlite_project: Path, mode: dict[str, Any], code: int
) -> None:
    for command in ("migrate_all", "migrator"):
        _, err, returned = run(command, skip_checks=False, **mode)
        assert returned == code, err
        assert files(sqlite_project) == []


def test_plan_in_a_child_process_creates_no_database_file(tmp_path: Path) -> None:
    # As an operator runs it: the checks are on unless --skip-checks.
    env = {"MIGRATOR_VAR_DIR": str(tmp_path)}
    plan = manage("migrate_all", "--plan", env=env)
    assert (plan.returncode, plan.stderr) == (0, "")
    assert "  analytics_db (sqlite " in plan.stdout
    as_json = manage("migrate_all", "--plan", "--json", env=env)
    assert json.loads(as_json.stdout)["ok"] is True
    assert files(tmp_path) == []


def test_the_checks_get_the_migrated_aliases_only_in_a_run_after_preflight(
    sqlite_project: Path, register_check: Callable[..., None]
) -> None:
    seen: list[tuple[str, ...]] = []  # the databases each call of the two checks got

    def static(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Any]:
        seen.append(tuple(databases or ()))
        return []

    def database(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Any]:
        seen.append(tuple(databases or ()))
        return []

    register_check(static)
    # Django up to 6.0 calls it with no databases too; 6.1 leaves it out when there are none.
    register_check(database, django_checks.Tags.database)
    for mode in ({"plan_only": True}, {"check": True}):
        run("migrate_all", skip_checks=False, **mode)
    assert set(seen) == {()}

    seen.clear()
    missing = sqlite_project / "missing" / "users_db.sqlite3"
    with aliases_pointed_at({"users_db": sqlite_entry(missing)}):
        _, err, code = run("migrate_all", skip_checks=False, databases=["users_db"])
    assert code == 1
    assert err.startswith("CommandError: Preflight found 1 problem; nothing was changed on any ")
    assert set(seen) == {()}  # preflight refused: no database check ran

    seen.clear()
    _, err, code = run("migrate_all", skip_checks=False, databases=["users_db", "cache_db"])
    assert (err, code) == ("", 0)
    assert set(seen) == {(), ("users_db", "cache_db")}

    seen.clear()  # nothing left to migrate there: no database is checked
    assert run("migrate_all", skip_checks=False, databases=["users_db"])[2] == 0
    assert set(seen) == {()}


def users_db_says(level: type[django_checks.Error | django_checks.Warning]) -> Check:
    """A database check that finds one ``level`` issue when it is given users_db."""

    def check(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Any]:
        return [
            level("users_db cannot take this.", hint="Upgrade it.", id="tests.D001")
            for alias in databases or ()
            if alias == "users_db"
        ]

    return check


def test_a_database_check_error_refuses_the_run_before_its_first_migration(
    sqlite_project: Path, register_check: Callable[..., None]
) -> None:
    register_check(users_db_says(django_checks.Error), django_checks.Tags.database)
    out, err, code = run("migrate_all", skip_checks=False, plan_only=True)
    assert (err, code) == ("", 0)  # --plan checks no database
    assert files(sqlite_project) == []

    out, err, code = run("migrate_all", skip_checks=False)
    assert (out, code) == ("", 2)
    assert err == (
        f"CommandError: System check identified some issues on {LEVEL_1}:\n\nERRORS:\n"
        "?: (tests.D001) users_db cannot take this.\n\tHINT: Upgrade it.\n"
        "Fix them, or pass --skip-checks to run anyway; nothing was migrated.\n"
    )
    for alias in ALIASES:
        path = sqlite_project / f"{alias}.sqlite3"
        assert not path.exists() or sqlite_tables(path) == set(), alias

    out, err, code = run("migrate_all", skip_checks=False, json=True)
    assert code == 2
    assert json.loads(out)["error"]["message"] == err[len("CommandError: ") : -1]

    _, _, code = run("migrate_all")  # call_command: checks skipped unless skip_checks=False
    assert code == 0
    assert recorded("users_db")


@override_settings(**routers("CacheTwiceRouter"))
def test_database_check_warnings_are_shown_once_after_the_others(
    sqlite_project: Path, register_check: Callable[..., None]
) -> None:
    register_check(users_db_says(django_checks.Warning), django_checks.Tags.database)
    out, err, code = run("migrate_all", skip_checks=False)
    assert code == 0
    assert err == (
        "System check identified some issues:\n\nWARNINGS:\n"
        f"cache.CacheEntry: (migrator.W001) {SEVERAL_HOMES.message}\n\tHINT: {SEVERAL_HOMES.hint}\n"
        f"System check identified some issues on {LEVEL_1}:\n\nWARNINGS:\n"
        "?: (tests.D001) users_db cannot take this.\n\tHINT: Upgrade it.\n"
    )
    assert out.splitlines()[-1] == "Done: 23 migrations applied, 92 only recorded on 5 databases."
