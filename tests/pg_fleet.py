"""A fleet of PostgreSQL tenant databases for targets from code (tests/settings/pg_fleet.py).

``pg_fleet(count)`` creates ``count`` databases from one template database (fast: PostgreSQL
copies the template's files), yields the environment a child ``manage.py`` needs, and drops them
all afterwards. ``tenants()`` is the callable ``MIGRATOR["DATABASES"]`` names in that settings
module: it reads ``MIGRATOR_TEST_PG_FLEET`` (``prefix:count``) and returns aliases ``tenant_000``
... on databases ``<prefix>_000`` ...; ``MIGRATOR_TEST_PG_UNREACHABLE`` (``host:port:count``) adds
aliases ``down_000`` ... on a server that never answers (a silent TCP listener of the test's).
The routers (tests.fleet.TenantRouter) send the cache app to every tenant and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.servers import pg_connect, pg_entry, unavailable, unique


def tenants() -> dict[str, dict[str, Any]]:
    calls = Path(os.environ.get("MIGRATOR_VAR_DIR", "var")) / "tenants-called"
    with calls.open("a") as file:  # tests count the calls: once per process that needs them
        file.write(f"{os.getpid()}\n")
    prefix, _, count = os.environ["MIGRATOR_TEST_PG_FLEET"].partition(":")
    found = {f"tenant_{n:03d}": pg_entry(f"{prefix}_{n:03d}") for n in range(int(count))}
    down = os.environ.get("MIGRATOR_TEST_PG_UNREACHABLE")
    if down:
        host, port, number = down.split(":")
        for n in range(int(number)):
            found[f"down_{n:03d}"] = {
                **pg_entry(f"{prefix}_down_{n:03d}"),
                "HOST": host,
                "PORT": port,
            }
    return found


def names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}_{n:03d}" for n in range(count)]


@contextmanager
def pg_fleet(count: int, folder: Path) -> Iterator[dict[str, str]]:
    """``count`` empty PostgreSQL databases made from one template; yields the environment of
    tests.settings.pg_fleet (its SQLite aliases in ``folder``). Everything is dropped after."""
    try:
        admin = pg_connect()
    except Exception as exc:
        unavailable("PostgreSQL", exc)
    prefix = unique("migrator_fleet")
    template = f"{prefix}_tpl"
    made: list[str] = []
    try:
        admin.execute(f'CREATE DATABASE "{template}"')
        for name in names(prefix, count):
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            made.append(name)
        yield {
            "MIGRATOR_VAR_DIR": str(folder),
            "DJANGO_SETTINGS_MODULE": "tests.settings.pg_fleet",
            "MIGRATOR_TEST_PG_FLEET": f"{prefix}:{count}",
        }
    finally:
        for name in [*made, template]:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
