from __future__ import annotations

from typing import Any


class EntryRouter:
    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        if (app_label, model_name) == ("store", "entry"):
            return db == "cache"
        return db == "default"
