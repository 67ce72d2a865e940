"""The testproject laid out as Django's "Multiple databases" topic does: ``"default": {}`` (no
ENGINE: Django's dummy backend), ``auth`` and ``contenttypes`` on ``auth_db`` (the topic's
AuthRouter, as written there), every other app on ``primary``.

``PrimaryRouter`` is the topic's PrimaryReplicaRouter without replicas: its ``allow_migrate``
answers True for ``default`` too, so a planner that asked the routers about ``default`` (and
trusted them) would plan it, and Django's dummy backend would fail the first query there.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from testproject.settings import *  # noqa: F403
from testproject.settings import database

DATABASES = {
    "default": {},
    "auth_db": database("auth_db"),
    "primary": database("primary"),
}
DATABASE_ROUTERS = [
    "tests.settings.empty_default.AuthRouter",
    "tests.settings.empty_default.PrimaryRouter",
]


class AuthRouter:
    """The topic's AuthRouter: auth and contenttypes live on auth_db."""

    route_app_labels = frozenset({"auth", "contenttypes"})

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return "auth_db" if model._meta.app_label in self.route_app_labels else None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return "auth_db" if model._meta.app_label in self.route_app_labels else None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        labels = {obj1._meta.app_label, obj2._meta.app_label}
        return True if labels & self.route_app_labels else None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if app_label in self.route_app_labels:
            return db == "auth_db"
        return None


class PrimaryRouter:
    """The topic's PrimaryReplicaRouter without replicas; allow_migrate says yes to every alias
    but auth_db (which AuthRouter's apps have to themselves), ``default`` included."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return "primary"

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return "primary"

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        return db != "auth_db"
