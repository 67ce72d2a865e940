from __future__ import annotations

from typing import Any

from django.db.models import Model

ARCHIVED = {("shop", "archivedorder"), ("reports", "report")}


def home(app_label: str, model_name: str) -> str:
    return "archive" if (app_label, model_name) in ARCHIVED else "default"


class ModelNameRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return home(model._meta.app_label, model._meta.model_name or "")

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return home(model._meta.app_label, model._meta.model_name or "")

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if model_name is None:
            return None  # data migrations without hints: no opinion (Django: allowed)
        return db == home(app_label, model_name)
