"""Rendering of schema drift: pure, no database."""

from __future__ import annotations

from migrator.drift.render import (
    after_lines,
    document,
    failure_message,
    finding_lines,
    headline,
    repair_failure_message,
    repair_text,
    result_lines,
)
from migrator.render import Line
from migrator.text import run_command
from migrator.types import (
    AliasInfo,
    DriftFinding,
    DriftRepair,
    DriftReport,
    Plan,
    PlanState,
    RepairResult,
)

PG = "django.db.backends.postgresql"
INFOS = (
    AliasInfo("default", "postgresql", PG, "site", "db.internal", "5432"),
    AliasInfo("analytics_db", "postgresql", PG, "site", "db.internal", "5432"),
    AliasInfo("cache_db", "sqlite", "django.db.backends.sqlite3", "var/cache.sqlite3"),
)
STATE = PlanState(Plan(levels=(), aliases=INFOS), ())
ALIASES = ("default", "analytics_db", "cache_db")
SCHEMAS = {"default": "public", "analytics_db": "analytics", "cache_db": ""}

MISSING = DriftFinding(
    "default",
    "missing-table",
    "shop",
    "shop.Order",
    "shop_order",
    schema="public",
    migration="shop.0001_initial",
    cause="dropped by hand",
    repair="unrecord it.",
)
COLUMNS = DriftFinding(
    "default",
    "missing-columns",
    "blog",
    "blog.Post",
    "blog_post",
    columns=("slug", "title"),
    schema="public",
    migration="blog.0002_post_slug",
    cause="dropped by hand",
    manual=("Add them.",),
)
MOVED = DriftFinding(
    "analytics_db",
    "wrong-schema",
    "analytics",
    "analytics.Event",
    "analytics_event",
    schema="analytics",
    found_in=("public", "old"),
    cause="moved",
    manual=('ALTER TABLE "public"."analytics_event" SET SCHEMA "analytics";',),
)
HISTORY = DriftFinding(
    "analytics_db",
    "wrong-schema",
    "",
    "",
    "django_migrations",
    schema="analytics",
    found_in=("public",),
    cause="shared",
    manual=("copy it.",),
)
UNRECORDED = DriftFinding(
    "cache_db",
    "unrecorded",
    "cache",
    "cache.CacheEntry",
    "cache_cacheentry",
    migration="cache.0001_initial",
    cause="created by hand",
    repair="record it.",
)
UNRECORD = DriftRepair(
    "default", "unrecord", ("shop.0001_initial",), ("shop_order", "shop_product")
)
RECORD = DriftRepair("cache_db", "record", ("cache.0001_initial",), ("cache_cacheentry",))


def report(*findings: DriftFinding, repairs: tuple[DriftRepair, ...] = ()) -> DriftReport:
    return DriftReport(STATE, ALIASES, findings, repairs, SCHEMAS)


def test_headlines_say_what_differs() -> None:
    assert [headline(f) for f in (MISSING, COLUMNS, MOVED, HISTORY, UNRECORDED)] == [
        "missing-table shop_order (shop.Order): shop.0001_initial is recorded, but the table is "
        "not in schema public",
        "missing-columns blog_post (blog.Post): blog.0002_post_slug is recorded, but blog_post "
        "has no columns slug and title",
        "wrong-schema analytics_event (analytics.Event): in schemas public and old, not in "
        "analytics, where analytics_db's tables belong",
        "wrong-schema django_migrations (the migration history): in schema public, not in "
        "analytics, where analytics_db's tables belong",
        "unrecorded cache_cacheentry (cache.CacheEntry): the table exists in the database, but "
        "cache.0001_initial, which creates it, is not recorded",
    ]


def test_no_drift() -> None:
    assert finding_lines(report(), "migrate_all") == [
        Line(
            "No schema drift on 3 databases: every table and column recorded as applied is "
            "there, and every table of a routed app is recorded.",
            "success",
        )
    ]


def test_findings_grouped_by_alias_with_cause_and_repair_or_steps() -> None:
    lines = finding_lines(report(MISSING, COLUMNS, HISTORY, repairs=(UNRECORD,)), "migrator")
    assert [(line.text, line.style) for line in lines] == [
        ("Schema drift: 3 findings on 2 databases (3 checked).", "heading"),
        ("default (postgresql db.internal:5432/site, schema public)", "heading"),
        (f"  {headline(MISSING)}", "error"),
        ("    Probable cause: dropped by hand.", ""),
        ("    Repair: unrecord it.", "notice"),
        (f"  {headline(COLUMNS)}", "error"),
        ("    Probable cause: dropped by hand.", ""),
        ("    Fix by hand:", ""),
        ("      Add them.", ""),
        ("analytics_db (postgresql db.internal:5432/site, schema analytics)", "heading"),
        (f"  {headline(HISTORY)}", "error"),
        ("    Probable cause: shared.", ""),
        ("    Fix by hand:", ""),
        ("      copy it.", ""),
        ("No drift on cache_db.", "success"),
        (
            "1 repair can be made without touching a table (only django_migrations rows "
            "change): 'manage.py migrator --drift --repair' lists it and asks first.",
            "notice",
        ),
    ]
    assert finding_lines(report(MISSING, repairs=(UNRECORD,)), "x", repairing=True)[-1] == Line(
        "No drift on analytics_db, cache_db.", "success"
    )


def test_failure_messages() -> None:
    repair = "'manage.py migrate_all --drift --repair'"
    assert failure_message(report(MISSING), "migrate_all") == (
        f"Schema drift found: 1 finding on default. Repair it with {repair}."
    )
    assert failure_message(report(MISSING, UNRECORDED), "migrate_all") == (
        f"Schema drift found: 2 findings on default and cache_db. Repair them with {repair}."
    )
    assert failure_message(report(MISSING, COLUMNS, MOVED), "migrate_all") == (
        "Schema drift found: 3 findings on default and analytics_db. 1 of them can be repaired "
        f"with {repair}; the others need the manual steps shown."
    )
    assert failure_message(report(COLUMNS, MOVED), "migrate_all") == (
        "Schema drift found: 2 findings on default and analytics_db. They need the manual steps "
        "shown."
    )
    assert repair_failure_message(report(MISSING), (), None) == (
        "Nothing was repaired; schema drift remains: 1 finding on default."
    )
    failed = RepairResult(UNRECORD, "failed", "LockTimeout: busy")
    assert repair_failure_message(report(MISSING), (failed,), report(MISSING)) == (
        "1 repair not made (default: LockTimeout: busy). Schema drift left: 1 finding on "
        "default; it needs the manual steps shown."
    )


def test_repairs_and_results() -> None:
    assert repair_text(UNRECORD, "migrator") == (
        "default: unrecord shop.0001_initial (shop_order and shop_product are missing; the next "
        "'manage.py migrator --auto' creates them again)"
    )
    assert repair_text(RECORD, "migrate_all") == (
        "cache_db: record cache.0001_initial (cache_cacheentry exists with every column)"
    )
    results = (
        RepairResult(UNRECORD, "done"),
        RepairResult(RECORD, "skipped", "cache_db changed since it was checked; run --drift again"),
    )
    assert result_lines(results) == [
        Line("Repaired default: unrecorded shop.0001_initial.", "success"),
        Line(
            "Not repaired on cache_db: cache_db changed since it was checked; run --drift again.",
            "warning",
        ),
    ]
    assert after_lines(report(UNRECORDED), results, "migrate_all") == [
        Line("Drift left: 1 finding on cache_db, for the steps shown above:", "warning"),
        Line(f"  cache_db: {headline(UNRECORDED)}"),
        Line(
            "Run 'manage.py migrate_all' to create the tables of the unrecorded migrations again.",
            "notice",
        ),
    ]
    assert run_command("migrator") == "migrator --auto"


def test_json_document() -> None:
    before = report(MISSING, HISTORY, repairs=(UNRECORD,))
    drift = document(before)
    assert (drift["mode"], drift["ok"], drift["remaining"]) == ("drift", False, None)
    assert drift["databases"][1] == {
        "alias": "analytics_db",
        "vendor": "postgresql",
        "host": "db.internal",
        "port": "5432",
        "name": "site",
        "schema": "analytics",
        "findings": 1,
    }
    assert drift["findings"][1] == {
        "alias": "analytics_db",
        "kind": "wrong-schema",
        "app": None,
        "model": None,
        "table": "django_migrations",
        "columns": [],
        "schema": "analytics",
        "found_in": ["public"],
        "migration": None,
        "cause": "shared",
        "repair": None,
        "manual": ["copy it."],
    }
    assert drift["repairs"][0]["status"] == "planned"
    declined = document(before, repairing=True)
    assert (declined["mode"], declined["ok"]) == ("repair", False)
    assert declined["repairs"][0]["status"] == "declined"
    done = (RepairResult(UNRECORD, "done"),)
    repaired = document(before, results=done, after=report(), repairing=True)
    assert (repaired["ok"], repaired["remaining"], repaired["repairs"][0]["status"]) == (
        True,
        [],
        "done",
    )
    left = document(before, results=done, after=report(HISTORY), repairing=True)
    assert (left["ok"], len(left["remaining"])) == (False, 1)
    assert document(report(), repairing=True)["ok"] is True
