"""The testproject with a slow users migration and a slow legacy migration: two steps of one
level that a --parallel run holds at the same time (tests/fixtures/hold.py)."""

from testproject.settings import *  # noqa: F403

MIGRATION_MODULES = {
    "users": "tests.fixtures.slow_users_migrations",
    "legacy": "tests.fixtures.held_legacy_migrations",
}
