"""A small project for the lock tests (tests/integration/test_pgbouncer.py), run in child
processes: contenttypes, auth and users (its migrations gated: tests.fixtures.gated_migrations),
all on the aliases that ``MIGRATOR_TEST_DATABASES`` lists.

``MIGRATOR_TEST_DATABASES`` is a JSON object of alias to DATABASES entry (JSON rather than URLs
so that OPTIONS keep their types, e.g. ``"prepare_threshold": null`` behind PgBouncer).
"""

from __future__ import annotations

import json
import os
from typing import Any

from testproject.settings import *  # noqa: F403
from testproject.settings import VAR_DIR

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "migrator", "users"]
DATABASES: dict[str, dict[str, Any]] = json.loads(os.environ["MIGRATOR_TEST_DATABASES"])
DATABASE_ROUTERS: list[str] = []
DATABASE_APPS_MAPPING: dict[str, str] = {}
MIGRATION_MODULES = {"users": "tests.fixtures.gated_migrations"}
MIGRATOR = {"ROUTING_CACHE": str(VAR_DIR / "routing-cache")}
