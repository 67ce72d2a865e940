"""A fleet for targets from code (tests/settings/fleet.py): ``tenants()`` is the callable
``MIGRATOR["DATABASES"]`` names, as a project reads its tenant databases from a table or an API;
``TenantRouter`` sends the cache app to every tenant and nothing else."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TENANT_PASSWORD = "tenant-Secret-42"
CALLS = Path(os.environ.get("MIGRATOR_VAR_DIR", "var")) / "tenants-called"


def tenants() -> dict[str, dict[str, Any]]:
    folder = Path(os.environ["MIGRATOR_VAR_DIR"])
    with CALLS.open("a") as calls:  # tests count the calls: once per process that needs them
        calls.write(f"{os.getpid()}\n")
    count = int(os.environ.get("MIGRATOR_TEST_TENANTS", "200"))
    return {
        f"tenant_{n:03d}": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(folder / f"tenant_{n:03d}.sqlite3"),
            "PASSWORD": TENANT_PASSWORD,  # SQLite ignores it: no output may show it
        }
        for n in range(count)
    }


class TenantRouter:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if db.startswith(("tenant_", "down_")):  # down_: tests.pg_fleet's unreachable tenants
            return app_label == "cache"
        return None
