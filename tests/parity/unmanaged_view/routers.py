from __future__ import annotations

from typing import Any

from django.db.models import Model


class WarehouseRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return "warehouse" if model._meta.label_lower == "stats.dailytotal" else None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        if (app_label, model_name) == ("stats", "dailytotal"):
            return db == "warehouse"
        return db == "default"
