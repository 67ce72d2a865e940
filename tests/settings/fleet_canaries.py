"""The SQLite tenant fleet (tests/settings/fleet.py) with MIGRATOR["CANARIES"] read from
$MIGRATOR_TEST_CANARIES (comma-separated aliases or patterns)."""

import os

from tests.settings.fleet import *  # noqa: F403

MIGRATOR = {
    **MIGRATOR,  # noqa: F405
    "CANARIES": os.environ["MIGRATOR_TEST_CANARIES"].split(","),  # type: ignore[dict-item]
}
