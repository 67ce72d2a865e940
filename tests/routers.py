"""Routers for bad-configuration tests, installed with override_settings(DATABASE_ROUTERS=...).

Each one gets one thing wrong; placed before the testproject's routers, it overrides their answer
for that one thing only.
"""

from __future__ import annotations

from typing import Any


class RaisingRouter:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if app_label == "shop":
            raise KeyError("shop_rules")
        return None


class RaisingReadRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if model._meta.label == "users.User":
            raise LookupError("no replica for users")
        return None


class UnknownAliasRouter:
    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "users_replica" if model._meta.app_label == "users" else None


class LeakyRouter:
    """Raises with a connection URL in its message, as careless code does."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        from tests.helpers import SQLITE_PASSWORD

        raise ValueError(f"cannot reach postgres://app:{SQLITE_PASSWORD}@db.internal/rules")


class HomelessCacheRouter:
    """cache's table is created nowhere."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if app_label == "cache" else None


class CacheWritesToDefaultRouter:
    """Writes of cache go to default, where its table is never created."""

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "default" if model._meta.app_label == "cache" else None


class CacheReadsFromDefaultRouter:
    """Reads of cache go to default, where its table is never created."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return "default" if model._meta.app_label == "cache" else None


class UsersReadFromReplicaRouter:
    """Reads of users go to read_replica, a mirror of default, not of users_db."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return "read_replica" if model._meta.app_label == "users" else None


class CacheTwiceRouter:
    """cache is migrated on default as well as on cache_db, where its writes go."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if app_label == "cache":
            return db in ("default", "cache_db")
        return None


class BlogOnReplicaRouter:
    """blog is migrated on read_replica (a mirror of default) as well as on default."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return True if (app_label, db) == ("blog", "read_replica") else None


class AlwaysRaisingRouter:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        raise RuntimeError("router misconfigured")


class AllowMigrateOnlyRouter:
    """Routers as many projects write them: only allow_migrate (each app on its alias, nothing on
    the replica); reads and writes are chosen with .using(), so db_for_read/db_for_write fall
    back to default."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        from testproject.routers import home

        return db != "read_replica" and db == home(app_label)


class TargetDbOnlyRouter:
    """The "Data migrations and multiple databases" how-to's router without its fallback: an
    opinion only when an operation carries hints={"target_db": alias}."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if "target_db" in hints:
            return bool(db == hints["target_db"])
        return None


class AnalyticsTargetDbRouter:
    """analytics lives on analytics_db; its data migrations may be sent elsewhere with
    hints={"target_db": alias}."""

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if app_label != "analytics":
            return None
        if "target_db" in hints:
            return bool(db == hints["target_db"])
        return db == "analytics_db"


class EncodingLeakyRouter:
    """Raises a KeyError (its message is the repr() of the key) whose key holds the special
    password both as written and percent-encoded inside a URL."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        from urllib.parse import quote

        from tests.helpers import SPECIAL_PASSWORD

        url = f"postgres://app:{quote(SPECIAL_PASSWORD, safe='')}@db.internal/rules"
        raise KeyError(f"no rule for {url} (password {SPECIAL_PASSWORD})")
