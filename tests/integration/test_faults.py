"""Failure modes on real servers: rollback, non-transactional DDL, connections killed mid-run,
signals, SIGKILL, and many runs at once."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connections
from django.test import override_settings

from tests.fixtures.hold import handshake, wait_until_entered
from tests.helpers import (
    ALIASES,
    every_migration,
    finish,
    manage,
    manage_background,
    read_until,
    run,
    sqlite_recorded,
    summary_rows,
)
from tests.integration.conftest import Servers
from tests.servers import (
    maria_connect,
    maria_recorded,
    maria_tables,
    pg_connect,
    pg_recorded,
    pg_tables,
)


@override_settings(MIGRATION_MODULES={"users": "tests.fixtures.failing_users_migrations"})
def test_failing_migration_rolls_back_on_postgresql(on_servers: Servers) -> None:
    _, _, code = run("migrate_all", apps=["users"])
    assert code == 1
    assert pg_tables(on_servers.users) == {"django_migrations"}  # CREATE TABLE rolled back
    assert pg_recorded(on_servers.users) == []


@override_settings(MIGRATION_MODULES={"legacy": "tests.fixtures.failing_migrations"})
def test_mariadb_failure_lists_the_statements_that_ran(on_servers: Servers) -> None:
    out, _, code = run("migrate_all", apps=["legacy"], json=False)
    assert code == 1
    # MariaDB does not roll back DDL: the table exists, the migration is not recorded.
    assert maria_tables(on_servers.legacy) == {"django_migrations", "legacy_cacheentry"}
    assert maria_recorded(on_servers.legacy) == []
    lines = out.splitlines()
    start = lines.index(
        "    MySQL/MariaDB does not roll back DDL: these statements of legacy.0001_initial had run "
        "and may be applied; check them and repair by hand before running again:"
    )
    assert lines[start - 1] == (
        "  legacy_db (legacy) failed at legacy.0001_initial: RuntimeError: cache warm-up failed "
        "on purpose"
    )
    assert lines[start + 1].startswith("      CREATE TABLE `legacy_cacheentry` (")
    out, _, _ = run("migrate_all", apps=["legacy"], json=True)
    step = json.loads(out)["results"]["steps"][0]
    assert step["failed_migration"] == "legacy.0001_initial"
    assert step["executed_sql"][0].startswith("CREATE TABLE `legacy_cacheentry`")


def _kill_when_busy(
    find_and_kill: Callable[[], None], monkeypatch: pytest.MonkeyPatch, folder: Path
) -> threading.Thread:
    """Run ``find_and_kill`` once the slow migration has started, then let it go on."""
    env, entered, release = handshake(folder)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def target() -> None:
        wait_until_entered(entered)
        try:
            find_and_kill()
        finally:
            release.touch()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


@override_settings(MIGRATION_MODULES={"users": "tests.fixtures.slow_users_migrations"})
def test_postgresql_backend_terminated_mid_run(
    on_servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pg_connect(on_servers.site) as admin:
        admin.execute("CREATE SCHEMA analytics")

    def terminate() -> None:
        with pg_connect() as killer:
            killer.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                "AND application_name NOT LIKE 'django-migrator%%' AND pid <> pg_backend_pid()",
                (on_servers.users,),
            )

    thread = _kill_when_busy(terminate, monkeypatch, on_servers.tmp)
    out, _err, code = run("migrate_all")
    thread.join()
    assert code == 1
    rows = summary_rows(out)
    assert rows["users_db"]["status"] == "failed"
    assert {
        alias: rows[alias]["status"] for alias in ("analytics_db", "legacy_db", "cache_db")
    } == {
        "analytics_db": "applied",
        "legacy_db": "applied",
        "cache_db": "applied",
    }
    assert "users_db (users) failed at users.0002_slow: " in out
    assert "terminat" in out.lower() or "closed" in out.lower()
    connections["users_db"].close()
    out, _, code = run("migrate_all")  # the database is back: the rerun completes
    assert code == 0, out
    # Recorded as Django's migrate --database X records: every migration, each once.
    assert pg_recorded(on_servers.users) == every_migration("0002_slow")
    assert pg_recorded(on_servers.site) == every_migration("0002_slow")
    assert pg_recorded(on_servers.site, "analytics") == every_migration("0002_slow")


@override_settings(MIGRATION_MODULES={"legacy": "tests.fixtures.slow_migrations"})
def test_mariadb_connection_killed_mid_run(
    on_servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    def kill() -> None:
        admin = maria_connect()
        try:
            cursor = admin.cursor()
            cursor.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()",
                (on_servers.legacy,),
            )
            for (thread_id,) in cursor.fetchall():
                cursor.execute(f"KILL {int(thread_id)}")
        finally:
            admin.close()

    thread = _kill_when_busy(kill, monkeypatch, on_servers.tmp)
    out, _, code = run("migrate_all", apps=["legacy", "cache"])
    thread.join()
    assert code == 1
    rows = summary_rows(out)
    assert (rows["legacy_db"]["status"], rows["cache_db"]["status"]) == ("failed", "applied")
    assert "legacy_db (legacy) failed at legacy.0001_initial: OperationalError: " in out
    connections["legacy_db"].close()
    _, _, code = run("migrate_all", apps=["legacy"])
    assert code == 0
    assert maria_recorded(on_servers.legacy) == ["legacy.0001_initial"]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_finishes_the_current_migration_and_stops(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    held, entered, release = handshake(tmp_path / "held")
    (tmp_path / "held").mkdir()
    env = {
        "MIGRATOR_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tests.settings.slow_users",
        "PYTHONUNBUFFERED": "1",
    }
    process = manage_background("migrate_all", env={**env, **held})
    seen = read_until(process, "Applied users.0001_initial")
    wait_until_entered(entered)  # users.0002_slow runs, held until released
    process.send_signal(sig)
    release.touch()
    out, err = finish(process, timeout=60)
    out = seen + out
    assert process.returncode == code, err
    # The running migration (users.0002_slow) finished, then the rows only to record on
    # users_db were written (no SQL) before the run stopped: all Django would record there.
    assert sqlite_recorded(tmp_path / "users_db.sqlite3") == set(every_migration("0002_slow"))
    assert f"CommandError: Interrupted by {sig.name}: " in err
    assert "locks released. Run again to continue." in err
    rows = summary_rows(out)
    assert rows["users_db"]["status"] == "applied"
    assert rows["cache_db"]["status"] == "skipped"
    assert "  cache_db (cache) skipped: not started: the run was interrupted" in out
    assert not (tmp_path / "users_db.sqlite3.migrator-lock").exists()
    rerun = manage("migrate_all", "--lock-timeout", "0", env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert "Migrating users_db" not in rerun.stdout  # nothing is repeated


def test_sigkill_leaves_no_stale_lock(servers: Servers) -> None:
    with pg_connect(servers.site) as admin:
        admin.execute("CREATE SCHEMA analytics")
    env = {
        **servers.env(),
        "DJANGO_SETTINGS_MODULE": "tests.settings.slow_users",
        "PYTHONUNBUFFERED": "1",
    }
    process = manage_background("migrate_all", env=env)
    read_until(process, "Applied users.0001_initial")
    process.kill()
    finish(process, timeout=30)
    started = time.monotonic()
    rerun = manage("migrate_all", "--lock-timeout", "5", "--json", env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert time.monotonic() - started < 30
    steps = json.loads(rerun.stdout)["results"]["steps"]
    assert all(step["lock_wait"] < 2 for step in steps)
    assert pg_recorded(servers.users) == every_migration("0002_slow")


@pytest.mark.parametrize("count", [2, 8])
def test_many_runs_at_once_record_each_migration_once(servers: Servers, count: int) -> None:
    with pg_connect(servers.site) as admin:
        admin.execute("CREATE SCHEMA analytics")
    env = {**servers.env(), "DJANGO_SETTINGS_MODULE": "tests.settings.slow_users"}
    processes = [
        manage_background("migrate_all", "--json", "--noinput", env=env) for _ in range(count)
    ]
    documents = []
    for process in processes:
        out, err = finish(process, timeout=300)
        assert process.returncode == 0, err
        documents.append(json.loads(out))
    # Every alias migrated holds every migration, each exactly once (lists show duplicates).
    every = every_migration("0002_slow")
    assert pg_recorded(servers.users) == every
    assert maria_recorded(servers.legacy) == every
    assert pg_recorded(servers.site) == every
    assert pg_recorded(servers.site, "analytics") == every
    assert sqlite_recorded(servers.tmp / "cache_db.sqlite3") == set(every)
    assert not (servers.tmp / "read_replica.sqlite3").exists()
    assert maria_tables(servers.legacy) == {"django_migrations", "legacy_customernote"}
    # Each row was written by exactly one of the runs: applied (its SQL ran) or only recorded.
    written = [
        (step["alias"], f"{m['app']}.{m['name']}", kind)
        for document in documents
        for step in document["results"]["steps"]
        for kind in ("applied", "recorded")
        for m in step[kind]
    ]
    migrated = [alias for alias in ALIASES if alias != "read_replica"]
    assert sorted((alias, name) for alias, name, _ in written) == [
        (alias, name) for alias in sorted(migrated) for name in every
    ]
    assert sum(kind == "applied" for _, _, kind in written) == 22  # auth.0006: no operation
    with pg_connect(servers.site) as connection:
        rows = connection.execute(
            "SELECT count(*) FROM analytics.analytics_event WHERE name = 'analytics.installed'"
        ).fetchone()
    assert rows == (1,)
