"""The deploy-phases project (tests/settings/phases.py) migrated by Celery workers
(tests/celery_app.py) from queue $MIGRATOR_TEST_QUEUE: what reaches a worker of --phase and of
MIGRATOR["LOCK_RETRIES"] (tests/integration/test_celery_deploys.py)."""

import os

from tests.settings.phases import *  # noqa: F403
from tests.settings.phases import MIGRATOR as PHASES_MIGRATOR

MIGRATOR = {
    **PHASES_MIGRATOR,
    "CELERY": {
        "APP": "tests.celery_app.app",
        "QUEUE": os.environ.get("MIGRATOR_TEST_QUEUE", "migrator"),
        "STEP_TIMEOUT": 120.0,
        "HEARTBEAT": 0.5,
    },
}
