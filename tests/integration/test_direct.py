"""``MIGRATOR["DIRECT"]`` (issue 13): migrator's own connections of an alias (preflight, lock,
migrations) go where it says, while the application and Django's own commands keep DATABASES
(e.g. PgBouncer). Proved with DATABASES pointing at a port where nothing listens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import override_settings

from migrator import conf
from migrator.exceptions import ConfigurationError
from tests.helpers import PG_PASSWORD, PROJECT_MIGRATIONS, manage
from tests.pgbouncer import free_port
from tests.servers import PG, pg_databases, pg_recorded, pg_tables

DIRECT_PASSWORD = "direct-Secret-never-shown"


def test_an_alias_is_migrated_through_its_direct_connection(tmp_path: Path) -> None:
    with pg_databases(1) as (name,):
        closed = free_port()  # nothing listens there: only DIRECT can reach the database
        env = {
            "MIGRATOR_VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "tests.settings.direct",
            "MIGRATOR_DB_USERS_DB": f"postgres://postgres:{PG_PASSWORD}@127.0.0.1:{closed}/{name}",
            "MIGRATOR_TEST_DIRECT": json.dumps(
                {
                    "users_db": {
                        "HOST": PG["host"],
                        "PORT": PG["port"],
                        "PASSWORD": DIRECT_PASSWORD,
                        "OPTIONS": {"application_name": "migrator-direct"},
                    }
                }
            ),
        }
        result = manage("migrate_all", "--noinput", "--database", "users_db", env=env)
        assert result.returncode == 0, result.stderr
        assert "users_user" in pg_tables(name)
        # What Django's migrate --database users_db records: every migration, each once.
        assert sorted(pg_recorded(name)) == sorted(PROJECT_MIGRATIONS)
        shown = result.stdout + result.stderr
        assert PG_PASSWORD not in shown
        assert DIRECT_PASSWORD not in shown
        # Django's own commands never see it: they still use DATABASES, where nothing listens.
        django = manage("migrate", "--database", "users_db", "--noinput", env=env)
        assert django.returncode != 0
        assert f"port {closed} failed" in django.stderr or "Connection refused" in django.stderr


@pytest.mark.parametrize(
    ("direct", "message"),
    [
        (
            ["users_db"],
            "MIGRATOR['DIRECT'] = list must be a dict {alias: {key: value}}, e.g. {'default': "
            "{'HOST': 'db-primary.internal', 'PORT': 5432}}.",
        ),
        (
            {"users_db": "db-primary"},
            "MIGRATOR['DIRECT']['users_db'] is a str; it must be a dict of DATABASES keys, e.g. "
            "{'default': {'HOST': 'db-primary.internal', 'PORT': 5432}}.",
        ),
        (
            {"users_db": {"ENGINE": "x"}},
            "MIGRATOR['DIRECT']['users_db'] has key 'ENGINE', which it cannot replace; the keys "
            "are NAME, HOST, PORT, USER, PASSWORD, OPTIONS.",
        ),
        (
            {"users_db": {"OPTIONS": "sslmode=require"}},
            "MIGRATOR['DIRECT']['users_db']['OPTIONS'] must be a dict, as in DATABASES.",
        ),
    ],
)
def test_bad_direct_settings_are_refused(direct: object, message: str) -> None:
    with override_settings(MIGRATOR={"DIRECT": direct}), pytest.raises(ConfigurationError) as info:
        conf.direct()
    assert str(info.value) == message


def test_an_unknown_alias_is_refused_before_anything(tmp_path: Path) -> None:
    env = {
        "MIGRATOR_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tests.settings.direct",
        "MIGRATOR_TEST_DIRECT": json.dumps({"user_db": {"HOST": "db-primary"}}),
    }
    result = manage("migrate_all", "--noinput", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "CommandError: MIGRATOR['DIRECT'] names alias 'user_db', which is not a database alias "
        "(default, users_db, analytics_db, legacy_db, cache_db, read_replica); name an alias of "
        "DATABASES or of MIGRATOR['DATABASES']."
    )
    assert list(tmp_path.iterdir()) == []
