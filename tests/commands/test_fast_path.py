"""The no-op fast path (file names on disk vs recorded names) agrees with the full planner."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connections
from django.test import override_settings

from migrator import api
from migrator.exceptions import PreflightError
from migrator.types import Health, Selection
from tests.helpers import run


def both(selection: Selection = Selection()) -> tuple[bool, int]:
    """(the fast path alone decided "all up to date", pending count), after checking that the
    fast and the full planner agree on what is pending."""
    fast = api.prepare(selection, fast=True)
    full = api.prepare(selection, fast=False)
    assert full.state.plan.ordered
    assert fast.state.todo_count == full.state.todo_count
    return not fast.state.plan.ordered, full.state.todo_count


def forget(alias: str, app: str, name: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = %s AND name = %s", [app, name])


def test_fresh_databases_are_not_up_to_date(sqlite_project: Path) -> None:
    done, pending = both()
    assert (done, pending) == (False, 115)  # 22 to run, 93 only to record


def test_fully_migrated_is_up_to_date(sqlite_project: Path) -> None:
    run("migrate_all")
    done, pending = both()
    assert (done, pending) == (True, 0)


@pytest.mark.parametrize(
    ("alias", "app", "name"),
    [
        ("users_db", "users", "0002_user_is_active"),
        ("default", "blog", "0002_post_slug"),
        ("cache_db", "cache", "0001_initial"),
    ],
)
def test_one_unrecorded_migration_is_noticed(
    sqlite_project: Path, alias: str, app: str, name: str
) -> None:
    run("migrate_all")
    forget(alias, app, name)
    done, pending = both()
    assert (done, pending) == (False, 1)
    # A selection that excludes that alias is still up to date on both paths.
    other = "cache_db" if alias != "cache_db" else "users_db"
    done, pending = both(Selection(databases=(other,)))
    assert (done, pending) == (True, 0)


def test_a_gap_in_history_falls_back_to_the_full_planner(sqlite_project: Path) -> None:
    run("migrate_all")
    forget("default", "blog", "0001_initial")  # 0002 stays recorded: inconsistent history
    for fast in (True, False):
        with pytest.raises(PreflightError) as error:
            api.prepare(fast=fast)
        assert str(error.value) == (
            "Preflight found 1 problem; nothing was changed on any database:\n"
            "  default: migration blog.0002_post_slug is recorded as applied before its dependency "
            "blog.0001_initial (InconsistentMigrationHistory). Record the dependency if its "
            "changes are in the database, or unrecord the later migration; 'manage.py "
            "showmigrations --database default' shows the history."
        )


def test_fast_path_sees_a_forgotten_row_that_only_records(sqlite_project: Path) -> None:
    run("migrate_all")
    forget("default", "users", "0001_initial")  # executes nothing on default: only recorded
    # A full run records every migration on every alias it migrates, so the missing row is work:
    # the fast path hands over to the full planner, which reports the gap, as Django would.
    for fast in (True, False):
        with pytest.raises(
            PreflightError,
            match=r"blog\.0001_initial is recorded as applied before its dependency "
            r"users\.0001_initial",
        ):
            api.prepare(fast=fast)


@override_settings(MIGRATION_MODULES={"cache": "tests.fixtures.failing_migrations"})
def test_migration_modules_setting_is_followed(sqlite_project: Path) -> None:
    run("migrate_all", apps=["users"])
    done, pending = both(Selection(apps=("cache",)))
    assert (done, pending) == (False, 1)


def test_force_migrate_and_plan_use_the_full_planner(sqlite_project: Path) -> None:
    run("migrate_all")
    out, _, code = run("migrate_all", plan_only=True)
    assert code == 0
    assert out.splitlines()[0] == "Plan: 6 steps in 2 levels on 5 databases, 0 migrations to run."
    out, _, code = run("migrate_all", force_migrate=True)
    assert code == 0
    assert out.splitlines()[0] == "Plan: 6 steps in 2 levels on 5 databases, 0 migrations to run."
    assert "Migrating default: contenttypes" in out  # handed to Django although up to date


def test_one_migration_graph_per_run(sqlite_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Django's migrate runs once per app (8 times here) but the graph is loaded once."""
    from django.db.migrations.loader import MigrationLoader

    builds: list[object] = []
    original = MigrationLoader.build_graph

    def counting(self: MigrationLoader) -> None:
        builds.append(self.connection)
        original(self)

    monkeypatch.setattr(MigrationLoader, "build_graph", counting)
    out, _, code = run("migrate_all")
    assert code == 0
    assert out.splitlines()[-1] == "Done: 22 migrations applied, 93 only recorded on 5 databases."
    assert builds == [None]  # the planner's database-free graph, shared by every migrate call


def test_a_missing_record_only_row_is_work_for_the_fast_path(sqlite_project: Path) -> None:
    run("migrate_all")
    forget("default", "cache", "0001_initial")  # executes nothing on default: only recorded
    done, todo = both()
    assert (done, todo) == (False, 1)
    out, _, code = run("migrate_all")
    assert code == 0
    assert out.splitlines()[-1] == "Done: 0 migrations applied, 1 only recorded on 5 databases."
    assert both() == (True, 0)


def test_the_routing_cache_follows_the_routers(sqlite_project: Path) -> None:
    run("migrate_all")
    assert both() == (True, 0)
    # The same files, other routing answers: the cached matrix must not be used.
    mapping = {"users": "users_db", "analytics": "analytics_db", "legacy": "legacy_db"}
    with override_settings(DATABASE_APPS_MAPPING=mapping):  # cache now lives on default
        # The fast path does not decide (its key changed); the full planner finds every row
        # recorded already (cache.0001_initial was recorded on default, executing nothing).
        assert both() == (False, 0)


def test_the_routing_cache_can_be_turned_off(sqlite_project: Path, tmp_path: Path) -> None:
    run("migrate_all")
    with override_settings(MIGRATOR={"ROUTING_CACHE": None}):
        assert api.prepare(fast=True).state.plan.ordered  # no cache: the full planner
    folder = tmp_path / "cache-folder"
    with override_settings(MIGRATOR={"ROUTING_CACHE": str(folder)}):
        assert api.prepare(fast=True).state.plan.ordered  # cold: full planner, writes the cache
        assert oct(folder.stat().st_mode & 0o777) == "0o700"
        assert not api.prepare(fast=True).state.plan.ordered  # warm: the fast path
        folder.chmod(0o777)  # a folder others can write is not trusted
        assert api.prepare(fast=True).state.plan.ordered


def test_health_agrees_with_the_planner_and_loads_no_graph_once_warm(sqlite_project: Path) -> None:
    # every one of the 23 migrations on each of the five migrated aliases (read_replica: never)
    fresh = tuple(
        (alias, 23) for alias in ("default", "users_db", "analytics_db", "legacy_db", "cache_db")
    )
    assert api.health() == Health(pending=fresh, graph_loaded=True)  # cold: the planner ran
    assert api.health() == Health(pending=fresh)  # warm: file names against django_migrations
    assert sorted(sqlite_project.iterdir()) == []  # a dry run: not even an empty file made
    run("migrate_all")
    assert api.health() == Health()
    assert api.health().ok
    forget("users_db", "users", "0002_user_is_active")
    assert api.health() == Health(pending=(("users_db", 1),))
    assert api.health(Selection(databases=("cache_*",))) == Health()
    with override_settings(MIGRATOR={"ROUTING_CACHE": None}):
        assert api.health() == Health(pending=(("users_db", 1),), graph_loaded=True)
