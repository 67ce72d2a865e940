"""--parallel: independent steps of a level in forked workers, same outcome as serial."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connections
from django.test import override_settings

from tests.conftest import aliases_pointed_at, sqlite_entry
from tests.fixtures.hold import handshake
from tests.helpers import (
    ALIASES,
    every_migration,
    finish,
    manage_background,
    read_until,
    run,
    sqlite_recorded,
    summary_rows,
)


def snapshot(folder: Path) -> dict[str, tuple[list[str], list[tuple[str, str]]]]:
    """Per database file: its schema (CREATE statements) and its django_migrations rows."""
    found = {}
    for path in sorted(folder.glob("*.sqlite3")):
        with sqlite3.connect(path) as db:
            schema = sorted(row[0] for row in db.execute("SELECT sql FROM sqlite_master") if row[0])
            rows = sorted(db.execute("SELECT app, name FROM django_migrations"))
        found[path.name] = (schema, rows)
    return found


def migrate_into(folder: Path, **options: object) -> tuple[str, str, int]:
    folder.mkdir()
    with aliases_pointed_at({a: sqlite_entry(folder / f"{a}.sqlite3") for a in ALIASES}):
        result = run("migrate_all", **options)
        for alias in ALIASES:
            connections[alias].close()
    return result


def test_parallel_and_serial_leave_identical_databases(tmp_path: Path, unblocked: None) -> None:
    serial = migrate_into(tmp_path / "serial")
    parallel = migrate_into(tmp_path / "parallel", parallel="4")
    assert serial[2] == parallel[2] == 0
    assert snapshot(tmp_path / "serial") == snapshot(tmp_path / "parallel")
    assert len(snapshot(tmp_path / "parallel")) == 5
    out = parallel[0]
    # every progress line names its alias, so lines of concurrent workers stay apart
    progress = [line for line in out.splitlines() if "Applied " in line or "Migrating " in line]
    assert progress
    assert all(line.startswith("[") for line in progress)
    assert "[users_db]   Applied users.0002_user_is_active" in out
    assert out.splitlines()[-1] == "Done: 22 migrations applied, 93 only recorded on 5 databases."


@override_settings(MIGRATION_MODULES={"users": "tests.fixtures.failing_users_migrations"})
def test_failure_in_a_worker_skips_its_dependents_only(tmp_path: Path, unblocked: None) -> None:
    out, err, code = migrate_into(tmp_path / "p", parallel="auto")
    assert code == 1
    rows = summary_rows(out)
    assert {alias: row["status"] for alias, row in rows.items()} == {
        "default": "skipped",
        "users_db": "failed",
        "analytics_db": "applied",
        "legacy_db": "applied",
        "cache_db": "applied",
    }
    assert (
        "[default] Skipped default (auth, blog, shop): depends on users_db (users), which failed"
        in out
    )
    assert "1 dependent step skipped." in err


@override_settings(
    DATABASE_ROUTERS=[
        "testproject.routers.ReplicaRouter",
        "tests.fixtures.shared_target.SharedTargetRouter",
    ],
    MIGRATION_MODULES={
        "analytics": "tests.fixtures.meeting_analytics_migrations",
        "legacy": "tests.fixtures.meeting_legacy_migrations",
    },
)
def test_two_spellings_of_one_sqlite_file_take_turns(tmp_path: Path, unblocked: None) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "meeting").mkdir()
    entries = {a: sqlite_entry(tmp_path / f"{a}.sqlite3") for a in ALIASES}
    entries["default"] = sqlite_entry(tmp_path / "site.sqlite3")
    entries["analytics_db"] = sqlite_entry(tmp_path / "sub" / ".." / "site.sqlite3")
    # default's analytics.0002_meet waits for legacy_db's legacy.0002_meet (both must run at
    # once) while analytics_db, on the same file, must wait for default to finish.
    meeting = {"folder": str(tmp_path / "meeting"), "parties": ["default", "legacy_db"]}
    with aliases_pointed_at(entries), override_settings(PARALLEL_MEETING=meeting):
        out, err, code = run("migrate_all", parallel="2", lock_timeout="0", json=True)
        for alias in ALIASES:
            connections[alias].close()
    assert (code, err) == (0, "")
    statuses = [(s["alias"], s["status"]) for s in json.loads(out)["results"]["steps"]]
    assert statuses == [
        ("default", "applied"),
        ("users_db", "applied"),
        ("analytics_db", "up-to-date"),
        ("legacy_db", "applied"),
        ("cache_db", "applied"),
        ("default", "applied"),
        ("analytics_db", "up-to-date"),
    ]
    pids = {p: int((tmp_path / "meeting" / p).read_text()) for p in ("default", "legacy_db")}
    assert len(set(pids.values())) == 2
    assert os.getpid() not in pids.values()
    with sqlite3.connect(tmp_path / "site.sqlite3") as db:
        rows = [f"{a}.{n}" for a, n in db.execute("SELECT app, name FROM django_migrations")]
    assert sorted(rows) == sorted(
        {*every_migration(), "analytics.0002_meet", "legacy.0002_meet"}
        - {"analytics.0002_seed_event_names"}
    )


@override_settings(MIGRATION_MODULES={"users": "tests.fixtures.killed_users_migrations"})
def test_a_killed_worker_reports_what_it_committed(tmp_path: Path, unblocked: None) -> None:
    out, err, code = migrate_into(tmp_path / "p", parallel="2", json=True)
    assert code == 1
    assert "failed at users.0002_killed: WorkerDied: the worker for users_db exited with" in err
    (users,) = [s for s in json.loads(out)["results"]["steps"] if s["alias"] == "users_db"]
    assert (users["status"], users["failed_migration"]) == ("failed", "users.0002_killed")
    assert users["error"] == (
        "WorkerDied: the worker for users_db exited with code -9 before reporting a result"
    )
    assert users["applied"] == [{"app": "users", "name": "0001_initial", "backwards": False}]
    assert users["recorded"] == []
    assert sqlite_recorded(tmp_path / "p" / "users_db.sqlite3") == {"users.0001_initial"}


def _held_pair(tmp_path: Path) -> tuple[subprocess.Popen[str], Path, set[int]]:
    """``migrate_all --parallel 4 --json`` on slow_pair in a process group of its own, once both
    held migrations (users.0002_slow, legacy.0002_hold) run; the release file and the two worker
    pids (neither the command's)."""
    folder = tmp_path / "held"
    folder.mkdir()
    held, entered, release = handshake(folder)
    entered.mkdir()
    env = {
        "MIGRATOR_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tests.settings.slow_pair",
        "PYTHONUNBUFFERED": "1",
        **held,
    }
    process = manage_background("migrate_all", "--parallel", "4", "--json", env=env, own_group=True)
    deadline = time.monotonic() + 60
    while len(list(entered.iterdir())) < 2:
        assert time.monotonic() < deadline, "the two held migrations did not run at once"
        assert process.poll() is None, finish(process)
        time.sleep(0.02)
    pids = {int(path.name) for path in entered.iterdir()}
    assert process.pid not in pids
    return process, release, pids


def test_sigterm_reaches_the_workers_and_each_finishes_its_migration(tmp_path: Path) -> None:
    """Two workers are held inside a migration at the same time (two pids, neither the
    command's); SIGTERM to the command alone is passed on: each finishes its migration, nothing
    else starts, the command exits 143."""
    process, release, _ = _held_pair(tmp_path)
    process.send_signal(signal.SIGTERM)
    release.touch()
    out, err = finish(process, timeout=60)
    assert process.returncode == 143, err
    assert "CommandError: Interrupted by SIGTERM" in err
    steps = {step["alias"]: step for step in json.loads(out)["results"]["steps"]}
    # Each held migration finished and was recorded; the worker that had more to do stopped
    # before its next migration: it was told (the signal went to the command alone).
    legacy = sqlite_recorded(tmp_path / "legacy_db.sqlite3")
    assert {"legacy.0001_initial", "legacy.0002_hold"} <= legacy
    assert "legacy.0003_note_pinned" not in legacy
    assert steps["legacy_db"]["status"] == "interrupted"
    assert "users.0002_slow" in sqlite_recorded(tmp_path / "users_db.sqlite3")
    assert steps["default"]["status"] in ("interrupted", "skipped")
    assert all(step["status"] != "failed" for step in steps.values())


def test_ctrl_c_from_the_terminal_lets_each_worker_finish_its_migration(tmp_path: Path) -> None:
    """A terminal sends Ctrl-C's SIGINT to its whole foreground process group: each worker gets
    it directly and from the command, counts one stop (two Ctrl-C would cut its migration short)
    and finishes its migration; the command exits 130."""
    process, release, pids = _held_pair(tmp_path)
    os.killpg(process.pid, signal.SIGINT)
    read_until(process, "Ctrl-C: stopping after the current migration.", stderr=True)
    release.touch()
    out, err = finish(process, timeout=60)
    assert process.returncode == 130, err
    assert "CommandError: Interrupted by SIGINT" in err
    assert {"legacy.0001_initial", "legacy.0002_hold"} <= sqlite_recorded(
        tmp_path / "legacy_db.sqlite3"
    )
    assert "users.0002_slow" in sqlite_recorded(tmp_path / "users_db.sqlite3")
    steps = {step["alias"]: step for step in json.loads(out)["results"]["steps"]}
    assert steps["legacy_db"]["status"] == "interrupted"
    assert steps["legacy_db"]["error"] == (
        "Interrupted: stopped by SIGINT before legacy.0003_note_pinned"
    )
    assert all(step["status"] != "failed" for step in steps.values())
    for pid in pids:  # the workers are gone with the command
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize("second_to", ["group", "command"])
def test_a_second_ctrl_c_cuts_the_workers_migrations_short(tmp_path: Path, second_to: str) -> None:
    """The second SIGINT, from a terminal (the whole group) or to the command alone (passed on):
    each worker's held migration is interrupted at once and rolled back (SQLite), never
    recorded; the summary and the JSON still come, exit 130."""
    process, release, _ = _held_pair(tmp_path)
    os.killpg(process.pid, signal.SIGINT)
    read_until(process, "Ctrl-C again stops at once.", stderr=True)
    if second_to == "group":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    out, err = finish(process, timeout=60)
    assert not release.exists()  # nothing released the held migrations: the signal ended them
    assert process.returncode == 130, err
    assert sqlite_recorded(tmp_path / "legacy_db.sqlite3") == {"legacy.0001_initial"}
    assert "users.0002_slow" not in sqlite_recorded(tmp_path / "users_db.sqlite3")
    steps = {step["alias"]: step for step in json.loads(out)["results"]["steps"]}
    assert steps["legacy_db"]["status"] == "interrupted"
    assert steps["legacy_db"]["error"] == (
        "Interrupted: stopped at once by a second SIGINT during legacy.0002_hold; it rolled back "
        "where the database can"
    )
    assert steps["users_db"]["error"] == (
        "Interrupted: stopped at once by a second SIGINT during users.0002_slow; it rolled back "
        "where the database can"
    )
    assert not list(tmp_path.glob("*.migrator-lock"))
