"""The PostgreSQL tenant fleet (tests/settings/pg_fleet.py) for the run journal's tests, as
tests/settings/journal_fleet.py."""

from tests import journal_hooks
from tests.settings.pg_fleet import *  # noqa: F403

MIGRATION_MODULES = journal_hooks.migration_modules()
MIGRATOR = {"DATABASES": "tests.pg_fleet.tenants", "JOURNAL": journal_hooks.journal()}
