from __future__ import annotations

from typing import Any


class LedgerRouter:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == ("books" if app_label == "ledger" else "default")
