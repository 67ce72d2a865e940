from __future__ import annotations

from typing import Any


class MigrateWhenFooRouter:
    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        return bool(hints.get("foo", False))
