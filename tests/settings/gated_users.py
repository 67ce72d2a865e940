"""A small project for the lock tests (tests/integration/test_pgbouncer.py), run in child
processes: contenttypes, auth and users (its migrations gated: tests.fixtures.gated_migrations),
all on the aliases that ``MIGRATOR_TEST_DATABASES`` lists.

``MIGRATOR_TEST_DATABASES`` is a JSON object of alias to DATABASES entry (JSON rather than URLs
so that OPTIONS keep their types, e.g. ``"prepare_threshold": null`` behind PgBouncer).
"""

from __future__ import annotations

import json
import os

from testproject.settings import *  # noqa: F403
from testproject.settings import VAR_DIR

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "migrator", "users"]
DATABASES = json.loads(os.environ["MIGRATOR_TEST_DATABASES"])
DATABASE_ROUTERS = []
DATABASE_APPS_MAPPING = {}
MIGRATION_MODULES = {"users": "tests.fixtures.gated_migrations"}
MIGRATOR = {"ROUTING_CACHE": str(VAR_DIR / "routing-cache")}
