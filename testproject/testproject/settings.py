"""Settings of the testproject: six aliases, routed by a chain of routers.

Every alias reads ``MIGRATOR_DB_<ALIAS>`` (a database URL, parsed by dj-database-url as production
settings do) from the environment; without it the alias is an SQLite file under ``$MIGRATOR_VAR_DIR``
(default: ``var/`` at the repository's top), so the demo needs no server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MIGRATOR_VAR_DIR", BASE_DIR.parent / "var"))

SECRET_KEY = "testproject-not-secret"
DEBUG = False
ALLOWED_HOSTS: list[str] = []
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "migrator",
    "users",
    "blog",
    "shop",
    "analytics",
    "legacy",
    "cache",
]


if "mariadb" not in dj_database_url.ENGINE_SCHEMES:  # mariadb:// as well as mysql://
    dj_database_url.register("mariadb", "django.db.backends.mysql")


def database(alias: str) -> dict[str, Any]:
    url = os.environ.get(f"MIGRATOR_DB_{alias.upper()}")
    if url:
        return dict(dj_database_url.parse(url))
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / f"{alias}.sqlite3")}


DATABASES: dict[str, dict[str, Any]] = {
    alias: database(alias)
    for alias in ("default", "users_db", "analytics_db", "legacy_db", "cache_db")
}
# A read replica of default: reads may go there, migrations never do.
DATABASES["read_replica"] = {**database("read_replica"), "TEST": {"MIRROR": "default"}}

# Which alias holds which app; apps not named here live on "default".
DATABASE_APPS_MAPPING = {
    "users": "users_db",
    "analytics": "analytics_db",
    "legacy": "legacy_db",
    "cache": "cache_db",
}
DATABASE_ROUTERS = [
    "testproject.routers.ReplicaRouter",
    "testproject.routers.AppLabelRouter",
]
