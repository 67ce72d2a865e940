"""The menu on real servers: a Ctrl-C during a run leaves no session lock behind."""

from __future__ import annotations

import pytest
from django.test import override_settings

from migrator.backends.postgresql import LOCK_CLASS
from tests.helpers import every_migration, run
from tests.integration.conftest import Servers
from tests.interactive.driver import CTRL_C, DOWN, ENTER, MenuDriver, top
from tests.servers import pg_connect, pg_recorded


def migrator_locks(database: str) -> int:
    """Advisory locks of django-migrator held on ``database``, by any session."""
    with pg_connect() as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = %s::bigint::oid "
            "AND database = (SELECT oid FROM pg_database WHERE datname = %s)",
            (LOCK_CLASS, database),
        ).fetchone()
    return int(row[0])


@override_settings(MIGRATION_MODULES={"users": "tests.fixtures.interrupting_users_migrations"})
def test_ctrl_c_in_the_menu_releases_the_postgresql_lock(
    on_servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("migrator.cli.output.stdin_is_terminal", lambda: True)
    menu = MenuDriver(monkeypatch)
    out, err, code = menu(top("Migrate one database"), DOWN + ENTER, "y", CTRL_C)  # users_db
    assert (err, code) == (
        "Ctrl-C: stopping after the current migration. Ctrl-C again stops at once.\n",
        0,
    )
    assert out.splitlines()[-2:] == [
        "Interrupted: 1 migration applied; 0 steps not started. Run again to continue; nothing is "
        "repeated.",
        "  users_db (users) interrupted: Interrupted: stopped by SIGINT before "
        "users.0002_user_is_active",
    ]
    # Stopped before users.0002_user_is_active: the rows only to record there wait for the rerun.
    assert pg_recorded(on_servers.users) == ["users.0001_initial"]
    assert migrator_locks(on_servers.users) == 0  # this process lives on; its lock is gone
    _, err, code = run("migrate_all", databases=["users_db"], lock_timeout="0")
    assert (err, code) == ("", 0)
    assert pg_recorded(on_servers.users) == every_migration()  # as migrate --database users_db
