from __future__ import annotations

from typing import Any


class TargetDbRouter:
    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        if "target_db" in hints:
            return bool(db == hints["target_db"])
        return db == "default"
