"""The testproject's router chain: a read/write split for the replica, then routing by app label."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Model


def home(app_label: str) -> str:
    mapping: dict[str, str] = settings.DATABASE_APPS_MAPPING
    return mapping.get(app_label, "default")


class ReplicaRouter:
    """Reads of default's models go to the replica; nothing is ever migrated on the replica."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return "read_replica" if home(model._meta.app_label) == "default" else None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == "read_replica" else None


class AppLabelRouter:
    """Each app lives on exactly one alias, named by ``settings.DATABASE_APPS_MAPPING``."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return home(model._meta.app_label)

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return home(model._meta.app_label)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == home(app_label)
