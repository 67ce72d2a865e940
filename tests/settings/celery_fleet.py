"""The PostgreSQL tenant fleet (tests/settings/pg_fleet.py) migrated by Celery workers
(tests/celery_app.py) from queue $MIGRATOR_TEST_QUEUE; the cache app's migrations come from
$MIGRATOR_TEST_CACHE_MIGRATIONS (default tests.fixtures.celery_cache_migrations, whose second
migration holds on $MIGRATOR_TEST_HOLD_ALIAS)."""

import os

from tests.settings.pg_fleet import *  # noqa: F403

MIGRATION_MODULES = {
    "cache": os.environ.get(
        "MIGRATOR_TEST_CACHE_MIGRATIONS", "tests.fixtures.celery_cache_migrations"
    )
}
MIGRATOR = {
    "DATABASES": "tests.pg_fleet.tenants",
    "CELERY": {
        "APP": os.environ.get("MIGRATOR_TEST_CELERY_APP", "tests.celery_app.app"),
        "QUEUE": os.environ.get("MIGRATOR_TEST_QUEUE", "migrator"),
        "STEP_TIMEOUT": float(os.environ.get("MIGRATOR_TEST_STEP_TIMEOUT", "120")),
        "HEARTBEAT": 0.5,
    },
}
if os.environ.get("MIGRATOR_TEST_CELERY_APP") == "":  # the test of a missing setting
    del MIGRATOR["CELERY"]
