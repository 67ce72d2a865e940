"""The django-health-check check, through django-health-check's own view (tests/health_urls.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import Client, override_settings

from tests.conftest import aliases_pointed_at
from tests.helpers import UNREACHABLE_PASSWORD, run

# django-health-check supports Django 5.2+ only: make matrix deselects these elsewhere.
pytestmark = [pytest.mark.health_check, pytest.mark.usefixtures("health_urls")]

CHECK = "MigrationsApplied(databases=(), apps=())"
USERS_CHECK = "MigrationsApplied(databases=('users_db',), apps=())"


@pytest.fixture
def health_urls() -> Iterator[None]:
    from migrator.contrib import health_check

    health_check._results.clear()
    with override_settings(ROOT_URLCONF="tests.health_urls"):
        yield
    health_check._results.clear()


def probe(url: str = "/ht/") -> tuple[int, dict[str, Any]]:
    response = Client().get(url, HTTP_ACCEPT="application/json")
    return response.status_code, response.json()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file of ``folder`` with a hash of its bytes."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
        if path.is_file()
    }


def forget(alias: str, app: str, name: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = %s AND name = %s", [app, name])


def test_unhealthy_until_migrate_all_then_healthy(sqlite_project: Path) -> None:
    assert probe() == (
        500,
        {
            CHECK: "Unavailable: Migrations to apply or record on 5 databases: default (23), "
            "users_db (23), analytics_db (23), legacy_db (23), cache_db (23); run manage.py "
            "migrate_all."
        },
    )
    assert snapshot(sqlite_project) == {}  # not even an empty SQLite file was made
    run("migrate_all")
    assert probe() == (200, {CHECK: "OK"})


def test_warm_path_loads_no_graph_and_writes_nothing(
    sqlite_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db.migrations.loader import MigrationLoader

    run("migrate_all")  # the full plan fills the routing cache
    forget("users_db", "users", "0002_user_is_active")
    forget("cache_db", "legacy", "0001_initial")  # both only recorded on cache_db
    forget("cache_db", "blog", "0002_post_slug")

    def refuse(self: MigrationLoader, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("the health check imported the migrations")

    # Importing migration modules and building the graph both raise from now on: the check would
    # report "unknown error" instead of its message if it did either.
    monkeypatch.setattr(MigrationLoader, "load_disk", refuse)
    monkeypatch.setattr(MigrationLoader, "build_graph", refuse)
    before = snapshot(sqlite_project)
    expected = (
        500,
        {
            CHECK: "Unavailable: Migrations to apply or record on 2 databases: users_db (1), "
            "cache_db (2); run manage.py migrate_all."
        },
    )
    assert probe() == expected
    assert probe() == expected
    assert probe("/ht/users/") == (
        500,
        {
            USERS_CHECK: "Unavailable: Migrations to apply or record on 1 database: users_db "
            "(1); run manage.py migrate_all."
        },
    )
    assert snapshot(sqlite_project) == before  # every SQLite file byte for byte
    monkeypatch.undo()
    run("migrate_all")
    assert probe() == (200, {CHECK: "OK"})
    assert probe("/ht/users/") == (200, {USERS_CHECK: "OK"})


def test_a_selection_ignores_other_databases(sqlite_project: Path) -> None:
    run("migrate_all")
    forget("default", "blog", "0002_post_slug")
    assert probe() == (
        500,
        {
            CHECK: "Unavailable: Migrations to apply or record on 1 database: default (1); run "
            "manage.py migrate_all."
        },
    )
    assert probe("/ht/users/") == (200, {USERS_CHECK: "OK"})


def test_an_unreachable_database_is_unhealthy_and_named(sqlite_project: Path) -> None:
    run("migrate_all")
    closed = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "migrator_health",
        "HOST": "127.0.0.1",
        "PORT": "1",  # nothing listens there: connection refused
        "USER": "postgres",
        "PASSWORD": UNREACHABLE_PASSWORD,
    }
    with aliases_pointed_at({"legacy_db": closed}):
        status, body = probe()
    assert status == 500
    message = body[CHECK]
    assert message.startswith(
        "Unavailable: Cannot check every database (1 problem): legacy_db (postgresql "
        "127.0.0.1:1/migrator_health): "
    ), message
    assert "Connection refused" in message
    assert UNREACHABLE_PASSWORD not in message
    assert probe() == (200, {CHECK: "OK"})  # legacy_db back on its SQLite file


def test_a_result_is_reused_for_cache_seconds(sqlite_project: Path) -> None:
    status, _ = probe("/ht/cached/")
    assert status == 500
    run("migrate_all")
    assert probe("/ht/cached/")[0] == 500  # kept for an hour
    assert probe() == (200, {CHECK: "OK"})  # without cache_seconds: checked anew


def test_a_bad_option_is_reported(sqlite_project: Path) -> None:
    run("migrate_all")
    status, body = probe("/ht/unknown/")
    assert status == 500
    assert body == {
        "MigrationsApplied(databases=('nope',), apps=())": "Unavailable: --database nope: no "
        "such alias in DATABASES. Known aliases: default, users_db, analytics_db, legacy_db, "
        "cache_db, read_replica."
    }


def test_the_check_keeps_the_applications_settings_whatever_direct_says(
    sqlite_project: Path,
) -> None:
    """MIGRATOR["DIRECT"] is for migrator's runs: in the application's process the check reads
    through DATABASES and leaves them as they are (no connection of the site is redirected)."""
    _, _, code = run("migrate_all", interactive=False)
    assert code == 0
    before = dict(connections.settings["users_db"])
    direct = {"DIRECT": {"users_db": {"NAME": str(sqlite_project / "elsewhere" / "x.sqlite3")}}}
    with override_settings(MIGRATOR=direct):
        assert probe() == (200, {CHECK: "OK"})
    assert dict(connections.settings["users_db"]) == before
    assert not (sqlite_project / "elsewhere").exists()
