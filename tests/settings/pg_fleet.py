"""The testproject with PostgreSQL tenant databases from code (tests/pg_fleet.py): its own
aliases stay on SQLite under $MIGRATOR_VAR_DIR; MIGRATOR["DATABASES"] adds the tenants that
$MIGRATOR_TEST_PG_FLEET names, and the cache app is routed to each of them; $MIGRATOR_TEST_SETTINGS
(JSON) adds MIGRATOR keys, e.g. {"CONNECT_TIMEOUT": 2, "MAX_CONNECTIONS_PER_SERVER": 8}."""

import json
import os

from testproject.settings import *  # noqa: F403

DATABASE_ROUTERS = ["tests.fleet.TenantRouter", *DATABASE_ROUTERS]  # noqa: F405
MIGRATOR = {
    "DATABASES": "tests.pg_fleet.tenants",
    **json.loads(os.environ.get("MIGRATOR_TEST_SETTINGS", "{}")),
}
