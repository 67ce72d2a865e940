"""Lock-timeout retries (MIGRATOR["LOCK_RETRIES"]) against a lock held by a real second session:
PostgreSQL (``LOCK TABLE``, ``SELECT ... FOR UPDATE``) and MariaDB (an open transaction's metadata
lock). The holder lets go once the command has printed its first retry (the command's output is
watched, never a sleep); the migration then applies once."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import override_settings

from migrator import api
from migrator.render.run import document
from migrator.types import Progress, RunOptions, Selection
from tests.helpers import OUTPUTS, every_migration, finish, manage, manage_background, run
from tests.integration.conftest import Servers
from tests.servers import (
    maria_connect,
    maria_recorded,
    maria_tables,
    pg_connect,
    pg_databases,
    pg_entry,
    pg_recorded,
)

DEADLINE = 60.0
RETRIES = {"RETRIES": 3, "BACKOFF": 0.2, "MAX_BACKOFF": 1, "DDL_LOCK_TIMEOUT": 0.5}
FIRST_RETRY = "retry 1 of 3"


class Watched(io.StringIO):
    """A command's stdout that tells (``seen``) when ``text`` has been written."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = threading.Event()

    def write(self, s: str) -> int:
        written = super().write(s)
        if self.text in self.getvalue():
            self.seen.set()
        return written


class Started:
    """``migrate_all`` in a thread, its stdout watched."""

    def __init__(self, text: str, **options: Any) -> None:
        self.out = Watched(text)
        self.err = io.StringIO()
        self.code = 0
        self.thread = threading.Thread(target=self._run, kwargs=options)
        self.thread.start()

    def _run(self, **options: Any) -> None:
        try:
            call_command("migrate_all", stdout=self.out, stderr=self.err, no_color=True, **options)
        except CommandError as exc:
            self.code = exc.returncode
            self.err.write(f"CommandError: {exc}\n")

    def wait_for_text(self) -> None:
        assert self.out.seen.wait(DEADLINE), self.out.getvalue() + self.err.getvalue()

    def finish(self) -> tuple[str, str, int]:
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), self.out.getvalue()
        OUTPUTS.extend((self.out.getvalue(), self.err.getvalue()))
        return self.out.getvalue(), self.err.getvalue(), self.code


@contextmanager
def pg_holding(database: str, *statements: str) -> Iterator[Any]:
    """A second session of the test in an open transaction that ran ``statements``; rolled back
    (its locks released) by ``release`` or at the end."""
    holder = pg_connect(database)
    holder.autocommit = False
    for statement in statements:
        holder.execute(statement)
    try:
        yield holder
    finally:
        holder.rollback()
        holder.close()


def columns(database: str, table: str) -> list[str]:
    with pg_connect(database) as admin:
        rows = admin.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    return [row[0] for row in rows]


def steps(out: str) -> list[dict[str, Any]]:
    return list(json.loads(out)["results"]["steps"])


# -- PostgreSQL ---------------------------------------------------------------------------------


class InThread:
    """``api.migrate_all`` in a thread; ``retried`` is set by the first retry's progress event
    (``--json`` prints no progress: its hand-off is the progress callback)."""

    def __init__(self, selection: Selection) -> None:
        self.retried = threading.Event()
        self.report: Any = None
        self.thread = threading.Thread(target=self._run, args=(selection,))
        self.thread.start()

    def _progress(self, event: Progress) -> None:
        if event.event == "lock-retry":
            self.retried.set()

    def _run(self, selection: Selection) -> None:
        self.report = api.migrate_all(selection, progress=self._progress)

    def wait_for_retry(self) -> None:
        assert self.retried.wait(DEADLINE), "no retry was reported"

    def document(self) -> dict[str, Any]:
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive()
        report = self.report
        return document(report.state, report.results, mode="run", ok=report.ok)


@override_settings(MIGRATOR={"LOCK_RETRIES": RETRIES})
def test_postgresql_ddl_retried_until_the_holder_lets_go(on_servers: Servers) -> None:
    users = on_servers.users
    assert run("migrate_all", target="users:0001_initial")[2] == 0
    out, _, code = run("migrate_all", apps=["users"], plan_only=True, verbosity=2)
    assert code == 0
    assert (
        "    apply users.0002_user_is_active  [lock retries: yes; rolled back and retried on "
        "55P03, up to 3 times]"
    ) in out.splitlines()
    out, _, code = run("migrate_all", apps=["users"], plan_only=True, json=True)
    assert code == 0
    plan = json.loads(out)["plan"]
    assert plan["levels"][0][0]["pending"] == [
        {
            "app": "users",
            "name": "0002_user_is_active",
            "backwards": False,
            "retry": "yes",
            "retry_reason": "rolled back and retried on 55P03, up to 3 times",
        }
    ]
    assert plan["lock_retries"] == {
        "users_db": {"retries": 3, "backoff": 0.2, "max_backoff": 1.0, "ddl_lock_timeout": 0.5}
    }
    with pg_holding(users, "LOCK TABLE users_user IN ACCESS SHARE MODE") as holder:
        running = InThread(Selection(apps=("users",)))
        running.wait_for_retry()
        holder.rollback()  # the second session lets go after the first retry was reported
    result = running.document()
    assert result["ok"] is True
    (step,) = result["results"]["steps"]
    assert step["status"] == "applied"
    assert [m["name"] for m in step["applied"]] == ["0002_user_is_active"]
    retries = step["retries"]
    assert retries[0]["migration"] == "users.0002_user_is_active"
    assert retries[0]["attempt"] == 1
    assert retries[0]["error"] == (
        "55P03 lock timeout after 0.5s: canceling statement due to lock timeout"
    )
    assert retries[0]["waited"] >= 0.2
    assert [r["attempt"] for r in retries] == list(range(1, len(retries) + 1))
    assert pg_recorded(users) == ["users.0001_initial", "users.0002_user_is_active"]
    assert columns(users, "users_user")[-1] == "is_active"


@override_settings(MIGRATOR={"LOCK_RETRIES": RETRIES})
def test_postgresql_retry_lines_in_the_text_output(on_servers: Servers) -> None:
    users = on_servers.users
    assert run("migrate_all", target="users:0001_initial")[2] == 0
    with pg_holding(users, "LOCK TABLE users_user IN ACCESS SHARE MODE") as holder:
        started = Started(FIRST_RETRY, apps=["users"])
        started.wait_for_text()
        holder.rollback()
    out, err, code = started.finish()
    assert (code, err) == (0, "")
    lines = out.splitlines()
    start = lines.index("Migrating users_db: users")
    assert lines[start + 1] == (
        "  users_db: users.0002_user_is_active could not get a lock (55P03 lock timeout after "
        "0.5s); retry 1 of 3 in 0.2s"
    )
    assert "  Applied users.0002_user_is_active" in lines
    assert lines.count("  Applied users.0002_user_is_active") == 1


@override_settings(MIGRATOR={"LOCK_RETRIES": {**RETRIES, "RETRIES": 2}})
def test_postgresql_retries_exhausted_fail_the_step(on_servers: Servers) -> None:
    users = on_servers.users
    assert run("migrate_all", target="users:0001_initial")[2] == 0
    with pg_holding(users, "LOCK TABLE users_user IN ACCESS SHARE MODE") as holder:
        pid = holder.info.backend_pid
        out, _, code = run("migrate_all", apps=["users"])
    assert code == 1
    assert "retry 1 of 2 in 0.2s" in out
    assert "retry 2 of 2 in 0.4s" in out
    failed = next(line for line in out.splitlines() if line.startswith("  FAILED on users_db"))
    assert failed.startswith(
        "  FAILED on users_db: LockRetriesExhausted: users.0002_user_is_active could not get a "
        "lock on users_db in 3 attempts (55P03 lock timeout after 0.5s: canceling statement due "
        f"to lock timeout); the lock is held by pid {pid} ("
    )
    assert failed.endswith(
        ": LOCK TABLE users_user IN ACCESS SHARE MODE). Nothing of it was applied. Raise "
        "MIGRATOR['LOCK_RETRIES'] RETRIES or DDL_LOCK_TIMEOUT, or end what holds the lock, then "
        "run again"
    )
    assert pg_recorded(users) == ["users.0001_initial"]
    assert "is_active" not in columns(users, "users_user")


@override_settings(
    MIGRATOR={"LOCK_RETRIES": RETRIES},
    MIGRATION_MODULES={"users": "tests.fixtures.lock_retry_users_migrations"},
)
def test_postgresql_runpython_and_runsql_retried(
    on_servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = on_servers.users
    attempts = tmp_path / "attempts"
    monkeypatch.setenv("MIGRATOR_TEST_ATTEMPTS", str(attempts))
    assert run("migrate_all", target="users:0001_initial")[2] == 0
    with pg_connect(users) as admin:
        admin.execute(
            "INSERT INTO users_user (username, email, date_joined) VALUES ('held', '', now())"
        )
    with pg_holding(users, "SELECT * FROM users_user WHERE username = 'held' FOR UPDATE") as holder:
        started = Started(FIRST_RETRY, apps=["users"])
        started.wait_for_text()
        holder.rollback()
    out, err, code = started.finish()
    assert (code, err) == (0, "")
    retried = [line for line in out.splitlines() if "could not get a lock" in line]
    assert retried[0] == (
        "  users_db: users.0002_rename_held could not get a lock (55P03 lock timeout after "
        "0.5s); retry 1 of 3 in 0.2s"
    )
    assert out.splitlines().count("  Applied users.0002_rename_held") == 1
    tries = attempts.read_text().splitlines()
    assert len(tries) == len(retried) + 1  # every retry ran the RunPython again
    with pg_connect(users) as admin:
        rows = admin.execute("SELECT username, email FROM users_user").fetchall()
    assert rows == [("held-renamed", "renamed@example.com")]
    assert pg_recorded(users) == ["users.0001_initial", "users.0002_rename_held"]


@override_settings(
    MIGRATOR={
        "LOCK_RETRIES": RETRIES,
        # The non-atomic migration's own lock wait: the session's (DIRECT: no pooler).
        "SESSION": {"users_db": {"lock_timeout": "500ms"}},
        "DIRECT": {"users_db": {}},
    },
    MIGRATION_MODULES={"users": "tests.fixtures.nonatomic_retry_users_migrations"},
)
def test_postgresql_non_atomic_migration_is_not_retried(on_servers: Servers) -> None:
    users = on_servers.users
    assert run("migrate_all", target="users:0001_initial")[2] == 0
    out, _, code = run("migrate_all", apps=["users"], plan_only=True, json=True)
    assert code == 0
    (pending,) = json.loads(out)["plan"]["levels"][0][0]["pending"]
    assert (pending["retry"], pending["retry_reason"]) == (
        "no",
        "not atomic: no transaction rolls a failed attempt back (atomic = False)",
    )
    with pg_holding(users, "LOCK TABLE users_user IN ACCESS SHARE MODE"):
        out, _, code = run("migrate_all", apps=["users"], json=True)
    assert code == 1
    (step,) = steps(out)
    assert step["status"] == "failed"
    assert step["retries"] == []
    assert step["error"] == (
        "OperationalError: canceling statement due to lock timeout (not retried: not atomic: no "
        "transaction rolls a failed attempt back (atomic = False))"
    )
    assert pg_recorded(users) == ["users.0001_initial"]


@override_settings(MIGRATOR={"LOCK_RETRIES": {**RETRIES, "BACKOFF": 30, "MAX_BACKOFF": 30}})
def test_postgresql_stop_during_the_backoff_interrupts_the_step(on_servers: Servers) -> None:
    users = on_servers.users
    assert run("migrate_all", target="users:0001_initial")[2] == 0
    asked: list[str] = []

    def progress(event: Progress) -> None:
        if event.event == "lock-retry":
            asked.append("SIGTERM")  # the stop request comes while the retry waits 30 s

    with pg_holding(users, "LOCK TABLE users_user IN ACCESS SHARE MODE"):
        started = time.monotonic()
        report = api.migrate_all(
            Selection(apps=("users",)),
            RunOptions(should_stop=lambda: asked[0] if asked else None),
            progress,
        )
        seconds = time.monotonic() - started
    assert seconds < 10  # not the 30 s backoff
    (result,) = report.results
    assert result.status == "interrupted"
    assert result.error == (
        "Interrupted: stopped by SIGTERM while users.0002_user_is_active waited to be retried (it "
        "could not get a lock; nothing of it was applied)"
    )
    assert result.retries == ()
    assert pg_recorded(users) == ["users.0001_initial"]


@override_settings(MIGRATOR={"LOCK_RETRIES": RETRIES})
def test_postgresql_retry_in_a_forked_worker(on_servers: Servers) -> None:
    users = on_servers.users
    assert run("migrate_all", target="users:0001_initial")[2] == 0
    assert run("migrate_all", apps=["blog"])[2] == 0
    with pg_holding(users, "LOCK TABLE users_user IN ACCESS SHARE MODE") as holder:
        started = Started(FIRST_RETRY, apps=["users", "shop"], parallel="2")
        started.wait_for_text()
        holder.rollback()
    out, err, code = started.finish()
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert (
        "[users_db]   users_db: users.0002_user_is_active could not get a lock (55P03 lock "
        "timeout after 0.5s); retry 1 of 3 in 0.2s"
    ) in lines
    assert "[users_db]   Applied users.0002_user_is_active" in lines
    assert "[default]   Applied shop.0001_initial" in lines
    assert pg_recorded(users) == ["users.0001_initial", "users.0002_user_is_active"]


# -- MariaDB ------------------------------------------------------------------------------------


@override_settings(
    MIGRATOR={"LOCK_RETRIES": {**RETRIES, "DDL_LOCK_TIMEOUT": 1}},
    MIGRATION_MODULES={"legacy": "tests.fixtures.lock_retry_legacy_migrations"},
)
def test_mariadb_first_statement_retried(on_servers: Servers) -> None:
    legacy = on_servers.legacy
    assert run("migrate_all", target="legacy:0001_initial")[2] == 0
    out, _, code = run("migrate_all", apps=["legacy"], plan_only=True, json=True)
    assert code == 0
    (pending,) = json.loads(out)["plan"]["levels"][0][0]["pending"]
    assert pending["retry"] == "first-statement"
    holder = maria_connect(database=legacy)
    cursor = holder.cursor()
    cursor.execute("START TRANSACTION")
    cursor.execute("SELECT * FROM legacy_customernote")  # a metadata lock until it ends
    try:
        started = Started(FIRST_RETRY, apps=["legacy"])
        started.wait_for_text()
    finally:
        holder.rollback()
        holder.close()
    out, err, code = started.finish()
    assert (code, err) == (0, "")
    lines = out.splitlines()
    start = lines.index("Migrating legacy_db: legacy")
    assert lines[start + 1] == (
        "  legacy_db: legacy.0002_customernote_pinned could not get a lock (1205 lock wait "
        "timeout after 1s); retry 1 of 3 in 0.2s"
    )
    assert lines.count("  Applied legacy.0002_customernote_pinned") == 1
    assert maria_recorded(legacy) == ["legacy.0001_initial", "legacy.0002_customernote_pinned"]
    with maria_connect(database=legacy) as admin:
        probe = admin.cursor()
        probe.execute("SHOW COLUMNS FROM legacy_customernote LIKE 'pinned'")
        assert len(probe.fetchall()) == 1


@override_settings(
    MIGRATOR={"LOCK_RETRIES": {**RETRIES, "DDL_LOCK_TIMEOUT": 1}},
    MIGRATION_MODULES={"legacy": "tests.fixtures.second_statement_legacy_migrations"},
)
def test_mariadb_second_statement_timeout_is_not_retried(on_servers: Servers) -> None:
    legacy = on_servers.legacy
    assert run("migrate_all", target="legacy:0001_initial")[2] == 0
    holder = maria_connect(database=legacy)
    cursor = holder.cursor()
    cursor.execute("START TRANSACTION")
    cursor.execute("SELECT * FROM legacy_customernote")
    try:
        out, _, code = run("migrate_all", apps=["legacy"], json=True)
    finally:
        holder.rollback()
        holder.close()
    assert code == 1
    (step,) = steps(out)
    assert step["status"] == "failed"
    assert step["retries"] == []
    assert step["error"] == (
        "LockRetryRefused: legacy.0002_audit_then_pinned could not get a lock on legacy_db (1205 "
        "lock wait timeout after 1s: Lock wait timeout exceeded; try restarting transaction) and "
        "is not retried: statement 2 of the migration timed out, after 1 that changes the "
        "database, and on MySQL/MariaDB no transaction spans a migration to undo it (first: "
        "CREATE TABLE legacy_audit (id integer PRIMARY KEY)). Check what of it ran (below) and "
        "repair by hand, find what holds the lock (SHOW PROCESSLIST), then run again"
    )
    assert step["executed_sql"] == [
        "CREATE TABLE legacy_audit (id integer PRIMARY KEY)",
        "ALTER TABLE legacy_customernote ADD COLUMN pinned bool NOT NULL DEFAULT 0",
    ]
    assert maria_recorded(legacy) == ["legacy.0001_initial"]
    assert "legacy_audit" in maria_tables(legacy)  # MariaDB does not roll DDL back


# -- a stop signal while a migration waits to be retried (a real migrate_all process) -----------

PHASED_POST = "phased.0003_remove_item_legacy_code"  # RemoveField: DROP COLUMN waits for the lock
PHASED_BEFORE = [
    "contenttypes.0001_initial",
    "contenttypes.0002_remove_content_type_name",
    "phased.0001_initial",
    "phased.0002_item_sku",
]


def read_lines(process: subprocess.Popen[str], wanted: list[str]) -> str:
    """Read a background command's stdout until each of ``wanted`` has been a whole line."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + DEADLINE
    while not set(wanted) <= set(seen):
        assert time.monotonic() < deadline, "\n".join(seen)
        line = process.stdout.readline()
        assert line, f"the command ended before {wanted}: {seen}"
        seen.append(line.rstrip("\n"))
    return "\n".join(seen) + "\n"


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_a_stop_signal_during_the_backoff_interrupts_the_step_at_once(
    tmp_path: Path, unblocked: None, how: str, parallel: bool
) -> None:
    """``migrate_all`` in a process group of its own (tests/settings/phases.py on two PostgreSQL
    databases, no phase tool): on ``second`` phased.0003 cannot get its lock and waits 30 s to be
    retried; SIGTERM to the command, or Ctrl-C (SIGINT to the whole group, workers included),
    ends that wait at once: the step is interrupted, nothing of phased.0003 is recorded there,
    exit 128 + the signal, as every interrupted run."""
    retries = {**RETRIES, "BACKOFF": 30, "MAX_BACKOFF": 30}
    with pg_databases(2) as (default, second):
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.settings.phases",
            "MIGRATOR_VAR_DIR": str(tmp_path),
            "MIGRATOR_TEST_DATABASES": json.dumps(
                {"default": pg_entry(default), "second": pg_entry(second)}
            ),
            "MIGRATOR_PHASE_APPS": "",
            "MIGRATOR_TEST_SETTINGS": json.dumps({"LOCK_RETRIES": retries}),
            "PYTHONUNBUFFERED": "1",
        }
        ready = manage("migrate_all", "--noinput", "-v", "0", "--target", "phased:0002", env=env)
        assert (ready.returncode, ready.stderr) == (0, "")
        prefix = "[second]   " if parallel else "  "
        retry = (
            f"{prefix}second: {PHASED_POST} could not get a lock (55P03 lock timeout after 0.5s); "
            "retry 1 of 3 in 30s"
        )
        # The other database's step ends first (--parallel: it runs meanwhile).
        wanted = [retry, f"{'[default]   ' if parallel else '  '}Applied {PHASED_POST}"]
        args = ["--parallel", "2"] if parallel else []
        with pg_holding(second, "LOCK TABLE phased_item IN ACCESS SHARE MODE"):
            command = manage_background("migrate_all", "--noinput", *args, env=env, own_group=True)
            seen = read_lines(command, wanted)
            signalled = time.monotonic()
            if how == "SIGTERM":
                command.send_signal(signal.SIGTERM)
            else:
                os.killpg(command.pid, signal.SIGINT)
            out, err = finish(command, timeout=DEADLINE)
            seconds = time.monotonic() - signalled
        assert seconds < 10, seconds  # not the 30 s backoff
        name, number = ("SIGTERM", 143) if how == "SIGTERM" else ("SIGINT", 130)
        assert command.returncode == number, err
        assert err.endswith(
            f"CommandError: Interrupted by {name}: 5 migrations applied, the current one finished "
            "or rolled back, locks released. Run again to continue.\n"
        )
        lines = (seen + out).splitlines()
        assert (
            f"  second (contenttypes, phased) interrupted: Interrupted: stopped by {name} while {PHASED_POST} waited to be "
            "retried (it could not get a lock; nothing of it was applied)"
        ) in lines
        assert pg_recorded(default) == sorted([*PHASED_BEFORE, PHASED_POST])
        assert pg_recorded(second) == PHASED_BEFORE
        assert columns(second, "phased_item") == ["id", "name", "legacy_code", "sku"]


# -- MariaDB row locks: innodb_lock_wait_timeout ------------------------------------------------

NOTES = "INSERT INTO legacy_customernote (id, text, created_at, customer_id) VALUES (1, 'one', NOW(), 1), (2, 'two', NOW(), 1)"  # fmt: skip


def maria_notes(database: str) -> list[tuple[int, str]]:
    with maria_connect(database=database) as admin:
        cursor = admin.cursor()
        cursor.execute("SELECT id, text FROM legacy_customernote ORDER BY id")
        return [(int(row[0]), str(row[1])) for row in cursor.fetchall()]


@contextmanager
def maria_row_held(database: str, note: int) -> Iterator[Any]:
    """A second session whose open transaction holds note ``note``'s row (``FOR UPDATE``)."""
    holder = maria_connect(database=database)
    cursor = holder.cursor()
    cursor.execute("START TRANSACTION")
    cursor.execute("SELECT * FROM legacy_customernote WHERE id = %s FOR UPDATE", (note,))
    try:
        yield holder
    finally:
        holder.rollback()
        holder.close()


@override_settings(
    MIGRATOR={"LOCK_RETRIES": {**RETRIES, "DDL_LOCK_TIMEOUT": 1}},
    MIGRATION_MODULES={"legacy": "tests.fixtures.row_lock_legacy_migrations"},
)
def test_mariadb_row_lock_on_the_first_change_retried(
    on_servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = on_servers.legacy
    attempts = tmp_path / "attempts"
    monkeypatch.setenv("MIGRATOR_TEST_ATTEMPTS", str(attempts))
    assert run("migrate_all", target="legacy:0001_initial")[2] == 0
    with maria_connect(database=legacy) as admin:
        admin.cursor().execute(NOTES)
    with maria_row_held(legacy, 1) as holder:
        begun = time.monotonic()
        started = Started(FIRST_RETRY, apps=["legacy"])
        started.wait_for_text()
        waited = time.monotonic() - begun
        holder.rollback()
    # The row lock's wait ended after DDL_LOCK_TIMEOUT, not the server's own 50 s.
    assert waited < 10, waited
    out, err, code = started.finish()
    assert (code, err) == (0, "")
    lines = out.splitlines()
    start = lines.index("Migrating legacy_db: legacy")
    # The row lock's wait: innodb_lock_wait_timeout, set to DDL_LOCK_TIMEOUT for the attempt.
    assert lines[start + 1] == (
        "  legacy_db: legacy.0002_touch_notes could not get a lock (1205 lock wait timeout after "
        "1s); retry 1 of 3 in 0.2s"
    )
    retried = [line for line in lines if "could not get a lock" in line]
    assert lines.count("  Applied legacy.0002_touch_notes") == 1
    assert len(attempts.read_text().splitlines()) == len(retried) + 1
    assert maria_notes(legacy) == [(1, "one, touched"), (2, "two, touched")]
    assert maria_recorded(legacy) == ["legacy.0001_initial", "legacy.0002_touch_notes"]
    # The attempt's timeouts were put back on Django's connection (the server's defaults).
    with connections["legacy_db"].cursor() as cursor:
        cursor.execute(
            "SELECT @@SESSION.innodb_lock_wait_timeout = @@GLOBAL.innodb_lock_wait_timeout, "
            "@@SESSION.lock_wait_timeout = @@GLOBAL.lock_wait_timeout"
        )
        assert cursor.fetchone() == (1, 1)


@override_settings(
    MIGRATOR={"LOCK_RETRIES": {**RETRIES, "DDL_LOCK_TIMEOUT": 1}},
    MIGRATION_MODULES={"legacy": "tests.fixtures.row_lock_legacy_migrations"},
)
def test_mariadb_row_lock_after_a_change_is_not_retried(on_servers: Servers) -> None:
    legacy = on_servers.legacy
    assert run("migrate_all", target="legacy:0001_initial")[2] == 0
    with maria_connect(database=legacy) as admin:
        admin.cursor().execute(NOTES)
    with maria_row_held(legacy, 2):
        out, _, code = run("migrate_all", apps=["legacy"], json=True)
    assert code == 1
    (step,) = steps(out)
    assert step["status"] == "failed"
    assert step["retries"] == []
    assert step["error"] == (
        "LockRetryRefused: legacy.0002_touch_notes could not get a lock on legacy_db (1205 lock "
        "wait timeout after 1s: Lock wait timeout exceeded; try restarting transaction) and is "
        "not retried: statement 2 of the migration timed out, after 1 that changes the database, "
        "and on MySQL/MariaDB no transaction spans a migration to undo it (first: UPDATE "
        "`legacy_customernote` SET `text` = %s WHERE `legacy_customernote`.`id`...). Check what "
        "of it ran (below) and repair by hand, find what holds the lock (SHOW PROCESSLIST), then "
        "run again"
    )
    assert step["executed_sql"] == [
        "UPDATE `legacy_customernote` SET `text` = %s WHERE `legacy_customernote`.`id` = %s -- "
        "params: ('one, touched', 1)",
        "UPDATE legacy_customernote SET text = 'two, touched' WHERE id = 2",
    ]
    # The RunPython's UPDATE was committed (its operation's own transaction): it stays.
    assert maria_notes(legacy) == [(1, "one, touched"), (2, "two")]
    assert maria_recorded(legacy) == ["legacy.0001_initial"]


# -- the run journal, and --resume after the retries ran out -----------------------------------


def test_journal_records_retries_and_resume_applies_once_the_lock_is_free(
    on_servers: Servers, tmp_path: Path
) -> None:
    users = on_servers.users
    journal = tmp_path / "journal.jsonl"
    setting = {"LOCK_RETRIES": {**RETRIES, "RETRIES": 1}, "JOURNAL": str(journal)}
    with override_settings(MIGRATOR=setting):
        assert run("migrate_all", target="users:0001_initial")[2] == 0
        with pg_holding(users, "LOCK TABLE users_user IN ACCESS SHARE MODE"):
            out, err, code = run("migrate_all", interactive=False, json=True, create_schemas=True)
        assert code == 1, err
        failed = json.loads(out)
        run_id = failed["run_id"]
        by_alias = {s["alias"]: s for s in failed["results"]["steps"]}
        assert by_alias["users_db"]["status"] == "failed"
        assert by_alias["users_db"]["error"].startswith(
            "LockRetriesExhausted: users.0002_user_is_active could not get a lock on users_db in "
            "2 attempts (55P03 lock timeout after 0.5s: canceling statement due to lock timeout)"
        )
        records = [json.loads(line) for line in journal.read_text().splitlines()]
        (record,) = [
            r
            for r in records
            if r["run_id"] == run_id and r["type"] == "step" and r["alias"] == "users_db"
        ]
        assert record["status"] == "failed"
        assert record["failed_migration"] == "users.0002_user_is_active"
        (retry,) = record["retries"]  # the attempt retried; the second one ran out
        assert (retry["migration"], retry["attempt"], retry["error"]) == (
            "users.0002_user_is_active",
            1,
            "55P03 lock timeout after 0.5s: canceling statement due to lock timeout",
        )
        assert retry["waited"] >= 0.2
        assert pg_recorded(users) == ["users.0001_initial"]
        skipped = sorted(a for a, s in by_alias.items() if s["status"] == "skipped")
        assert skipped == ["default"]  # its steps behind users_db's

        # The lock is free: --resume continues the same run where it failed.
        out, err, code = run("migrate_all", resume="latest", interactive=False, json=True)
        assert (code, err) == (0, "")
        resumed = json.loads(out)
        assert (resumed["run_id"], resumed["ok"]) == (run_id, True)
        steps_now = [s for s in resumed["results"]["steps"] if not s.get("earlier")]
        users_step = next(s for s in steps_now if s["alias"] == "users_db")
        assert (users_step["status"], users_step["retries"]) == ("applied", [])
        assert [m["name"] for m in users_step["applied"]] == ["0002_user_is_active"]
    # A full run records every migration of the project on users_db, each once.
    assert pg_recorded(users) == every_migration()
    assert columns(users, "users_user")[-1] == "is_active"
    attempts = [r["attempt"] for r in map(json.loads, journal.read_text().splitlines())
                if r["run_id"] == run_id and r["type"] == "finished"]  # fmt: skip
    assert attempts == [1, 2]


def pg_schema(database: str) -> tuple[list[tuple[Any, ...]], list[str], list[str]]:
    """Columns (table, name, type, nullable, default), index definitions and django_migrations
    rows of ``database``'s public schema: what a migration leaves there."""
    with pg_connect(database) as admin:
        found = admin.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY table_name, column_name"
        ).fetchall()
        indexes = admin.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexdef"
        ).fetchall()
    return [tuple(row) for row in found], [row[0] for row in indexes], pg_recorded(database)


@override_settings(MIGRATOR={"LOCK_RETRIES": RETRIES})
def test_postgresql_a_retried_migration_leaves_what_djangos_migrate_leaves(
    on_servers: Servers,
) -> None:
    """Parity: users.0002 applied by migrate_all after a retry, then unapplied and applied again
    by Django's own migrate --database users_db (no lock held): the same columns, indexes and
    django_migrations rows."""
    users = on_servers.users
    assert run("migrate_all", target="users:0001_initial")[2] == 0
    with pg_holding(users, "LOCK TABLE users_user IN ACCESS SHARE MODE") as holder:
        running = InThread(Selection(apps=("users",)))
        running.wait_for_retry()
        holder.rollback()
    assert running.document()["ok"] is True
    ours = pg_schema(users)
    assert ours[2] == ["users.0001_initial", "users.0002_user_is_active"]
    call_command("migrate", "users", "0001_initial", database="users_db", verbosity=0)
    assert pg_schema(users) != ours  # the column is gone again
    call_command("migrate", "users", database="users_db", verbosity=0)
    assert pg_schema(users) == ours
