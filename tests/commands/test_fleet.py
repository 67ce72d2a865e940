"""Targets from code (issue 15): MIGRATOR["DATABASES"] names a callable that returns more
aliases (tests/fleet.py: 200 SQLite tenants, the cache app routed to each); they are migrated as
settings' aliases are, selected by pattern, called once per run, never by Django's own commands."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from migrator.project.targets import unload_targets
from tests.fleet import TENANT_PASSWORD
from tests.helpers import PROJECT_MIGRATIONS, manage, run, sqlite_recorded


def fleet_env(folder: Path, tenants: int = 200) -> dict[str, str]:
    return {
        "MIGRATOR_VAR_DIR": str(folder),
        "DJANGO_SETTINGS_MODULE": "tests.settings.fleet",
        "MIGRATOR_TEST_TENANTS": str(tenants),
    }


def tenant_tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    return names


def calls(folder: Path) -> list[str]:
    path = folder / "tenants-called"
    return path.read_text().split() if path.exists() else []


def test_two_hundred_tenants_from_code_are_migrated_like_settings_aliases(tmp_path: Path) -> None:
    result = manage("migrate_all", "--noinput", "--parallel", "4", env=fleet_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "Done: 222 migrations applied, 4493 only recorded on 205 databases."
    )
    assert len(calls(tmp_path)) == 1  # once, in the command: the workers inherit the aliases
    for n in (0, 57, 199):
        tenant = tmp_path / f"tenant_{n:03d}.sqlite3"
        assert tenant_tables(tenant) - {"sqlite_sequence"} == {
            "django_migrations",
            "cache_cacheentry",
        }
        # What Django's migrate --database X records on an alias it migrates: every migration.
        assert sqlite_recorded(tenant) == PROJECT_MIGRATIONS
    assert TENANT_PASSWORD not in result.stdout + result.stderr


def test_a_pattern_selects_tenants_and_nothing_else_is_touched(tmp_path: Path) -> None:
    env = fleet_env(tmp_path, tenants=30)
    result = manage("migrate_all", "--noinput", "--database", "tenant_01?", env=env)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("*.sqlite3")) == [
        f"tenant_{n:03d}.sqlite3" for n in range(10, 20)
    ]
    check = manage("migrate_all", "--check", "--database", "tenant_01*", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    check = manage("migrate_all", "--check", "--database", "tenant_02*", env=env)
    assert check.returncode == 1
    assert "pending on tenant_020, tenant_021," in check.stderr


def test_djangos_own_commands_never_call_it(tmp_path: Path) -> None:
    result = manage("check", env=fleet_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path) == []
    plan = manage("migrate_all", "--plan", env=fleet_env(tmp_path, tenants=3))
    assert plan.returncode == 0, plan.stderr
    assert len(calls(tmp_path)) == 1


@pytest.fixture
def unloaded() -> Iterator[None]:
    yield
    unload_targets()


def bad(**entries: object) -> dict[str, object]:
    return entries


def not_a_dict() -> list[str]:
    return ["tenant_1"]


def raising() -> dict[str, object]:
    raise RuntimeError("the tenant table is locked")


NOT_CALLABLE = 42


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "tests.commands.test_fleet.nosuch",
            "MIGRATOR['DATABASES'] = 'tests.commands.test_fleet.nosuch': cannot import it "
            "(AttributeError: module 'tests.commands.test_fleet' has no attribute 'nosuch'); "
            "name a callable that returns {alias: settings dict}.",
        ),
        (
            "tests.commands.test_fleet.NOT_CALLABLE",
            "MIGRATOR['DATABASES'] = 'tests.commands.test_fleet.NOT_CALLABLE' is not callable; "
            "name a function that returns the aliases.",
        ),
        (
            "tests.commands.test_fleet.not_a_dict",
            "MIGRATOR['DATABASES'] = 'tests.commands.test_fleet.not_a_dict' returned list; it "
            "must return a dict {alias: settings dict}.",
        ),
        (
            "tests.commands.test_fleet.raising",
            "MIGRATOR['DATABASES'] = 'tests.commands.test_fleet.raising' raised RuntimeError: the "
            "tenant table is locked. Nothing was migrated (--traceback shows where).",
        ),
        (
            "tests.commands.test_fleet.clashing",
            "MIGRATOR['DATABASES'] = 'tests.commands.test_fleet.clashing' returned alias "
            "'users_db', which DATABASES already has; give the callable's aliases names of their "
            "own.",
        ),
        (
            "tests.commands.test_fleet.no_engine",
            "MIGRATOR['DATABASES'] = 'tests.commands.test_fleet.no_engine' returned 'tenant_1' "
            "without an ENGINE; each value is a DATABASES entry (ENGINE, NAME, ...).",
        ),
        (
            "tenants",
            "MIGRATOR['DATABASES'] = 'tenants' must be the dotted path of a callable that returns "
            "{alias: settings dict}, e.g. 'myproject.tenants.databases'.",
        ),
    ],
)
def test_a_bad_callable_is_refused_before_anything(
    sqlite_project: Path, unloaded: None, path: str, message: str
) -> None:
    with override_settings(MIGRATOR={"DATABASES": path}):
        out, err, code = run("migrate_all", plan_only=True)
    assert (out, err, code) == ("", f"CommandError: {message}\n", 2)
    assert list(sqlite_project.iterdir()) == []


def clashing() -> dict[str, object]:
    return {"users_db": {"ENGINE": "django.db.backends.sqlite3", "NAME": "x.sqlite3"}}


def no_engine() -> dict[str, object]:
    return {"tenant_1": {"NAME": "x.sqlite3"}}


def sqlite_contents(path: Path) -> dict[str, object]:
    """An SQLite file as comparable data: its schema, every table's rows (django_migrations'
    as (app, name) with their counts: ids and times differ between runs)."""
    with sqlite3.connect(path) as db:
        schema = sorted(db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        found: dict[str, object] = {"schema": schema}
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            if table == "django_migrations":
                found[table] = Counter(db.execute("SELECT app, name FROM django_migrations"))
            elif table != "sqlite_sequence":
                found[table] = sorted(db.execute(f'SELECT * FROM "{table}"'))
    db.close()
    return found


def test_a_tenant_from_code_ends_as_djangos_migrate_leaves_a_settings_alias(
    tmp_path: Path,
) -> None:
    """Parity: tenant_twin is in DATABASES and migrated by Django's own migrate; tenant_007 comes
    from the callable and is migrated by migrate_all. Both files end equal."""
    env = {**fleet_env(tmp_path, tenants=10), "DJANGO_SETTINGS_MODULE": "tests.settings.fleet_twin"}
    django = manage("migrate", "--database", "tenant_twin", "--noinput", env=env)
    assert django.returncode == 0, django.stderr
    ours = manage("migrate_all", "--database", "tenant_007", "--noinput", env=env)
    assert ours.returncode == 0, ours.stderr
    assert sorted(p.name for p in tmp_path.glob("*.sqlite3")) == [
        "tenant_007.sqlite3",
        "tenant_twin.sqlite3",
    ]
    twin = sqlite_contents(tmp_path / "tenant_twin.sqlite3")
    tenant = sqlite_contents(tmp_path / "tenant_007.sqlite3")
    assert tenant == twin
    # Not vacuous: the cache app's table, and every migration recorded exactly once.
    assert "cache_cacheentry" in tenant
    assert tenant["django_migrations"] == Counter(
        tuple(key.split(".", 1)) for key in PROJECT_MIGRATIONS
    )
