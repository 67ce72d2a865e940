"""tests/settings/pg_fleet.py with the cache app routed to the ``down_*`` aliases too (the ones
on a server that never answers, $MIGRATOR_TEST_PG_UNREACHABLE): a run that plans them must
connect there."""

from typing import Any

from tests.settings.pg_fleet import *  # noqa: F403


class DownRouter:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if db.startswith("down_"):
            return app_label == "cache"
        return None


DATABASE_ROUTERS = ["tests.settings.pg_fleet_down.DownRouter", *DATABASE_ROUTERS]  # noqa: F405
