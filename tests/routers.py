"""Routers for bad-configuration tests, installed with override_settings(DATABASE_ROUTERS=...)."""

from __future__ import annotations

from typing import Any


class RaisingRouter:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if app_label == "shop":
            raise KeyError("shop_rules")
        return None


class UnknownAliasRouter:
    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "users_replica" if model._meta.app_label == "users" else None


class LeakyRouter:
    """Raises with a connection URL in its message, as careless code does."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        from tests.helpers import SQLITE_PASSWORD

        raise ValueError(f"cannot reach postgres://app:{SQLITE_PASSWORD}@db.internal/rules")
