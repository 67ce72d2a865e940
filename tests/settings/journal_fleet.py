"""The SQLite tenant fleet (tests/settings/fleet.py) for the run journal's tests: the cache app's
migration fails on $MIGRATOR_TEST_FAIL_ON, the journal is where $MIGRATOR_TEST_JOURNAL says, and
$MIGRATOR_TEST_HOOKS connects receivers that write the signals to a file (tests/journal_hooks.py)."""

import os

from tests import journal_hooks
from tests.settings.fleet import *  # noqa: F403

MIGRATION_MODULES = journal_hooks.migration_modules()
MIGRATOR = {"DATABASES": "tests.fleet.tenants", "JOURNAL": journal_hooks.journal()}
if os.environ.get("MIGRATOR_TEST_HOOKS"):
    journal_hooks.connect()
