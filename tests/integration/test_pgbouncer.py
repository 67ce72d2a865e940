"""The lock of a run behind PgBouncer, and when its connection dies (issue 13).

Every run here is a ``manage.py migrate_all`` child process on the small project of
``tests.settings.gated_users``: contenttypes, auth and the users app, whose migration
``users.0002_gate`` (tests.fixtures.gated_migrations) holds a run inside it until the test
creates a file. Runs hand over to the test through files (the gate's "entered" and "release")
and through their stdout, read line by line with a deadline: no test sleeps to wait for another
process.

Behind PgBouncer each test starts its own (tests/pgbouncer.py) with pools so small that clients
take turns on the same server connections. Each test has its own databases.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from migrator import preflight
from migrator.backends import backend
from migrator.execution.workers import overlap
from migrator.project.databases import alias_infos
from tests.conftest import aliases_pointed_at
from tests.helpers import OUTPUTS, every_migration, manage, manage_background
from tests.pgbouncer import PoolMode, bouncer
from tests.servers import pg_connect, pg_databases, pg_entry, pg_recorded, pg_tables

pytestmark = [pytest.mark.postgres, pytest.mark.pgbouncer]

ALIAS = "default"  # the project's one alias
GATED = ["users.0001_initial", "users.0002_gate", "users.0003_user_is_active"]
# What Django's migrate records on the alias (and what migrate_all must record, each once).
EVERY = sorted(
    [m for m in every_migration() if m.split(".")[0] in ("auth", "contenttypes")] + GATED
)
ENTERED = "MIGRATOR_TEST_GATE_ENTERED"  # as tests/fixtures/gated_migrations/0002_gate.py reads
RELEASE = "MIGRATOR_TEST_GATE_RELEASE"
# Server connections per pool. In transaction pooling a run inside a migration holds two at once
# (its lock's transaction and the migration's), and a second run needs a third to wait for the
# lock. In session pooling every client keeps its own: two runs, each a Django connection and a
# lock connection, hold four.
POOL_SIZE: dict[PoolMode, int] = {"transaction": 3, "session": 4}
WAITING = "Waiting for the lock"  # the progress line of a run that waits (with -v 2)
SECONDS = 30.0  # the most any one hand-over may take before the test fails


class Run:
    """A ``migrate_all`` child whose stdout and stderr are read as they come: the test can wait
    for a line (with a deadline) and still have the whole output at the end."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.process = manage_background("migrate_all", *args, env=env)
        self.out: list[str] = []
        self.err: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.out, True)),
            threading.Thread(target=self._read, args=(self.process.stderr, self.err, False)),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, into: list[str], lines: bool) -> None:
        for line in stream:
            into.append(line)
            if lines:
                self._lines.put(line)
        if lines:
            self._lines.put(None)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return "".join(self.out) + "".join(self.err)

    def wait_for_line(self, text: str, timeout: float = SECONDS) -> str:
        """The first stdout line (from here on) that contains ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(
                    f"pid {self.pid} printed no line containing {text!r} within {timeout:g}s; "
                    f"its output so far:\n{self.output()}"
                )
            if line is None:
                self.finish()
                pytest.fail(
                    f"pid {self.pid} ended (exit code {self.process.returncode}) without a line "
                    f"containing {text!r}:\n{self.output()}"
                )
            if text in line:
                return line

    def finish(self, timeout: float = SECONDS) -> tuple[int, str, str]:
        """Wait for the child: (exit code, stdout, stderr); fails the test when it does not end."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"pid {self.pid} did not end within {timeout:g}s:\n{self.output()}")
        for reader in self._readers:
            reader.join()
        out, err = "".join(self.out), "".join(self.err)
        OUTPUTS.extend((out, err))  # for the no-password check
        return self.process.returncode, out, err

    def stop(self) -> None:
        """SIGKILL it if it still runs, and reap it."""
        if self.running:
            self.process.kill()
        self.process.wait()
        for reader in self._readers:
            reader.join()


@dataclass(frozen=True)
class Gate:
    """The files through which users.0002_gate and the test hand over."""

    folder: Path

    @property
    def entered(self) -> Path:
        return self.folder / "entered"

    @property
    def release(self) -> Path:
        return self.folder / "release"

    def env(self) -> dict[str, str]:
        return {ENTERED: str(self.entered), RELEASE: str(self.release)}

    def wait_until_entered(self, run: Run, timeout: float = SECONDS) -> None:
        """Until ``run`` is inside users.0002_gate (its migration transaction open)."""
        deadline = time.monotonic() + timeout
        while not self.entered.exists():
            if not run.running:
                code, out, err = run.finish()
                pytest.fail(f"pid {run.pid} ended (exit code {code}) before the gate:\n{out}{err}")
            if time.monotonic() > deadline:
                pytest.fail(f"pid {run.pid} did not reach the gate within {timeout:g}s")
            time.sleep(0.02)
        assert self.entered.read_text() == str(run.pid)

    def open(self) -> None:
        self.release.touch()


@pytest.fixture
def gate(tmp_path: Path) -> Gate:
    folder = tmp_path / "gate"
    folder.mkdir()
    return Gate(folder)


@pytest.fixture
def start(tmp_path: Path, gate: Gate) -> Iterator[Callable[..., Run]]:
    """``start(databases, *args, gated=True)``: a migrate_all child on the small project with
    ``databases`` (alias to DATABASES entry). After the test (its bouncer stopped and its
    databases dropped WITH (FORCE) by then, which ends their connections) the gate opens and
    every child still running is killed and reaped."""
    runs: list[Run] = []

    def starter(databases: dict[str, dict[str, Any]], *args: str, gated: bool = True) -> Run:
        run = Run(*args, env=_env(tmp_path, databases, gate if gated else None))
        runs.append(run)
        return run

    yield starter
    gate.open()
    for run in runs:
        run.stop()


def _env(tmp: Path, databases: dict[str, dict[str, Any]], gate: Gate | None) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "tests.settings.gated_users",
        "MIGRATOR_VAR_DIR": str(tmp),
        "MIGRATOR_TEST_DATABASES": json.dumps(databases),
        "PYTHONUNBUFFERED": "1",
        **(gate.env() if gate else {}),
    }


def gate_rows(dbname: str) -> list[str]:
    """The users users.0002_gate inserted: one per time it ran and committed."""
    with pg_connect(dbname) as connection:
        rows = connection.execute(
            "SELECT username FROM users_user WHERE username LIKE 'gate pid %%' ORDER BY id"
        ).fetchall()
    return [row[0] for row in rows]


def columns(dbname: str, table: str) -> list[str]:
    with pg_connect(dbname) as connection:
        rows = connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = %s ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    return [row[0] for row in rows]


def snapshot(dbname: str) -> dict[str, Any]:
    """What a migration run leaves in a database: tables with their columns, indexes and
    constraints, the rows Django records and post_migrate writes."""
    with pg_connect(dbname) as connection:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in connection.execute(sql).fetchall()]

        return {
            "columns": rows(
                "SELECT table_name, column_name, data_type, is_nullable, column_default, "
                "character_maximum_length, is_identity FROM information_schema.columns "
                "WHERE table_schema = 'public' ORDER BY table_name, column_name"
            ),
            "indexes": rows(
                "SELECT tablename, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = 'public' ORDER BY tablename, indexname"
            ),
            "constraints": rows(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
                "ORDER BY 1, 2"
            ),
            "migrations": rows("SELECT app, name FROM django_migrations ORDER BY app, name"),
            "content_types": rows(
                "SELECT app_label, model FROM django_content_type ORDER BY app_label, model"
            ),
            "permissions": rows(
                "SELECT ct.app_label, p.codename, p.name FROM auth_permission p "
                "JOIN django_content_type ct ON ct.id = p.content_type_id ORDER BY 1, 2"
            ),
            "gate_rows": rows("SELECT count(*) FROM users_user"),
        }


def advisory_locks(dbname: str) -> list[tuple[Any, ...]]:
    """Advisory locks held on ``dbname`` (by any session, pooled server connections included)."""
    with pg_connect() as connection:
        rows = connection.execute(
            "SELECT l.pid, l.classid, l.objid, l.granted FROM pg_locks l "
            "JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND d.datname = %s",
            (dbname,),
        ).fetchall()
    return [tuple(row) for row in rows]


def no_prepared_statement_errors(*outputs: str) -> None:
    """psycopg 3 prepares a query it runs often; behind transaction pooling the next
    transaction may run on a server connection that does not have it."""
    for text in outputs:
        assert "DuplicatePreparedStatement" not in text, text
        assert "prepared statement" not in text, text


def test_migrate_all_through_transaction_pooling_writes_what_djangos_migrate_writes(
    tmp_path: Path,
) -> None:
    with pg_databases(2) as (ours, django), bouncer([ours], default_pool_size=2) as pgb:
        result = manage(
            "migrate_all", "--noinput", env=_env(tmp_path, {ALIAS: pgb.entry(ours)}, None)
        )
        assert result.returncode == 0, result.stdout + result.stderr
        no_prepared_statement_errors(result.stdout, result.stderr)
        theirs = manage(
            "migrate",
            "--database",
            ALIAS,
            "--noinput",
            env=_env(tmp_path, {ALIAS: pg_entry(django)}, None),
        )
        assert theirs.returncode == 0, theirs.stderr
        assert sorted(pg_recorded(ours)) == EVERY
        assert sorted(pg_recorded(django)) == EVERY
        assert pg_tables(ours) == pg_tables(django)
        assert snapshot(ours) == snapshot(django)


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_two_runs_through_pgbouncer_exclude_each_other(
    start: Callable[..., Run], gate: Gate, pool_mode: PoolMode
) -> None:
    with (
        pg_databases(1) as (db,),
        bouncer([db], pool_mode=pool_mode, default_pool_size=POOL_SIZE[pool_mode]) as pgb,
    ):
        databases = {ALIAS: pgb.entry(db)}
        first = start(databases, "--noinput")
        gate.wait_until_entered(first)
        second = start(databases, "--noinput", "--lock-timeout", "2")
        code, out, err = second.finish()
        assert code == 1, out + err
        assert f"LockTimeout: could not lock {ALIAS} within 2s" in err, out + err
        assert first.running  # still inside users.0002_gate: the lock is its own
        gate.open()
        code, out, err = first.finish()
        assert code == 0, out + err
        no_prepared_statement_errors(out, err, *second.out, *second.err)
        assert sorted(pg_recorded(db)) == EVERY
        assert gate_rows(db) == [f"gate pid {first.pid}"]
        # Both runs have ended; the bouncer keeps its server connections: none holds a lock.
        assert advisory_locks(db) == []


def test_sigkill_inside_a_migration_behind_transaction_pooling_leaves_no_lock(
    start: Callable[..., Run], gate: Gate
) -> None:
    with pg_databases(1) as (db,), bouncer([db], default_pool_size=POOL_SIZE["transaction"]) as pgb:
        databases = {ALIAS: pgb.entry(db)}
        first = start(databases, "--noinput")
        gate.wait_until_entered(first)
        first.process.send_signal(signal.SIGKILL)
        code, _, _ = first.finish()
        assert code == -signal.SIGKILL
        second = start(databases, "--noinput", "--lock-timeout", "10", gated=False)
        code, out, err = second.finish()
        assert code == 0, out + err
        no_prepared_statement_errors(out, err)
        assert sorted(pg_recorded(db)) == EVERY
        # The killed run's users.0002_gate rolled back with its transaction; the second ran it.
        assert gate_rows(db) == [f"gate pid {second.pid}"]
        assert advisory_locks(db) == []


def test_sigterm_stops_a_run_that_waits_for_the_lock_behind_pgbouncer(
    start: Callable[..., Run], gate: Gate
) -> None:
    with pg_databases(1) as (db,), bouncer([db], default_pool_size=POOL_SIZE["transaction"]) as pgb:
        databases = {ALIAS: pgb.entry(db)}
        first = start(databases, "--noinput")
        gate.wait_until_entered(first)
        second = start(databases, "--noinput", "-v", "2", "--lock-timeout", "120")
        second.wait_for_line(WAITING)
        second.process.send_signal(signal.SIGTERM)
        code, out, err = second.finish()
        assert code == 143, out + err
        assert "Interrupted" in err, out + err
        # It stopped by itself, not because the first run let go of the lock.
        assert first.running
        assert not gate.release.exists()
        gate.open()
        code, out, err = first.finish()
        assert code == 0, out + err
        assert sorted(pg_recorded(db)) == EVERY
        assert gate_rows(db) == [f"gate pid {first.pid}"]
        assert advisory_locks(db) == []


def test_a_run_whose_lock_connection_dies_stops_before_the_next_migration(
    tmp_path: Path, start: Callable[..., Run], gate: Gate
) -> None:
    with pg_databases(1) as (db,):
        databases = {ALIAS: pg_entry(db)}  # straight to PostgreSQL
        first = start(databases, "--noinput")
        gate.wait_until_entered(first)
        with pg_connect() as admin:
            # The lock's own connection carries holder_name(); Django's connection does not.
            holders = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name LIKE %s",
                (db, f"django-migrator pid {first.pid} %"),
            ).fetchall()
            assert len(holders) == 1, holders
            terminated = admin.execute(
                "SELECT pg_terminate_backend(%s, 10000)", (holders[0][0],)
            ).fetchone()
            assert terminated == (True,)  # gone (pg_terminate_backend waited for it)
        gate.open()
        code, out, err = first.finish()
        # users.0002_gate may commit (the lock is watched before each migration), 0003 may not.
        assert "users.0003_user_is_active" not in pg_recorded(db), out + err
        assert "is_active" not in columns(db, "users_user")
        assert code == 1, out + err
        assert "lock lost" in (out + err).lower(), out + err
        rerun = manage("migrate_all", "--noinput", env=_env(tmp_path, databases, None))
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert "  Applied users.0003_user_is_active" in rerun.stdout
        assert sorted(pg_recorded(db)) == EVERY
        assert "is_active" in columns(db, "users_user")
        assert len(gate_rows(db)) == 1  # users.0002_gate committed once, by one of the two


def test_a_pgbouncer_alias_and_the_database_it_names_get_one_scope(unblocked: None) -> None:
    """--parallel never runs two steps at once on one target: NAME "<db>_pool" (a PgBouncer
    database alias) and NAME "<db>" (direct) are one database, as current_database() says and as
    the migration lock is keyed; their scopes are equal, so they never run at once."""
    with pg_databases(1) as (db,), bouncer([db], aliases={f"{db}_pool": db}) as pgb:
        entries = {"default": pg_entry(db), "users_db": pgb.entry(f"{db}_pool")}
        with aliases_pointed_at(entries):
            infos = {info.alias: info for info in alias_infos()}
            scopes = []
            for alias in ("default", "users_db"):
                probe = backend("postgresql").probe(infos[alias], 5)
                assert probe.database == db, probe
                scopes.append(preflight.scope(probe.info, probe))
        assert infos["users_db"].name == f"{db}_pool"
        assert scopes[0] == scopes[1] == ("postgresql", db, "public")
        assert overlap(scopes[0], scopes[1])
