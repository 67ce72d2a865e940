"""Settings shared by the parity fixture projects; each scenario's settings star-import this.

The harness passes the databases as JSON in ``PARITY_DATABASES`` (alias -> settings dict, in
order; ``{}`` is Django's documented empty alias, the dummy backend).
"""

from __future__ import annotations

import json
import os
from typing import Any

SECRET_KEY = "parity-not-secret"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES: dict[str, dict[str, Any]] = json.loads(os.environ["PARITY_DATABASES"])


def installed(*apps: str, contrib: bool = True) -> list[str]:
    """contenttypes and auth (unless ``contrib`` is false), the scenario's apps, and migrator
    (which brings ``migrate_all``).

    The harness sets ``PARITY_WITHOUT_MIGRATOR`` for Django's own loop, so that the reference is
    Django alone (migrator's system checks cannot change what Django's ``migrate`` does).
    """
    own = [] if os.environ.get("PARITY_WITHOUT_MIGRATOR") else ["migrator"]
    django = ["django.contrib.contenttypes", "django.contrib.auth"] if contrib else []
    return [*django, *apps, *own]
