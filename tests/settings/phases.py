"""A small project for deploy phases (tests/commands/test_phases.py), run in child processes:
contenttypes and the phased app (tests.fixtures.phased) on every alias of
``MIGRATOR_TEST_DATABASES`` (a JSON object of alias to DATABASES entry), no routers.

``MIGRATOR_PHASE_APPS``: the deploy-phase tools' apps to install, comma-separated ("syzygy",
"django_safemigrate", both or none); ``MIGRATOR_PHASE_TOOL``: MIGRATOR["PHASE_TOOL"];
``MIGRATOR_PHASED_MIGRATIONS``: another migrations module for the phased app;
``MIGRATOR_TEST_SETTINGS`` (JSON) adds MIGRATOR keys, e.g. {"LOCK_RETRIES": {"RETRIES": 3}}.
"""

from __future__ import annotations

import json
import os

from testproject.settings import *  # noqa: F403
from testproject.settings import VAR_DIR

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "migrator",
    "tests.fixtures.phased",
    *(app for app in os.environ.get("MIGRATOR_PHASE_APPS", "").split(",") if app),
]
DATABASES = json.loads(os.environ["MIGRATOR_TEST_DATABASES"])
DATABASE_ROUTERS = []
DATABASE_APPS_MAPPING = {}
# Every app on every alias, as tenants of one schema: migrator.W001 says the copies never get
# written through db_for_write, which is the point here.
SILENCED_SYSTEM_CHECKS = ["migrator.W001"]
MIGRATION_MODULES = {
    "phased": os.environ.get("MIGRATOR_PHASED_MIGRATIONS", "tests.fixtures.phased.migrations")
}
MIGRATOR = {
    "ROUTING_CACHE": str(VAR_DIR / "routing-cache"),
    "JOURNAL": str(VAR_DIR / "journal.jsonl"),
    "PHASE_TOOL": os.environ.get("MIGRATOR_PHASE_TOOL") or None,
    **json.loads(os.environ.get("MIGRATOR_TEST_SETTINGS", "{}")),
}
