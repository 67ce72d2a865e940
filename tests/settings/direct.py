"""The testproject with ``MIGRATOR["DIRECT"]`` read from ``$MIGRATOR_TEST_DIRECT`` (JSON)."""

import json
import os

from testproject.settings import *  # noqa: F403

MIGRATOR = {"DIRECT": json.loads(os.environ.get("MIGRATOR_TEST_DIRECT", "{}"))}
