"""``python testproject/manage.py migrator`` in a pseudo-terminal (pexpect): real keys, real signals.

prompt_toolkit asks the terminal where its cursor is (CPR); nobody answers in a bare pty, so
``PROMPT_TOOLKIT_NO_CPR`` spares each prompt a one-second wait (tmux answers it: see test_tmux).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.commands.test_migrate_all import ALL_MIGRATIONS, USERS
from tests.fixtures.hold import handshake, wait_until_entered
from tests.helpers import MANAGE, REPO, manage, sqlite_recorded, sqlite_tables

DOWN = "\x1b[B"
ESC = "\x1b"


def env_for(tmp_path: Path, settings: str = "testproject.settings") -> dict[str, str]:
    return {"MIGRATOR_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": settings}


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[pexpect.spawn]]:
    """Children started through ``start``; any still running at the end is terminated."""
    children: list[pexpect.spawn] = []
    yield children
    for child in children:
        child.close(force=True)


def start(children: list[pexpect.spawn], env: dict[str, str]) -> pexpect.spawn:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MIGRATOR_")}
    full_env.update(PYTHONPATH=str(REPO), TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1")
    full_env.update(env)
    child = pexpect.spawn(
        sys.executable,
        [str(MANAGE), "migrator"],
        env=full_env,
        encoding="utf-8",
        timeout=20,
        dimensions=(50, 160),
    )
    children.append(child)
    return child


def test_esc_goes_back_and_exits_from_the_top(spawn: list[pexpect.spawn], tmp_path: Path) -> None:
    child = start(spawn, env_for(tmp_path))
    child.expect_exact("115 migrations pending on 5 databases.")
    child.expect_exact("What next?")
    child.send(DOWN * 4 + "\r")  # Migrate one database
    child.expect_exact("Which database?")
    child.expect_exact("users_db      23 pending")
    child.send(ESC)
    child.expect_exact("What next?")
    child.send("\r")  # the cursor stayed on "Migrate one database"
    child.expect_exact("Which database?")
    child.send(DOWN + "\r")  # users_db
    child.expect_exact("Run 2 migrations, record 21 on 1 database?")
    child.send(ESC)
    child.expect_exact("What next?")
    child.send(ESC)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert list(tmp_path.iterdir()) == []  # nothing was touched


def test_ctrl_c_during_a_run_stops_after_the_migration_and_frees_the_lock(
    spawn: list[pexpect.spawn], tmp_path: Path
) -> None:
    held, entered, release = handshake(tmp_path.parent / f"{tmp_path.name}-held")
    entered.parent.mkdir()
    env = env_for(tmp_path, "tests.settings.slow_users")  # users.0002_slow: held until released
    child = start(spawn, {**env, **held})
    child.expect_exact("What next?")
    child.send(DOWN * 3 + "\r")  # Migrate everything
    child.expect_exact("Run 22 migrations, record 93 on 5 databases?")
    child.send("y")
    child.expect_exact("Applied users.0001_initial")
    wait_until_entered(entered)  # users.0002_slow runs: the Ctrl-C lands inside it
    child.sendcontrol("c")
    child.expect_exact("Ctrl-C: stopping after the current migration. Ctrl-C again stops at once.")
    release.touch()
    child.expect_exact("Applied users.0002_slow")
    child.expect_exact("Interrupted: 4 migrations applied; 3 steps not started.")
    child.expect_exact(
        "analytics_db (analytics) interrupted: Interrupted: stopped by SIGINT before analytics"
    )
    child.expect_exact("What next?")

    # The menu is still open, and its lock on users_db is gone: a run that must lock does not wait.
    second = manage(
        "migrate_all", "--database", "users_db", "--force-migrate", "--lock-timeout", "0", env=env
    )
    assert (second.returncode, second.stderr) == (0, "")
    assert second.stdout.splitlines()[-1] == "Done: 0 migrations applied on 1 database."

    child.send(ESC)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    # The migrations of the other apps were only recorded there, before the run stopped.
    assert sqlite_recorded(tmp_path / "users_db.sqlite3") == (ALL_MIGRATIONS - USERS) | {
        "users.0001_initial",
        "users.0002_slow",
    }
    assert sqlite_tables(tmp_path / "users_db.sqlite3") == {"django_migrations", "users_user"}
    # Not migrated: the database checks before the run's first migration may have opened it
    # (Django's JSONField check connects to the aliases the run migrates), nothing more.
    analytics = tmp_path / "analytics_db.sqlite3"
    assert not analytics.exists() or sqlite_tables(analytics) == set()
    assert not list(tmp_path.glob("*.migrator-lock"))


def test_a_second_ctrl_c_stops_at_once_and_still_frees_the_lock(
    spawn: list[pexpect.spawn], tmp_path: Path
) -> None:
    held, entered, _ = handshake(tmp_path.parent / f"{tmp_path.name}-held")
    entered.parent.mkdir()
    env = env_for(tmp_path, "tests.settings.slow_users")
    child = start(spawn, {**env, **held})
    child.expect_exact("What next?")
    child.send(DOWN * 4 + "\r")  # Migrate one database
    child.expect_exact("Which database?")
    child.send(DOWN + "\r")  # users_db
    child.expect_exact("Run 2 migrations, record 21 on 1 database?")
    child.send("y")
    child.expect_exact("Applied users.0001_initial")
    wait_until_entered(entered)  # users.0002_slow runs, held: only the second Ctrl-C ends it
    child.sendcontrol("c")
    child.expect_exact("Ctrl-C again stops at once.")
    child.sendcontrol("c")
    child.expect_exact(
        "Stopped at once by a second Ctrl-C after 1 migration; the running one rolled back where "
        "the database can. Run again to continue."
    )
    child.expect_exact("What next?")
    assert sqlite_recorded(tmp_path / "users_db.sqlite3") == {"users.0001_initial"}
    assert not list(tmp_path.glob("*.migrator-lock"))
    second = manage("migrate_all", "--database", "users_db", "--lock-timeout", "0", env=env)
    assert (second.returncode, second.stderr) == (0, "")
    assert second.stdout.splitlines()[-1] == (
        "Done: 1 migration applied, 21 only recorded on 1 database."
    )
    child.send(ESC)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
