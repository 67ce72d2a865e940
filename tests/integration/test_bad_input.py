"""The bad-input catalogue: every case names the problem and the fix, exits 2 (usage or
configuration) or 1 (runtime), and leaves every database exactly as it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import django
import pytest
from django.test import override_settings

from migrator.backends.mysql import lock_name
from migrator.types import AliasInfo
from tests.conftest import aliases_pointed_at
from tests.helpers import ALIASES, WRONG_PASSWORD, run
from tests.integration.conftest import Servers
from tests.servers import maria_connect, maria_entry, pg_connect, pg_entry, unique

KNOWN_ALIASES = ", ".join(ALIASES)
# Unique per test run, so that runs sharing the servers never meet.
MISSING = unique("migrator_catalogue_missing")
READ_ONLY_ROLE = unique("migrator_catalogue_ro")
APPS = "contenttypes, auth, users, blog, shop, analytics, legacy, cache"


@dataclass
class Case:
    id: str
    options: dict[str, Any]
    code: int
    message: str  # the whole CommandError text, or its start when ``exact`` is False
    exact: bool = True
    contains: tuple[str, ...] = ()  # further fragments the message must have
    entries: Callable[[Servers], dict[str, dict[str, Any]]] = lambda servers: {}
    settings: dict[str, Any] = field(default_factory=dict)
    setup: Callable[[Servers], Callable[[], None]] | None = None
    command: str = "migrate_all"


def _preflight(*lines: str) -> str:
    count = len(lines)
    return (
        f"Preflight found {count} problem{'s' if count != 1 else ''}; nothing was changed on any "
        "database:\n  " + "\n  ".join(lines)
    )


def _django_9(servers: Servers) -> Callable[[], None]:
    real = django.VERSION
    django.VERSION = (9, 0, 0, "final", 0)
    return lambda: setattr(django, "VERSION", real)


def _record_blog_0002(servers: Servers) -> Callable[[], None]:
    with pg_connect(servers.site) as connection:
        connection.execute(
            "CREATE TABLE django_migrations (id bigserial PRIMARY KEY, app varchar(255), "
            "name varchar(255), applied timestamptz)"
        )
        connection.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES ('blog', '0002_post_slug', now())"
        )
    return lambda: None


def _hold_legacy_lock(servers: Servers) -> Callable[[], None]:
    info = AliasInfo("legacy_db", "mysql", "django.db.backends.mysql", servers.legacy)
    holder = maria_connect()
    holder.cursor().execute("SELECT GET_LOCK(%s, 0)", (lock_name(info.name),))
    return cast(Callable[[], None], holder.close)  # maria_connect's connection is Any


def _read_only_role(servers: Servers) -> Callable[[], None]:
    with pg_connect() as admin:
        admin.execute(f'CREATE ROLE "{READ_ONLY_ROLE}" LOGIN')
        admin.execute(f'ALTER ROLE "{READ_ONLY_ROLE}" SET default_transaction_read_only = on')

    def drop() -> None:
        with pg_connect() as admin:
            admin.execute(f'DROP ROLE "{READ_ONLY_ROLE}"')

    return drop


EVIL = 'x"; DROP SCHEMA public CASCADE; --'

CASES = [
    Case(
        "unknown alias",
        {"databases": ["users"]},
        2,
        f"--database users: no such alias in DATABASES. Known aliases: {KNOWN_ALIASES}.",
    ),
    Case(
        "unknown app",
        {"apps": ["blogs"]},
        2,
        f"App 'blogs' is not installed. Installed apps with migrations: {APPS}.",
    ),
    Case(
        "app without migrations",
        {"apps": ["migrator"]},
        2,
        "App 'migrator' has no migrations. Create them with 'python manage.py makemigrations "
        f"migrator', or pick one of: {APPS}.",
    ),
    Case(
        "malformed --target",
        {"target": "blog"},
        2,
        "--target 'blog': expected APP:MIGRATION, e.g. --target blog:0002_post_slug or --target blog:zero.",
    ),
    Case(
        "--target migration that does not exist",
        {"target": "blog:0009"},
        2,
        "--target blog:0009: 'blog' has no migration named '0009'. Its migrations: 0001_initial, "
        "0002_post_slug (or zero).",
    ),
    Case(
        "ambiguous --target prefix",
        {"target": "blog:000"},
        2,
        "--target blog:000: more than one migration of 'blog' starts with '000'; give more of its name.",
    ),
    Case(
        "--target with another --app",
        {"target": "blog:0001", "apps": ["shop"]},
        2,
        "--target blog:0001 migrates only 'blog'; drop --app shop.",
    ),
    Case(
        "--plan with --fake",
        {"plan_only": True, "fake": True},
        2,
        "--plan changes nothing, so --fake makes no sense with it; drop one of them.",
    ),
    Case(
        "--check with --makemigrations",
        {"check": True, "makemigrations": True},
        2,
        "--check changes nothing, so --makemigrations makes no sense with it; drop one of them.",
    ),
    Case(
        "--fake with --fake-initial",
        {"fake": True, "fake_initial": True},
        2,
        "--fake and --fake-initial contradict each other; pick one.",
    ),
    Case(
        "--lock-timeout negative",
        {"lock_timeout": "-5"},
        2,
        "--lock-timeout '-5': expected a number of seconds, 0 or more (e.g. --lock-timeout 60).",
    ),
    Case(
        "--lock-timeout not a number",
        {"lock_timeout": "soon"},
        2,
        "--lock-timeout 'soon': expected a number of seconds, 0 or more (e.g. --lock-timeout 60).",
    ),
    Case(
        "--lock-timeout longer than any server accepts",
        {"lock_timeout": "3000000000"},
        2,
        "--lock-timeout '3000000000': at most 2147483 seconds (about 24.8 days, the longest "
        "timeout PostgreSQL accepts); use e.g. --lock-timeout 3600.",
    ),
    Case(
        "MIGRATOR LOCK_TIMEOUT longer than any server accepts",
        {},
        2,
        "MIGRATOR['LOCK_TIMEOUT'] = 3000000000 is too long: at most 2147483 seconds (about 24.8 "
        "days, the longest timeout PostgreSQL accepts); use e.g. 'LOCK_TIMEOUT': 3600.",
        settings={"MIGRATOR": {"LOCK_TIMEOUT": 3000000000}},
    ),
    Case(
        "MIGRATOR LOCK_RETRIES without a per-attempt lock timeout",
        {},
        2,
        "MIGRATOR['LOCK_RETRIES']['DDL_LOCK_TIMEOUT'] = 0 must be a number of seconds, more than "
        "0 and at most 2147483; e.g. {'RETRIES': 5, 'BACKOFF': 2, 'MAX_BACKOFF': 30, "
        "'DDL_LOCK_TIMEOUT': 3}.",
        settings={"MIGRATOR": {"LOCK_RETRIES": {"DDL_LOCK_TIMEOUT": 0}}},
    ),
    Case(
        "--parallel 0",
        {"parallel": "0"},
        2,
        "--parallel '0': expected a number of workers, 1 or more, or auto.",
    ),
    Case(
        "alias the routers never migrate",
        {"databases": ["read_replica"]},
        2,
        "--database read_replica: the routers allow no app's migrations on 'read_replica'. Aliases "
        "with work: default, users_db, analytics_db, legacy_db, cache_db; check DATABASE_ROUTERS if "
        "this is wrong.",
    ),
    Case(
        "conflicting migrations",
        {},
        2,
        "Conflicting migrations detected; multiple leaf nodes in the migration graph: (0002_a, "
        "0002_b in blog). To fix them run 'python manage.py makemigrations --merge'.",
        settings={"MIGRATION_MODULES": {"blog": "tests.fixtures.conflicting_blog_migrations"}},
    ),
    Case(
        "inconsistent migration history",
        {},
        1,
        _preflight(
            "default: migration blog.0002_post_slug is recorded as applied before its dependency "
            "blog.0001_initial (InconsistentMigrationHistory). Record the dependency if its changes "
            "are in the database, or unrecord the later migration; 'manage.py showmigrations "
            "--database default' shows the history."
        ),
        setup=_record_blog_0002,
    ),
    Case(
        "unreachable server",
        {},
        1,
        "Preflight found 1 problem; nothing was changed on any database:\n  users_db (postgresql "
        "127.0.0.1:1/",
        exact=False,
        contains=(": cannot connect: ",),
        entries=lambda s: {"users_db": pg_entry(s.users, PORT="1")},
    ),
    Case(
        "wrong password",
        {},
        1,
        "Preflight found 1 problem; nothing was changed on any database:\n  legacy_db (mysql "
        "127.0.0.1:3306/",
        exact=False,
        contains=("cannot connect: (1045, \"Access denied for user 'root'",),
        entries=lambda s: {"legacy_db": maria_entry(s.legacy, PASSWORD=WRONG_PASSWORD)},
    ),
    Case(
        "missing database (MariaDB)",
        {},
        1,
        _preflight(
            f"legacy_db -> database '{MISSING}' does not exist; run with "
            "--create-schemas to create it, or fix NAME."
        ),
        entries=lambda s: {"legacy_db": maria_entry(MISSING)},
    ),
    Case(
        "missing database (PostgreSQL)",
        {},
        1,
        _preflight(
            f"users_db (postgresql 127.0.0.1:5432/{MISSING}): database "
            f"'{MISSING}' does not exist on 127.0.0.1; create it (createdb "
            f"{MISSING}) or fix NAME."
        ),
        entries=lambda s: {"users_db": pg_entry(MISSING)},
    ),
    Case(
        "missing schema",
        {},
        1,
        _preflight(
            "analytics_db -> schema 'reports' does not exist (search_path: reports, public); "
            "run with --create-schemas to create it, or fix OPTIONS['options']."
        ),
        entries=lambda s: {
            "analytics_db": pg_entry(s.site, OPTIONS={"options": "-c search_path=reports,public"})
        },
    ),
    Case(
        "schema name with quotes and a semicolon",
        {},
        1,
        _preflight(
            f"analytics_db -> schema {EVIL!r} does not exist (search_path: {EVIL}); run with "
            "--create-schemas to create it, or fix OPTIONS['options']."
        ),
        entries=lambda s: {
            "analytics_db": pg_entry(
                s.site,
                OPTIONS={
                    "options": "-c search_path="
                    + ('"' + EVIL.replace('"', '""') + '"').replace(" ", "\\ ")
                },
            )
        },
    ),
    Case(
        "malformed search_path option",
        {},
        2,
        "search_path 'analytics,,public': an empty schema name between commas.",
        entries=lambda s: {
            "analytics_db": pg_entry(
                s.site, OPTIONS={"options": "-c search_path=analytics,,public"}
            )
        },
    ),
    Case(
        "read-only alias",
        {},
        1,
        "",
        exact=False,
        contains=(
            "is read-only (default_transaction_read_only is on); migrations cannot run there. "
            "If it is a replica, make the routers' allow_migrate return False for it.",
        ),
        entries=lambda s: {"users_db": pg_entry(s.users, USER=READ_ONLY_ROLE)},
        setup=_read_only_role,
    ),
    Case(
        "SQLite path in a missing folder",
        {},
        1,
        "Preflight found 1 problem; nothing was changed on any database:\n  cache_db -> folder '",
        exact=False,
        contains=(
            "/missing/deeper' does not exist; run with --create-schemas to create it, or fix the NAME path.",
        ),
        entries=lambda s: {
            "cache_db": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(s.tmp / "missing" / "deeper" / "c.db"),
            }
        },
    ),
    Case(
        "router that raises",
        {},
        2,
        "Router tests.routers.RaisingRouter.allow_migrate('default', 'shop', model_name='product') "
        "raised KeyError: 'shop_rules'. Fix the router; nothing was migrated.",
        settings={
            "DATABASE_ROUTERS": [
                "tests.routers.RaisingRouter",
                "testproject.routers.AppLabelRouter",
            ]
        },
    ),
    Case(
        "router returning an alias not in DATABASES",
        {},
        2,
        "Router tests.routers.UnknownAliasRouter.db_for_write(users.User) returned 'users_replica', "
        "which is not in DATABASES (analytics_db, cache_db, default, legacy_db, read_replica, "
        "users_db). Fix the router's alias or add it to DATABASES.",
        settings={
            "DATABASE_ROUTERS": [
                "tests.routers.UnknownAliasRouter",
                "testproject.routers.AppLabelRouter",
            ]
        },
    ),
    Case(
        "routers that create an alias-level cycle",
        {},
        2,
        "Dependency cycle between databases: ",
        exact=False,
        contains=("route the apps to one alias or break the migration dependency",),
        settings={"MIGRATION_MODULES": {"users": "tests.fixtures.users_cycle_migrations"}},
    ),
    Case(
        "empty ENGINE",
        {},
        2,
        # No ENGINE is Django's dummy backend: not a database, so the router that sends writes
        # there is the mistake to name.
        "Router testproject.routers.AppLabelRouter.db_for_write(cache.CacheEntry) returned "
        "'cache_db', which is not a database (no ENGINE: Django's dummy backend, where every "
        "query fails). Fix the router's alias or give DATABASES['cache_db'] an ENGINE.",
        entries=lambda s: {"cache_db": {"ENGINE": "", "NAME": str(s.tmp / "c.db")}},
    ),
    Case(
        "empty NAME",
        {},
        2,
        "DATABASES['users_db'] has no NAME: set the database name (the file path for SQLite), "
        "or let OPTIONS['service'] (PostgreSQL) or OPTIONS['read_default_file'] (MySQL/MariaDB) "
        "name it. Nothing was changed.",
        entries=lambda s: {"users_db": pg_entry("")},
    ),
    Case(
        "ENGINE that is not installed",
        {},
        2,
        "DATABASES['cache_db']: ENGINE 'django_fancy_db.backend' cannot be loaded (",
        exact=False,
        contains=(
            "install its driver (e.g. pip install 'django-migrate-all[postgres]') or fix the ENGINE.",
        ),
        entries=lambda s: {"cache_db": {"ENGINE": "django_fancy_db.backend", "NAME": "x"}},
    ),
    Case(
        "unknown MIGRATOR key",
        {},
        2,
        "settings.MIGRATOR has unknown key 'LOCK_TIMOUT'; the keys are CONNECT_TIMEOUT, LOCK_TIMEOUT, SESSION, ROUTING_CACHE, ALLOW_UNTESTED_DJANGO, DATABASES, DIRECT, JOURNAL, CANARIES, MAX_CONNECTIONS_PER_SERVER, MAX_CONNECTIONS, CELERY, PHASE_TOOL, LOCK_RETRIES, RISK.",
        settings={"MIGRATOR": {"LOCK_TIMOUT": 5}},
    ),
    Case(
        "session setting the vendor does not have",
        {},
        2,
        "settings.MIGRATOR['SESSION']['legacy_db'] has unknown key 'statement_timeout' for a mysql "
        "database; use one of lock_wait_timeout.",
        settings={"MIGRATOR": {"SESSION": {"legacy_db": {"statement_timeout": "5s"}}}},
    ),
    Case(
        "ALLOW_UNTESTED_DJANGO that is not True or False",
        {},
        2,
        "MIGRATOR['ALLOW_UNTESTED_DJANGO'] = 'yes' must be True or False; use "
        "'ALLOW_UNTESTED_DJANGO': True to run on a Django series django-migrate-all is not tested "
        "with.",
        settings={"MIGRATOR": {"ALLOW_UNTESTED_DJANGO": "yes"}},
    ),
    Case(
        "a Django series newer than the tested ones",
        {},
        2,
        "Django 9.0 is installed, but django-migrate-all ",
        exact=False,
        contains=(
            "is tested with Django 4.2, 5.2, 6.0 and 6.1 only",
            'set MIGRATOR = {"ALLOW_UNTESTED_DJANGO": True}',
        ),
        setup=_django_9,
    ),
    Case(
        "lock held by another run",
        {"apps": ["legacy"], "lock_timeout": "0.5"},
        1,
        "legacy_db (legacy) failed: LockTimeout: could not lock legacy_db within 0.5s: held by "
        "connection id ",
        exact=False,
        contains=(
            "Another migrate_all/migrator run is migrating it; wait for it to finish or raise --lock-timeout",
        ),
        setup=_hold_legacy_lock,
    ),
    Case(
        "migrator without a terminal and without --auto",
        {},
        2,
        "migrator: no terminal for the interactive menu. Pass --auto to plan and migrate every "
        "database without it (or use 'manage.py migrate_all').",
        command="migrator",
    ),
]


def snapshot(servers: Servers) -> dict[str, Any]:
    """Everything a bad command could have changed: schemas, tables, recorded migrations, files."""
    found: dict[str, Any] = {}
    for name in (servers.site, servers.users):
        with pg_connect(name) as connection:
            found[name] = (
                sorted(
                    connection.execute(
                        "SELECT table_schema, table_name FROM information_schema.tables "
                        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                    ).fetchall()
                ),
                sorted(
                    row[0]
                    for row in connection.execute("SELECT nspname FROM pg_namespace").fetchall()
                ),
            )
            if ("public", "django_migrations") in found[name][0]:
                found[name] += (
                    sorted(
                        connection.execute("SELECT app, name FROM django_migrations").fetchall()
                    ),
                )
    admin = maria_connect()
    try:
        cursor = admin.cursor()
        # Only the databases these cases could create: other test runs may share the server.
        cursor.execute(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (%s, %s)",
            (servers.legacy, MISSING),
        )
        found["mariadb schemas"] = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (servers.legacy,),
        )
        found["mariadb tables"] = sorted(row[0] for row in cursor.fetchall())
    finally:
        admin.close()
    found["files"] = sorted(str(p.relative_to(servers.tmp)) for p in servers.tmp.rglob("*"))
    return found


@pytest.fixture
def prepared(servers: Servers) -> Servers:
    with pg_connect(servers.site) as admin:
        admin.execute("CREATE SCHEMA analytics")
    return servers


def test_the_catalogue_has_at_least_25_cases() -> None:
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(prepared: Servers, case: Case) -> None:
    cleanup = case.setup(prepared) if case.setup else None
    try:
        before = snapshot(prepared)
        entries = {**prepared.entries(), **case.entries(prepared)}
        with aliases_pointed_at(entries), override_settings(**case.settings):
            out, err, code = run(case.command, **case.options)
        after = snapshot(prepared)
    finally:
        if cleanup:
            cleanup()
    assert code == case.code, err
    assert err.startswith("CommandError: "), err
    message = err[len("CommandError: ") :].rstrip("\n")
    if case.exact:
        assert message == case.message
    else:
        assert message.startswith(case.message), message
    for fragment in case.contains:
        assert fragment in message
    assert WRONG_PASSWORD not in out + err
    assert after == before  # nothing was changed anywhere
