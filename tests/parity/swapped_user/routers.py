from __future__ import annotations

from typing import Any

from django.db.models import Model

ON_USERS = {"accounts", "auth", "contenttypes"}


def home(app_label: str) -> str:
    return "users" if app_label in ON_USERS else "default"


class UsersRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return home(model._meta.app_label)

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return home(model._meta.app_label)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == home(app_label)
