"""--drift and --drift --repair against real PostgreSQL (a schema per search_path) and MariaDB:
drift made by hand, exact findings, a snapshot proving detection changed nothing, the rows a
repair writes, and the run after it."""

from __future__ import annotations

import json
from typing import Any

from psycopg import sql

from tests.commands.test_drift import AFTER_USERS, ALL, UNRECORD_USERS, USERS
from tests.conftest import aliases_pointed_at
from tests.helpers import run
from tests.integration.conftest import Servers
from tests.servers import (
    maria_connect,
    maria_recorded,
    maria_tables,
    pg_connect,
    pg_recorded,
    pg_schemas,
    pg_tables,
)

NO_DRIFT = (
    "No schema drift on 5 databases: every table and column recorded as applied is there, and "
    "every table of a routed app is recorded.\n"
)
PUBLIC_FIRST = "-c search_path=analytics,public"


def pg_state(dbname: str) -> tuple[list[Any], list[Any]]:
    """Every column of every table in every schema, and every django_migrations row."""
    with pg_connect(dbname) as connection:
        columns = connection.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3"
        ).fetchall()
        rows: list[Any] = []
        for (schema,) in connection.execute(
            "SELECT table_schema FROM information_schema.tables "
            "WHERE table_name = 'django_migrations' ORDER BY 1"
        ).fetchall():
            query = sql.SQL("SELECT {}, app, name, applied FROM {}.django_migrations ORDER BY 2, 3")
            rows += connection.execute(
                query.format(sql.Literal(schema), sql.Identifier(schema))
            ).fetchall()
    return columns, rows


def maria_state(dbname: str) -> tuple[list[Any], list[Any]]:
    connection = maria_connect(database=dbname)
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY 1, 2",
            (dbname,),
        )
        columns = list(cursor.fetchall())
        rows: list[Any] = []
        if "django_migrations" in maria_tables(dbname):
            cursor.execute("SELECT app, name, applied FROM django_migrations ORDER BY 1, 2")
            rows = list(cursor.fetchall())
    finally:
        connection.close()
    return columns, rows


def snapshot(servers: Servers) -> dict[str, Any]:
    return {
        "site": pg_state(servers.site),
        "users": pg_state(servers.users),
        "legacy": maria_state(servers.legacy),
        "sqlite": {p.name: p.read_bytes() for p in sorted(servers.tmp.iterdir())},
    }


def maria(dbname: str, *statements: str) -> None:
    connection = maria_connect(database=dbname)
    try:
        for statement in statements:
            connection.cursor().execute(statement)
    finally:
        connection.close()


def where(servers: Servers, alias: str) -> str:
    if alias == "legacy_db":
        return f"legacy_db (mysql 127.0.0.1:3306/{servers.legacy})"
    name = servers.users if alias == "users_db" else servers.site
    schema = "analytics" if alias == "analytics_db" else "public"
    return f"{alias} (postgresql 127.0.0.1:5432/{name}, schema {schema})"


def test_the_migrated_site_has_no_drift_on_any_vendor(on_servers: Servers) -> None:
    with pg_connect(on_servers.site) as admin:
        admin.execute("CREATE SCHEMA analytics")
    _, err, code = run("migrate_all", interactive=False)
    assert (code, err) == (0, "")
    before = snapshot(on_servers)
    assert run("migrate_all", drift=True) == (NO_DRIFT, "", 0)
    out, _, code = run("migrator", drift=True, json=True)
    assert code == 0
    document = json.loads(out)
    assert document["ok"] is True
    assert [(d["alias"], d["vendor"], d["schema"]) for d in document["databases"]] == [
        ("default", "postgresql", "public"),
        ("users_db", "postgresql", "public"),
        ("analytics_db", "postgresql", "analytics"),
        ("legacy_db", "mysql", None),
        ("cache_db", "sqlite", None),
    ]
    assert snapshot(on_servers) == before


def test_postgresql_drift_is_found_and_repaired(on_servers: Servers) -> None:
    site, users = on_servers.site, on_servers.users
    with pg_connect(site) as admin:
        admin.execute("CREATE SCHEMA analytics")
    # users_db's migrations faked by mistake; then everything else migrated for real.
    _, _, code = run("migrate_all", databases=["users_db"], fake=True, interactive=False)
    assert code == 0
    _, _, code = run("migrate_all", interactive=False)
    assert code == 0
    with pg_connect(site) as admin:
        admin.execute("DROP TABLE shop_order, shop_product")
        admin.execute("ALTER TABLE blog_post DROP COLUMN slug")
        admin.execute("DELETE FROM analytics.django_migrations WHERE app = 'analytics'")
    before = snapshot(on_servers)

    out, err, code = run("migrate_all", drift=True)
    assert code == 1
    repair = "'manage.py migrate_all --drift --repair'"
    unrecord_shop = (
        f"    Repair: {repair} unrecords shop.0001_initial on default; the next "
        "'manage.py migrate_all' creates shop_order and shop_product again."
    )
    shop_cause = (
        "    Probable cause: dropped by hand, or shop.0001_initial was recorded without running "
        "(migrate --fake)."
    )
    assert out.splitlines() == [
        "Schema drift: 5 findings on 3 databases (5 checked).",
        where(on_servers, "default"),
        "  missing-table shop_order (shop.Order): shop.0001_initial is recorded, but the table is "
        "not in schema public",
        shop_cause,
        unrecord_shop,
        "  missing-table shop_product (shop.Product): shop.0001_initial is recorded, but the "
        "table is not in schema public",
        shop_cause,
        unrecord_shop,
        "  missing-columns blog_post (blog.Post): blog.0002_post_slug is recorded, but blog_post "
        "has no column slug",
        "    Probable cause: dropped by hand, or blog.0002_post_slug was recorded without running "
        "(migrate --fake).",
        "    Fix by hand:",
        '      Add slug to "blog_post" by hand: \'manage.py sqlmigrate blog 0002_post_slug '
        "--database default' prints the SQL that adds it; run the statements for slug on "
        "default, or restore it from a backup.",
        where(on_servers, "users_db"),
        "  missing-table users_user (users.User): users.0001_initial is recorded, but the table "
        "is not in schema public",
        "    Probable cause: dropped by hand, or users.0001_initial was recorded without running "
        "(migrate --fake).",
        f"    Repair: {repair} unrecords {UNRECORD_USERS} on users_db; the next 'manage.py "
        "migrate_all' creates users_user again.",
        where(on_servers, "analytics_db"),
        "  unrecorded analytics_event (analytics.Event): the table exists in schema analytics, "
        "but analytics.0001_initial, which creates it, is not recorded",
        "    Probable cause: created outside migrations (by hand, a restored dump, a legacy "
        "system), or the django_migrations row of analytics.0001_initial was deleted.",
        f"    Repair: {repair} records analytics.0001_initial on analytics_db, as --fake-initial "
        "would: analytics_event has every column analytics.0001_initial creates.",
        "No drift on legacy_db, cache_db.",
        "3 repairs can be made without touching a table (only django_migrations rows change): "
        "'manage.py migrate_all --drift --repair' lists them and asks first.",
    ]
    assert err == (
        "CommandError: Schema drift found: 5 findings on default, users_db and analytics_db. 4 "
        "of them can be repaired with 'manage.py migrate_all --drift --repair'; the others need "
        "the manual steps shown.\n"
    )
    out, _, code = run("migrate_all", drift=True, json=True)
    assert code == 1
    findings = json.loads(out)["findings"]
    assert [(f["alias"], f["kind"], f["table"], f["schema"]) for f in findings] == [
        ("default", "missing-table", "shop_order", "public"),
        ("default", "missing-table", "shop_product", "public"),
        ("default", "missing-columns", "blog_post", "public"),
        ("users_db", "missing-table", "users_user", "public"),
        ("analytics_db", "unrecorded", "analytics_event", "analytics"),
    ]
    assert findings[2]["columns"] == ["slug"]
    assert snapshot(on_servers) == before  # detection changed nothing

    out, err, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert code == 1  # blog_post's column is left for a person
    assert out.splitlines()[-10:] == [
        "Repairs to make, each under the alias's lock (only django_migrations rows change; no "
        "table is touched):",
        "  default: unrecord shop.0001_initial (shop_order and shop_product are missing; the next "
        "'manage.py migrate_all' creates them again)",
        f"  users_db: unrecord {UNRECORD_USERS} (users_user is missing; the next 'manage.py "
        "migrate_all' creates it again)",
        "  analytics_db: record analytics.0001_initial (analytics_event exists with every column)",
        "Repaired default: unrecorded shop.0001_initial.",
        f"Repaired users_db: unrecorded {UNRECORD_USERS}.",
        "Repaired analytics_db: recorded analytics.0001_initial.",
        "Drift left: 1 finding on default, for the steps shown above:",
        "  default: missing-columns blog_post (blog.Post): blog.0002_post_slug is recorded, but "
        "blog_post has no column slug",
        "Run 'manage.py migrate_all' to create the tables of the unrecorded migrations again.",
    ]
    assert err == (
        "CommandError: Schema drift left: 1 finding on default; it needs the manual steps shown.\n"
    )
    # users_db keeps the rows that do not depend on users.0001_initial.
    assert pg_recorded(users) == sorted(ALL - USERS - AFTER_USERS)
    # default's users.0001_initial (recorded there, it executes nothing there) is kept.
    assert pg_recorded(site) == sorted(ALL - {"shop.0001_initial"})
    # analytics.0002_seed_event_names's row was deleted too: the next run executes it again.
    assert pg_recorded(site, "analytics") == sorted(ALL - {"analytics.0002_seed_event_names"})

    out, err, code = run("migrate_all", interactive=False)
    assert (code, err) == (0, ""), out
    assert {"shop_order", "shop_product"} <= pg_tables(site)
    assert "users_user" in pg_tables(users)
    assert pg_recorded(users) == sorted(ALL)
    assert pg_recorded(site) == sorted(ALL)
    assert pg_recorded(site, "analytics") == sorted(ALL)
    # The manual step for the column, then nothing is left.
    with pg_connect(site) as admin:
        admin.execute("ALTER TABLE blog_post ADD COLUMN slug varchar(200) NOT NULL DEFAULT ''")
    assert run("migrate_all", drift=True) == (NO_DRIFT, "", 0)


def test_tables_created_in_public_before_the_schema_existed(servers: Servers) -> None:
    with aliases_pointed_at(servers.entries(analytics_options=PUBLIC_FIRST)):
        # Django's own migrate has no preflight: the schema is missing, PostgreSQL uses public.
        _, _, code = run("migrate", "analytics", database="analytics_db", interactive=False)
        assert code == 0
        assert {"analytics_event", "django_migrations"} <= pg_tables(servers.site, "public")
        before = snapshot(servers)
        out, err, code = run("migrate_all", drift=True, databases=["analytics_db"])
        assert code == 1
        assert out.splitlines() == [
            "Schema drift: 2 findings on 1 database (1 checked).",
            where(servers, "analytics_db"),
            "  wrong-schema analytics_event (analytics.Event): in schema public, not in "
            "analytics, where analytics_db's tables belong",
            "    Probable cause: created while schema analytics did not exist: PostgreSQL "
            "creates tables in the first schema of the search_path that exists (public).",
            "    Fix by hand:",
            '      CREATE SCHEMA IF NOT EXISTS "analytics";',
            '      ALTER TABLE "public"."analytics_event" SET SCHEMA "analytics";',
            "  wrong-schema django_migrations (the migration history): in schema public, not in "
            "analytics, where analytics_db's tables belong",
            "    Probable cause: analytics_db's search_path is analytics, public, and "
            "public.django_migrations is the first on it, so Django reads and writes the "
            "migration history of analytics_db there (shared with every alias whose "
            "search_path reaches public); it was created while analytics did not exist.",
            "    Fix by hand:",
            '      CREATE SCHEMA IF NOT EXISTS "analytics";',
            '      CREATE TABLE "analytics"."django_migrations" (LIKE "public"."django_migrations" '
            "INCLUDING ALL);",
            '      INSERT INTO "analytics"."django_migrations" (app, name, applied) SELECT app, '
            'name, applied FROM "public"."django_migrations";',
        ]
        assert err == (
            "CommandError: Schema drift found: 2 findings on analytics_db. They need the manual "
            "steps shown.\n"
        )
        out, _, code = run("migrate_all", drift=True, repair=True, interactive=False, json=True)
        assert code == 1
        document = json.loads(out)
        assert (document["mode"], document["ok"], document["repairs"]) == ("repair", False, [])
        assert document["findings"][0] == {
            "alias": "analytics_db",
            "kind": "wrong-schema",
            "app": "analytics",
            "model": "analytics.Event",
            "table": "analytics_event",
            "columns": [],
            "schema": "analytics",
            "found_in": ["public"],
            "migration": "analytics.0001_initial",
            "cause": "created while schema analytics did not exist: PostgreSQL creates tables in "
            "the first schema of the search_path that exists (public)",
            "repair": None,
            "manual": [
                'CREATE SCHEMA IF NOT EXISTS "analytics";',
                'ALTER TABLE "public"."analytics_event" SET SCHEMA "analytics";',
            ],
        }
        assert snapshot(servers) == before
        assert "analytics" not in pg_schemas(servers.site)

        # A person runs the steps exactly as printed; then nothing is left.
        with pg_connect(servers.site) as admin:
            for finding in document["findings"]:
                for step in finding["manual"]:
                    admin.execute(step)
        assert pg_tables(servers.site, "analytics") == {"analytics_event", "django_migrations"}
        out, _, code = run("migrate_all", drift=True, databases=["analytics_db"])
        assert (out, code) == (NO_DRIFT.replace("5 databases", "1 database"), 0)
        out, _, code = run("migrate_all", databases=["analytics_db"], interactive=False)
        assert code == 0
        # The 21 migrations of the other apps, which Django's migrate --database analytics_db
        # records there too, are recorded without running anything.
        assert out.splitlines()[-1] == "Done: 0 migrations applied, 21 only recorded on 1 database."
        assert pg_recorded(servers.site, "analytics") == sorted(ALL)


def test_search_path_reaching_another_alias_history(servers: Servers) -> None:
    """The schema exists, but default's django_migrations in public is found first: analytics_db
    would record its migrations in default's history."""
    with pg_connect(servers.site) as admin:
        admin.execute("CREATE SCHEMA analytics")
    with aliases_pointed_at(servers.entries(analytics_options=PUBLIC_FIRST)):
        _, _, code = run("migrate_all", databases=["default"], interactive=False)
        assert code == 0
        out, _, code = run("migrate_all", drift=True, databases=["analytics_db"], json=True)
    assert code == 1
    # default records analytics's migrations in public.django_migrations (they execute nothing
    # there; Django's migrate --database default records them too), so through that shared history
    # analytics_db has analytics.0001_initial recorded without its table, as Django would see it.
    missing, finding = json.loads(out)["findings"]
    assert (missing["kind"], missing["table"], missing["migration"]) == (
        "missing-table",
        "analytics_event",
        "analytics.0001_initial",
    )
    assert (finding["kind"], finding["table"], finding["found_in"]) == (
        "wrong-schema",
        "django_migrations",
        ["public"],
    )
    assert finding["cause"].endswith("it was created while analytics had no django_migrations")
    assert finding["manual"][0].startswith('CREATE TABLE "analytics"."django_migrations"')
    # Unrecording there would delete default's rows: no automatic repair on a shared history.
    assert missing["repair"] is None
    assert missing["manual"][0] == (
        "No automatic repair on analytics_db: the django_migrations it reads is shared with other "
        "aliases (see its wrong-schema finding); move the history first, then check again."
    )
    with aliases_pointed_at(servers.entries(analytics_options=PUBLIC_FIRST)):
        _, _, code = run(
            "migrate_all", drift=True, repair=True, databases=["analytics_db"], interactive=False
        )
        assert code == 1
        _, err, code = run("migrate_all", check=True, databases=["default"])
    assert (code, err) == (0, "")  # default's history is untouched


def test_mariadb_drift_by_hand(on_servers: Servers) -> None:
    legacy = on_servers.legacy
    _, _, code = run("migrate_all", apps=["legacy"], interactive=False)
    assert code == 0
    header = "Schema drift: 1 finding on 1 database (5 checked)."
    clean = "No drift on default, users_db, analytics_db, cache_db."

    # A column dropped by hand: only a person can put it back.
    maria(legacy, "ALTER TABLE legacy_customernote DROP COLUMN text")
    before = snapshot(on_servers)
    out, err, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert code == 1
    assert out.splitlines() == [
        header,
        where(on_servers, "legacy_db"),
        "  missing-columns legacy_customernote (legacy.CustomerNote): legacy.0001_initial is "
        "recorded, but legacy_customernote has no column text",
        "    Probable cause: dropped by hand, or legacy.0001_initial was recorded without running "
        "(migrate --fake).",
        "    Fix by hand:",
        "      Add text to `legacy_customernote` by hand: 'manage.py sqlmigrate legacy "
        "0001_initial --database legacy_db' prints the SQL that adds it; run the statements for "
        "text on legacy_db, or restore it from a backup.",
        clean,
        "Nothing can be repaired automatically: every finding needs the steps shown.",
    ]
    assert err == (
        "CommandError: Schema drift found: 1 finding on legacy_db. It needs the manual steps "
        "shown.\n"
    )
    assert snapshot(on_servers) == before

    # The table dropped: the migration is unrecorded, the next run creates the table again.
    # (The unmanaged "customers" table that legacy.0001_initial declares never counts.)
    maria(legacy, "DROP TABLE legacy_customernote")
    before = snapshot(on_servers)
    out, _, code = run("migrate_all", drift=True)
    assert code == 1
    assert out.splitlines()[2:5] == [
        "  missing-table legacy_customernote (legacy.CustomerNote): legacy.0001_initial is "
        "recorded, but the table is not in the database",
        "    Probable cause: dropped by hand, or legacy.0001_initial was recorded without running "
        "(migrate --fake).",
        "    Repair: 'manage.py migrate_all --drift --repair' unrecords legacy.0001_initial on "
        "legacy_db; the next 'manage.py migrate_all' creates legacy_customernote again.",
    ]
    assert snapshot(on_servers) == before
    out, err, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert (err, code) == ("", 0)
    assert out.splitlines()[-3:] == [
        "Repaired legacy_db: unrecorded legacy.0001_initial.",
        "No schema drift left on 5 databases.",
        "Run 'manage.py migrate_all' to create the tables of the unrecorded migrations again.",
    ]
    assert maria_recorded(legacy) == []
    _, _, code = run("migrate_all", apps=["legacy"], interactive=False)
    assert code == 0
    assert maria_tables(legacy) == {"django_migrations", "legacy_customernote"}

    # The history row deleted: the table is recorded again, as --fake-initial would.
    maria(legacy, "DELETE FROM django_migrations")
    out, err, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert (err, code) == ("", 0)
    assert out.splitlines()[2:5] == [
        "  unrecorded legacy_customernote (legacy.CustomerNote): the table exists in the "
        "database, but legacy.0001_initial, which creates it, is not recorded",
        "    Probable cause: created outside migrations (by hand, a restored dump, a legacy "
        "system), or the django_migrations row of legacy.0001_initial was deleted.",
        "    Repair: 'manage.py migrate_all --drift --repair' records legacy.0001_initial on "
        "legacy_db, as --fake-initial would: legacy_customernote has every column "
        "legacy.0001_initial creates.",
    ]
    assert out.splitlines()[-2:] == [
        "Repaired legacy_db: recorded legacy.0001_initial.",
        "No schema drift left on 5 databases.",
    ]
    assert maria_recorded(legacy) == ["legacy.0001_initial"]
    assert run("migrate_all", drift=True) == (NO_DRIFT, "", 0)


def test_mariadb_faked_migration_is_unrecorded(on_servers: Servers) -> None:
    with pg_connect(on_servers.site) as admin:
        admin.execute("CREATE SCHEMA analytics")
    _, _, code = run("migrate_all", apps=["legacy"], fake=True, interactive=False)
    assert code == 0
    assert maria_tables(on_servers.legacy) == {"django_migrations"}
    out, _, code = run("migrate_all", drift=True, repair=True, interactive=False)
    assert code == 0
    assert "Repaired legacy_db: unrecorded legacy.0001_initial." in out.splitlines()
    _, _, code = run("migrate_all", interactive=False)
    assert code == 0
    assert "legacy_customernote" in maria_tables(on_servers.legacy)
    assert run("migrate_all", drift=True) == (NO_DRIFT, "", 0)


def test_table_moved_out_of_its_schema_by_hand(on_servers: Servers) -> None:
    with pg_connect(on_servers.site) as admin:
        admin.execute("CREATE SCHEMA analytics")
    _, _, code = run("migrate_all", apps=["analytics"], interactive=False)
    assert code == 0
    with pg_connect(on_servers.site) as admin:
        admin.execute("ALTER TABLE analytics.analytics_event SET SCHEMA public")
    out, _, code = run("migrate_all", drift=True, apps=["analytics"])
    assert code == 1
    assert out.splitlines() == [
        "Schema drift: 1 finding on 1 database (1 checked).",
        where(on_servers, "analytics_db"),
        "  wrong-schema analytics_event (analytics.Event): in schema public, not in analytics, "
        "where analytics_db's tables belong",
        "    Probable cause: created while the search_path did not select analytics first "
        "(before the schema existed, or by a connection with another search_path), or moved "
        "by hand.",
        "    Fix by hand:",
        '      ALTER TABLE "public"."analytics_event" SET SCHEMA "analytics";',
    ]
    with pg_connect(on_servers.site) as admin:
        admin.execute('ALTER TABLE "public"."analytics_event" SET SCHEMA "analytics";')
    out, _, code = run("migrate_all", drift=True, apps=["analytics"])
    assert (out, code) == (NO_DRIFT.replace("5 databases", "1 database"), 0)
