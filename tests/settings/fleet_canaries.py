"""The SQLite tenant fleet (tests/settings/fleet.py) with MIGRATOR["CANARIES"] read from
$MIGRATOR_TEST_CANARIES (comma-separated aliases or patterns)."""

import os

from tests.settings.fleet import *  # noqa: F403

MIGRATOR: dict[str, object] = {
    "DATABASES": "tests.fleet.tenants",
    "CANARIES": os.environ["MIGRATOR_TEST_CANARIES"].split(","),
}
