from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import aliases_pointed_at, sqlite_entry
from tests.servers import maria_databases, maria_entry, maria_url, pg_databases, pg_entry, pg_url

ANALYTICS_OPTIONS = "-c search_path=analytics"

# The testproject's migrations but the users app's, as django_migrations lists them.
_PROJECT_MIGRATIONS = (
    "analytics.0001_initial",
    "analytics.0002_seed_event_names",
    "auth.0001_initial",
    "auth.0002_alter_permission_name_max_length",
    "auth.0003_alter_user_email_max_length",
    "auth.0004_alter_user_username_opts",
    "auth.0005_alter_user_last_login_null",
    "auth.0006_require_contenttypes_0002",
    "auth.0007_alter_validators_add_error_messages",
    "auth.0008_alter_user_username_max_length",
    "auth.0009_alter_user_last_name_max_length",
    "auth.0010_alter_group_name_max_length",
    "auth.0011_update_proxy_permissions",
    "auth.0012_alter_user_first_name_max_length",
    "blog.0001_initial",
    "blog.0002_post_slug",
    "cache.0001_initial",
    "contenttypes.0001_initial",
    "contenttypes.0002_remove_content_type_name",
    "legacy.0001_initial",
    "shop.0001_initial",
)


def every_migration(users_second: str = "0002_user_is_active") -> list[str]:
    """Every migration of the testproject, sorted by app and name: what Django's
    ``migrate --database X`` records on each alias it migrates, so what a full run of migrate_all
    leaves recorded on every alias it migrates (read_replica excepted: never touched).
    ``users_second`` names the users app's second migration (fixtures replace that app's
    migrations through MIGRATION_MODULES, e.g. ``0002_slow``)."""
    return sorted((*_PROJECT_MIGRATIONS, "users.0001_initial", f"users.{users_second}"))


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
