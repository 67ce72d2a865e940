from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import aliases_pointed_at, sqlite_entry
from tests.servers import maria_databases, maria_entry, maria_url, pg_databases, pg_entry, pg_url

ANALYTICS_OPTIONS = "-c search_path=analytics"


@dataclass
class Servers:
    """The testproject spread over real servers, as a production site would be."""

    site: str  # PostgreSQL: default (public) and analytics_db (schema analytics)
    users: str  # PostgreSQL: users_db
    legacy: str  # MariaDB: legacy_db
    tmp: Path  # SQLite: cache_db and read_replica

    def entries(self, analytics_options: str = ANALYTICS_OPTIONS) -> dict[str, dict[str, Any]]:
        return {
            "default": pg_entry(self.site),
            "users_db": pg_entry(self.users),
            "analytics_db": pg_entry(self.site, OPTIONS={"options": analytics_options}),
            "legacy_db": maria_entry(self.legacy),
            "cache_db": sqlite_entry(self.tmp / "cache_db.sqlite3"),
            "read_replica": sqlite_entry(self.tmp / "read_replica.sqlite3"),
        }

    def env(self, analytics_options: str = ANALYTICS_OPTIONS) -> dict[str, str]:
        return {
            "MIGRATOR_VAR_DIR": str(self.tmp),
            "MIGRATOR_DB_DEFAULT": pg_url(self.site),
            "MIGRATOR_DB_USERS_DB": pg_url(self.users),
            "MIGRATOR_DB_ANALYTICS_DB": pg_url(
                self.site, analytics_options.replace(" ", "%20").replace("=", "%3D")
            ),
            "MIGRATOR_DB_LEGACY_DB": maria_url(self.legacy),
        }


@pytest.fixture
def servers(tmp_path: Path, unblocked: None) -> Iterator[Servers]:
    with pg_databases(2) as (site, users), maria_databases(1) as (legacy,):
        yield Servers(site=site, users=users, legacy=legacy, tmp=tmp_path)


@pytest.fixture
def on_servers(servers: Servers) -> Iterator[Servers]:
    """The testproject's aliases pointed at the servers, in this process."""
    with aliases_pointed_at(servers.entries()):
        yield servers
