"""Staged rollout (issue 15): ``--shard K/N`` splits a fleet into disjoint parts whose runs
together leave exactly what one full run leaves, and refuses while a step it needs belongs to
another shard that has not run; ``--canary N`` runs N steps of each level first and starts
nothing else when one of them fails. On the SQLite tenant fleet (tests/fleet.py) and on
PostgreSQL tenants (tests/pg_fleet.py)."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from migrator.planning.rollout import shard_of
from tests.commands.test_fleet import fleet_env
from tests.helpers import PROJECT_MIGRATIONS, manage
from tests.pg_fleet import pg_fleet
from tests.servers import pg_recorded, pg_tables

# The testproject's dependency across aliases: default's auth/blog/shop (level 2) need users_db's
# users (level 1). users_db lands in shard 1/2, default in 2/2 (SHA-256 of the alias names).
WAITS = (
    "Shard 2/2 cannot run yet: default (auth, blog, shop, level 2) requires users_db (users, "
    "level 1) of shard 1/2, which has 23 migrations pending. Run 'manage.py migrate_all --shard "
    "1/2' first (or run without --shard); nothing was changed."
)


def snapshot(folder: Path) -> dict[str, tuple[set[str], list[str]]]:
    """Per SQLite database file: its tables and its django_migrations rows (a sorted list, so a
    row recorded twice would show)."""
    found = {}
    for path in sorted(folder.glob("*.sqlite3")):
        with sqlite3.connect(path) as db:
            tables = {
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            rows = (
                sorted(f"{a}.{n}" for a, n in db.execute("SELECT app, name FROM django_migrations"))
                if "django_migrations" in tables
                else []
            )
        db.close()
        found[path.name] = (tables, rows)
    return found


def recorded_anywhere(folder: Path) -> dict[str, list[str]]:
    return {name: rows for name, (_, rows) in snapshot(folder).items() if rows}


def plan_document(result: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_two_shards_together_leave_exactly_what_one_full_run_leaves(tmp_path: Path) -> None:
    full, sharded = tmp_path / "full", tmp_path / "sharded"
    full.mkdir()
    sharded.mkdir()
    result = manage("migrate_all", "--noinput", env=fleet_env(full, tenants=20))
    assert result.returncode == 0, result.stderr

    env = fleet_env(sharded, tenants=20)
    first = manage("migrate_all", "--noinput", "--json", "--shard", "1/2", env=env)
    assert first.returncode == 0, first.stderr
    second = manage("migrate_all", "--noinput", "--json", "--shard", "2/2", env=env)
    assert second.returncode == 0, second.stderr
    one, two = (plan_document(r)["plan"]["shard"] for r in (first, second))
    assert (one["index"], one["count"], two["index"], two["count"]) == (1, 2, 2, 2)
    # Disjoint, and together every planned alias (read_replica has no migrations).
    assert not set(one["aliases"]) & set(two["aliases"])
    planned = ["default", "users_db", "analytics_db", "legacy_db", "cache_db"]
    planned += [f"tenant_{n:03d}" for n in range(20)]
    assert sorted(one["aliases"] + two["aliases"]) == sorted(planned)
    assert "users_db" in one["aliases"]
    assert "default" in two["aliases"]
    # Each shard migrated only its own aliases.
    for document, shard in ((plan_document(first), one), (plan_document(second), two)):
        assert {s["alias"] for s in document["results"]["steps"]} == set(shard["aliases"])
        assert {s["status"] for s in document["results"]["steps"]} == {"applied"}

    assert snapshot(sharded) == snapshot(full)
    tenants = snapshot(sharded)
    assert len(tenants) == 25
    for name, (_tables, rows) in tenants.items():
        assert rows == sorted(PROJECT_MIGRATIONS), name  # every migration, each once
    again = manage("migrate_all", "--check", env=env)
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_shard_refuses_while_a_step_it_needs_is_pending_in_another_shard(tmp_path: Path) -> None:
    env = fleet_env(tmp_path, tenants=6)
    result = manage("migrate_all", "--noinput", "--shard", "2/2", env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"CommandError: {WAITS}"
    assert recorded_anywhere(tmp_path) == {}  # nothing changed anywhere
    # --plan and --check refuse the same way; --json says it in its one document.
    for mode in ("--plan", "--check"):
        shown = manage("migrate_all", mode, "--json", "--shard", "2/2", env=env)
        assert shown.returncode == 1
        assert json.loads(shown.stdout)["error"] == {"message": WAITS, "exit_code": 1}
    # Once shard 1/2 ran, shard 2/2 goes on: the step it needs is up to date.
    assert manage("migrate_all", "--noinput", "--shard", "1/2", env=env).returncode == 0
    plan = manage("migrate_all", "--plan", "--shard", "2/2", env=env)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.splitlines()[0].startswith(
        "Plan (shard 2/2): 6 steps in 2 levels on 5 databases, "
    )
    assert manage("migrate_all", "--noinput", "--shard", "2/2", env=env).returncode == 0
    assert manage("migrate_all", "--check", env=env).returncode == 0


def test_a_shard_within_a_database_pattern(tmp_path: Path) -> None:
    env = fleet_env(tmp_path, tenants=6)
    result = manage("migrate_all", "--noinput", "--database", "tenant_*", "--shard", "1/2", env=env)
    assert result.returncode == 0, result.stderr
    # tenant_001, 003 and 004 hash to shard 1/2 (tests/unit/test_rollout.py pins it).
    assert sorted(recorded_anywhere(tmp_path)) == [
        "tenant_001.sqlite3",
        "tenant_003.sqlite3",
        "tenant_004.sqlite3",
    ]


def test_an_empty_shard_migrates_nothing(tmp_path: Path) -> None:
    env = fleet_env(tmp_path, tenants=3)
    # tenant_000 hashes to shard 2/2: shard 1/2 of it is empty.
    result = manage("migrate_all", "--plan", "--database", "tenant_000", "--shard", "1/2", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "Plan (shard 1/2): 0 steps in 0 levels on 0 databases, 0 migrations to run.",
        "Nothing to migrate in shard 1/2: no planned alias falls in it.",
    ]
    result = manage(
        "migrate_all", "--noinput", "--database", "tenant_000", "--shard", "1/2", env=env
    )
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("*.sqlite3")) == []


@pytest.mark.parametrize("value", ["0/2", "3/2", "half"])
def test_a_bad_shard_is_refused(tmp_path: Path, value: str) -> None:
    result = manage("migrate_all", "--noinput", "--shard", value, env=fleet_env(tmp_path, 3))
    assert result.returncode == 2
    assert result.stderr == (
        f"CommandError: --shard {value!r}: expected K/N with 1 <= K <= N, the K-th of N shards, "
        "e.g. --shard 1/4 ... --shard 4/4.\n"
    )
    assert list(tmp_path.glob("*.sqlite3")) == []


def break_tenant(folder: Path, n: int) -> None:
    """A table the cache app's first migration creates, already there: the migration fails."""
    with sqlite3.connect(folder / f"tenant_{n:03d}.sqlite3") as db:
        db.execute("CREATE TABLE cache_cacheentry (id integer)")
    db.close()


@pytest.mark.parametrize("parallel", ["1", "2"])
def test_a_failing_canary_stops_the_rest(tmp_path: Path, parallel: str) -> None:
    break_tenant(tmp_path, 0)
    result = manage(
        "migrate_all",
        "--noinput",
        "--json",
        "--database",
        "tenant_*",
        "--canary",
        "2",
        "--parallel",
        parallel,
        env=fleet_env(tmp_path, tenants=8),
    )
    assert result.returncode == 1
    document = json.loads(result.stdout)
    steps = {s["alias"]: s for s in document["results"]["steps"]}
    assert {a: (s["status"], s["canary"]) for a, s in steps.items()} == {
        "tenant_000": ("failed", True),
        "tenant_001": ("applied", True),
        **{f"tenant_{n:03d}": ("skipped", False) for n in range(2, 8)},
    }
    assert steps["tenant_005"]["skip_reason"] == "not started: canary tenant_000 failed"
    assert document["ok"] is False
    message = result.stderr.splitlines()[-1]
    assert message.startswith(
        "CommandError: Canary tenant_000 failed: tenant_000 (cache) failed at cache.0001_initial: "
    )
    assert message.endswith(
        "6 other steps not started. Fix the cause and run again; steps that completed are not "
        "repeated."
    )
    # The other canary ran; nobody else was touched.
    assert sorted(recorded_anywhere(tmp_path)) == ["tenant_001.sqlite3"]


def test_with_every_canary_fine_everything_is_migrated(tmp_path: Path) -> None:
    env = fleet_env(tmp_path, tenants=8)
    result = manage("migrate_all", "--noinput", "-v", "2", "--canary", "2", env=env)
    assert result.returncode == 0, result.stderr
    starts = [line for line in result.stdout.splitlines() if line.startswith("Migrating ")]
    # Level 1: default and users_db first, as canaries; level 2 has one step, its canary.
    assert starts[:3] == [
        "Migrating default (canary): contenttypes",
        "Migrating users_db (canary): users",
        "Migrating analytics_db: analytics",
    ]
    assert starts[-1] == "Migrating default (canary): auth, blog, shop"
    assert len(starts) == 14
    rows = recorded_anywhere(tmp_path)
    assert len(rows) == 13
    assert all(found == sorted(PROJECT_MIGRATIONS) for found in rows.values())


def test_an_up_to_date_alias_is_no_canary(tmp_path: Path) -> None:
    """A canary proves something only where it migrates: the listed canary tenant_005 is up to
    date already, so the first tenant with work is the canary, and its failure stops the rest."""
    env = canaries_env(tmp_path, "tenant_005")
    done = manage("migrate_all", "--noinput", "--database", "tenant_005", env=env)
    assert done.returncode == 0, done.stderr
    break_tenant(tmp_path, 0)
    result = manage("migrate_all", "--noinput", "--database", "tenant_*", "--canary", "1", env=env)
    assert result.returncode == 1
    assert "Migrating tenant_000 (canary): cache" in result.stdout
    assert "Skipped tenant_001 (cache): not started: canary tenant_000 failed" in result.stdout
    assert sorted(recorded_anywhere(tmp_path)) == ["tenant_005.sqlite3"]


def canaries_env(folder: Path, canaries: str, tenants: int = 8) -> dict[str, str]:
    return {
        **fleet_env(folder, tenants),
        "DJANGO_SETTINGS_MODULE": "tests.settings.fleet_canaries",
        "MIGRATOR_TEST_CANARIES": canaries,
    }


def test_the_canaries_setting_picks_the_canaries(tmp_path: Path) -> None:
    break_tenant(tmp_path, 5)
    env = canaries_env(tmp_path, "tenant_00[56]")
    result = manage("migrate_all", "--noinput", "--database", "tenant_*", "--canary", "2", env=env)
    assert result.returncode == 1
    assert "Migrating tenant_005 (canary): cache" in result.stdout
    assert "Migrating tenant_006 (canary): cache" in result.stdout
    assert "Skipped tenant_000 (cache): not started: canary tenant_005 failed" in result.stdout
    assert sorted(recorded_anywhere(tmp_path)) == ["tenant_006.sqlite3"]


@pytest.mark.parametrize(
    ("canaries", "message"),
    [
        (
            "tenant_009",
            "MIGRATOR['CANARIES'] names 'tenant_009', which is not a database alias; fix or "
            "remove it. Known aliases: default, users_db, analytics_db, legacy_db, cache_db, "
            "read_replica, tenant_000, tenant_001.",
        ),
        (
            "eu-*",
            "MIGRATOR['CANARIES'] names 'eu-*', which matches no database alias; fix or remove "
            "it. Known aliases: default, users_db, analytics_db, legacy_db, cache_db, "
            "read_replica, tenant_000, tenant_001.",
        ),
    ],
)
def test_an_unknown_canary_is_refused(tmp_path: Path, canaries: str, message: str) -> None:
    env = canaries_env(tmp_path, canaries, tenants=2)
    result = manage("migrate_all", "--noinput", "--canary", "1", env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"CommandError: {message}"
    assert recorded_anywhere(tmp_path) == {}


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_a_bad_canary_count_is_refused(tmp_path: Path, value: str) -> None:
    result = manage("migrate_all", "--noinput", "--canary", value, env=fleet_env(tmp_path, 2))
    assert result.returncode == 2
    assert result.stderr == (
        f"CommandError: --canary {value!r}: expected a number of canary steps per level, 1 or "
        "more (e.g. --canary 2).\n"
    )


def pg_snapshot(prefix: str, count: int) -> dict[int, tuple[set[str], list[str]]]:
    return {
        n: (pg_tables(f"{prefix}_{n:03d}"), pg_recorded(f"{prefix}_{n:03d}")) for n in range(count)
    }


def test_postgresql_shards_together_leave_what_one_full_run_leaves(tmp_path: Path) -> None:
    count = 6
    with pg_fleet(count, tmp_path / "full") as full, pg_fleet(count, tmp_path / "sharded") as env:
        (tmp_path / "full").mkdir()
        (tmp_path / "sharded").mkdir()
        result = manage("migrate_all", "--noinput", "--database", "tenant_*", env=full)
        assert result.returncode == 0, result.stderr
        for k in ("1/2", "2/2"):
            shard = manage(
                "migrate_all", "--noinput", "--database", "tenant_*", "--shard", k, env=env
            )
            assert shard.returncode == 0, shard.stderr
        expected = pg_snapshot(full["MIGRATOR_TEST_PG_FLEET"].partition(":")[0], count)
        found = pg_snapshot(env["MIGRATOR_TEST_PG_FLEET"].partition(":")[0], count)
        assert found == expected
        for tables, rows in found.values():
            assert "cache_cacheentry" in tables
            assert rows == sorted(PROJECT_MIGRATIONS)  # each once


def test_a_shard_never_connects_to_the_aliases_of_other_shards(tmp_path: Path) -> None:
    """down_000 is on a server that never answers: a full run's preflight would fail on it; the
    shard without it migrates its tenant and never connects there."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pg_fleet(2, tmp_path) as env:
            env["MIGRATOR_TEST_PG_UNREACHABLE"] = f"127.0.0.1:{port}:1"
            env["DJANGO_SETTINGS_MODULE"] = "tests.settings.pg_fleet_down"  # cache on down_*
            prefix = env["MIGRATOR_TEST_PG_FLEET"].partition(":")[0]
            other = 3 - shard_of("down_000", 2)
            mine = [n for n in (0, 1) if shard_of(f"tenant_{n:03d}", 2) == other]
            assert mine  # tenant_000 and tenant_001 land in different shards
            result = manage(
                "migrate_all",
                "--noinput",
                "--database",
                "tenant_*",
                "--database",
                "down_*",
                "--shard",
                f"{other}/2",
                env=env,
            )
            assert result.returncode == 0, result.stderr
            for n in (0, 1):
                rows = pg_recorded(f"{prefix}_{n:03d}")
                assert rows == (sorted(PROJECT_MIGRATIONS) if n in mine else [])
