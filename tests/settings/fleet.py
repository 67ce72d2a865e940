"""The testproject with tenant databases from code: MIGRATOR["DATABASES"] names
tests.fleet.tenants (200 SQLite tenants under $MIGRATOR_VAR_DIR unless MIGRATOR_TEST_TENANTS
says otherwise), and the cache app is routed to each of them."""

from testproject.settings import *  # noqa: F403

DATABASE_ROUTERS = ["tests.fleet.TenantRouter", *DATABASE_ROUTERS]  # noqa: F405
MIGRATOR = {"DATABASES": "tests.fleet.tenants"}
