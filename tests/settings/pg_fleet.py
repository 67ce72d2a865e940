"""The testproject with PostgreSQL tenant databases from code (tests/pg_fleet.py): its own
aliases stay on SQLite under $MIGRATOR_VAR_DIR; MIGRATOR["DATABASES"] adds the tenants that
$MIGRATOR_TEST_PG_FLEET names, and the cache app is routed to each of them."""

from testproject.settings import *  # noqa: F403

DATABASE_ROUTERS = ["tests.fleet.TenantRouter", *DATABASE_ROUTERS]  # noqa: F405
MIGRATOR: dict[str, object] = {"DATABASES": "tests.pg_fleet.tenants"}
