"""Database URLs for the testproject's aliases (``MIGRATOR_DB_<ALIAS>=postgres://...``).

Kept tiny on purpose so that the demo needs nothing beyond Django.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "pgsql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
    "sqlite": "django.db.backends.sqlite3",
}


def parse(url: str) -> dict[str, Any]:
    """Turn ``scheme://user:password@host:port/name?option=value`` into a DATABASES entry.

    ``sqlite:///relative/path`` and ``sqlite:////absolute/path`` name a file. Query parameters go to
    ``OPTIONS``; for PostgreSQL ``?options=-c search_path=analytics`` selects schemas.
    """
    parts = urlsplit(url)
    if parts.scheme not in ENGINES:
        raise ValueError(
            f"unknown database URL scheme {parts.scheme!r}; use one of {', '.join(sorted(ENGINES))}"
        )
    engine = ENGINES[parts.scheme]
    if engine.endswith("sqlite3"):
        return {"ENGINE": engine, "NAME": unquote(parts.path[1:]) or ":memory:"}
    return {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": dict(parse_qsl(parts.query)),
    }
