"""The testproject with a slow users migration (for concurrent-run tests in child processes)."""

from testproject.settings import *  # noqa: F403

MIGRATION_MODULES = {"users": "tests.fixtures.slow_users_migrations"}
