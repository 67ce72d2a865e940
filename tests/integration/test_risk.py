"""``--risk`` on real servers: the pending SQL of each alias reviewed (squawk on PostgreSQL,
migrator's rules on MariaDB), each finding weighted by the live size of its table: 100k rows
analysed, 100k rows never analysed, empty; the gate refusing a run with nothing touched, and
before ``--create-schemas`` creates anything."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from migrator import api
from migrator.exceptions import RiskRefused
from migrator.types import RunOptions, Selection
from tests.conftest import aliases_pointed_at, close_all
from tests.helpers import PG_PASSWORD, run
from tests.integration.conftest import Servers
from tests.servers import (
    maria_connect,
    maria_recorded,
    maria_tables,
    pg_connect,
    pg_recorded,
    pg_schemas,
    pg_tables,
    unique,
)

RISK = {"WARNING_ROWS": 1000, "DANGER_ROWS": 50_000}
MODULES = {
    "shop": "tests.fixtures.risky_shop_migrations",
    "legacy": "tests.fixtures.risky_legacy_migrations",
}
APPS = ["shop", "legacy"]


@pytest.fixture
def filled(on_servers: Servers) -> Iterator[Servers]:
    """shop 0001 and legacy 0001 applied; shop_big: 100k rows, vacuumed and analysed;
    shop_cold: 100k rows, never analysed (autovacuum off); shop_empty: empty; legacy_ledger:
    20k rows, analysed."""
    with override_settings(MIGRATOR={"RISK": RISK}, MIGRATION_MODULES=MODULES):
        for target in ("shop:0001_initial", "legacy:0001_initial"):
            _, err, code = run("migrate_all", target=target, interactive=False)
            assert (code, err) == (0, "")
        with pg_connect(on_servers.site) as connection:
            connection.execute("ALTER TABLE shop_cold SET (autovacuum_enabled = false)")
            connection.execute("ALTER TABLE shop_big SET (autovacuum_enabled = false)")
            for table in ("shop_big", "shop_cold"):
                connection.execute(
                    f"INSERT INTO {table} (n) SELECT g FROM generate_series(1, 100000) g"
                )
            connection.execute("VACUUM ANALYZE shop_big")
        maria = maria_connect(database=on_servers.legacy)
        try:
            cursor = maria.cursor()
            # MariaDB's SEQUENCE engine: seq_1_to_N is a table of 1..N.
            cursor.execute("INSERT INTO legacy_ledger (amount) SELECT seq FROM seq_1_to_20000")
            cursor.execute("ANALYZE TABLE legacy_ledger")
            cursor.fetchall()
        finally:
            maria.close()
        yield on_servers


def findings(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            f["alias"],
            f["migration"],
            f["operation"]["index"] if f["operation"] else 0,
            f["rule"],
            f["level"],
            f["table"],
            f["rows"],
            f["lock"],
        )
        for f in document["risk"]["findings"]
    ]


SHOP = "shop.0002_risky"
LEGACY = "legacy.0002_risky"
EXPECTED = [
    # 100k rows, analysed: danger
    ("default", SHOP, 1, "require-concurrent-index-creation", "danger", '"shop_big"', 100000, "SHARE"),
    # 100k rows, never analysed: the row count is unknown, not small
    ("default", SHOP, 3, "changing-column-type", "warning", '"shop_cold"', None, "ACCESS EXCLUSIVE"),
    # empty
    ("default", SHOP, 4, "constraint-missing-not-valid", "info", '"shop_empty"', 0, "ACCESS EXCLUSIVE"),
    ("default", SHOP, 5, "adding-foreign-key-constraint", "danger", '"shop_big"', 100000, "SHARE ROW EXCLUSIVE (both tables)"),
    ("default", None, 0, "require-lock-timeout", "warning", '"shop_cold"', None, "the lock of each DDL statement"),
    ("legacy_db", LEGACY, 1, "mysql-modify-column", "warning", "`legacy_ledger`", "~20k", "metadata lock; table copy (ALGORITHM=COPY)"),
    ("legacy_db", LEGACY, 3, "mysql-foreign-key", "warning", "`legacy_ledger`", "~20k", "metadata lock; table copy (ALGORITHM=COPY)"),
    ("legacy_db", LEGACY, 4, "mysql-rename", "warning", "`legacy_ledger`", "~20k", "metadata lock (instant)"),
    ("legacy_db", None, 0, "require-lock-timeout", "warning", "`legacy_ledger`", "~20k", "the lock of each DDL statement"),
]  # fmt: skip


def about(found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """InnoDB's TABLE_ROWS is an estimate: ~20k for the 20,000 rows of legacy_ledger."""
    return [
        (*f[:6], "~20k" if f[0] == "legacy_db" and 15_000 <= (f[6] or 0) <= 25_000 else f[6], f[7])
        for f in found
    ]


def test_risk_weighs_each_finding_by_its_table(filled: Servers) -> None:
    before = pg_recorded(filled.site), maria_recorded(filled.legacy)
    out, err, code = run("migrate_all", risk=True, apps=APPS, json=True)
    document = json.loads(out)
    assert code == 1
    assert err.startswith("CommandError: 2 lock-risk findings at danger: danger default: ")
    assert document["mode"] == "risk"
    assert document["ok"] is False
    assert about(findings(document)) == EXPECTED
    risk = document["risk"]
    assert risk["highest"] == "danger"
    assert risk["reviewed"] == [
        {"alias": "default", "vendor": "postgresql", "migrations": 1},
        {"alias": "legacy_db", "vendor": "mysql", "migrations": 1},
    ]
    index = risk["findings"][0]
    assert index["statement"] == 'CREATE INDEX "shop_big_n" ON "shop_big" ("n");'
    assert index["operation"] == {
        "index": 1,
        "description": "Create index shop_big_n on field(s) n of model big",
    }
    assert index["blocks"] == "writes"
    assert index["safer"].startswith("AddIndexConcurrently")
    assert index["size_bytes"] > 1_000_000
    # Nothing changed: no migration recorded, no index built.
    assert (pg_recorded(filled.site), maria_recorded(filled.legacy)) == before
    with pg_connect(filled.site) as connection:
        names = connection.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'shop_big'")
        assert [row[0] for row in names] == ["shop_big_pkey"]


def test_risk_text_names_the_lock_and_the_table(filled: Servers) -> None:
    out, err, code = run("migrate_all", risk=True, apps=["shop"], verbosity=2)
    assert code == 1
    assert (
        "  DANGER require-concurrent-index-creation: shop.0002_risky #1 (Create index shop_big_n "
        "on field(s) n of model big)\n"
        '      table "shop_big": ~100,000 rows, 6.4 MB\n'
        "      lock SHARE; blocks writes\n"
        "      During normal index creation, table updates are blocked, but reads are still "
        "allowed.\n"
        "      safer: AddIndexConcurrently (django.contrib.postgres.operations) in a migration "
        "with atomic = False\n"
        '      SQL: CREATE INDEX "shop_big_n" ON "shop_big" ("n");\n'
    ) in out
    assert '      table "shop_cold": rows unknown (never analysed), 6.4 MB\n' in out
    assert PG_PASSWORD not in out + err


def test_lock_retries_per_attempt_timeout_counts_as_a_lock_timeout(filled: Servers) -> None:
    """With MIGRATOR["LOCK_RETRIES"], each retried migration runs under its per-attempt DDL lock
    timeout: no alias is told to set one, and squawk is given the SET migrator runs."""
    settings = {"RISK": RISK, "LOCK_RETRIES": {"RETRIES": 3, "DDL_LOCK_TIMEOUT": 2}}
    with override_settings(MIGRATOR=settings):
        out, _, code = run("migrate_all", risk=True, apps=APPS, json=True)
    assert code == 1
    assert about(findings(json.loads(out))) == [
        f for f in EXPECTED if f[3] != "require-lock-timeout"
    ]


@pytest.mark.parametrize(
    ("databases", "max_risk", "code"),
    [
        (["legacy_db"], None, 0),  # warnings only
        (["legacy_db"], "warning", 1),
        (["legacy_db"], "danger", 0),
        (["default"], None, 1),
        (["default"], "info", 1),
    ],
)
def test_max_risk_sets_the_exit_code(
    filled: Servers, databases: list[str], max_risk: str | None, code: int
) -> None:
    options: dict[str, Any] = {"max_risk": max_risk} if max_risk else {}
    _, _, found = run("migrate_all", risk=True, apps=APPS, databases=databases, **options)
    assert found == code


def test_migrations_only_recorded_on_an_alias_are_not_reviewed_there(filled: Servers) -> None:
    databases = ["default", "users_db", "legacy_db"]
    out, _, code = run("migrate_all", risk=True, json=True, databases=databases)
    assert code == 1
    document = json.loads(out)
    assert "error" not in document, document["error"]
    where = {(f["migration"], f["alias"]) for f in document["risk"]["findings"]}
    assert {alias for migration, alias in where if migration == SHOP} == {"default"}
    assert {alias for migration, alias in where if migration == LEGACY} == {"legacy_db"}
    # users_db records shop.0002_risky (it executes nothing there): not reviewed there.
    plan = document["plan"]["levels"]
    recorded = {
        step["alias"]
        for level in plan
        for step in level
        for item in step["recorded_dependencies"] + step["record_after"]
        if f"{item['app']}.{item['name']}" == SHOP
    }
    assert recorded == {"users_db", "legacy_db"}


def test_the_gate_refuses_the_run_before_any_change(filled: Servers) -> None:
    before = (
        pg_recorded(filled.site),
        pg_tables(filled.site),
        maria_recorded(filled.legacy),
        maria_tables(filled.legacy),
    )
    with override_settings(MIGRATOR={"RISK": {**RISK, "GATE": "danger"}}):
        _, err, code = run("migrate_all", apps=APPS, interactive=False)
        assert code == 1
        assert err.startswith(
            "CommandError: The lock-risk gate (MIGRATOR['RISK']['GATE'] = 'danger') refuses "
            "this plan: 2 findings at danger; nothing was changed on any database:\n"
            "  danger default: shop.0002_risky #1 (Create index shop_big_n on field(s) n of "
            'model big): require-concurrent-index-creation on "shop_big" (~100,000 rows)\n'
            "  danger default: shop.0002_risky #5 (Add field empty to big): "
            'adding-foreign-key-constraint on "shop_big" (~100,000 rows)\n'
            "See them with 'manage.py migrate_all --risk'. Make the migrations safer, or run "
            "anyway with --accept-risk."
        )
        with pytest.raises(RiskRefused):
            api.migrate_all(Selection(apps=tuple(APPS)))
        after = (
            pg_recorded(filled.site),
            pg_tables(filled.site),
            maria_recorded(filled.legacy),
            maria_tables(filled.legacy),
        )
        assert after == before
        # --max-risk on a run gates at its level; --accept-risk runs anyway.
        _, err, code = run(
            "migrate_all", apps=["legacy"], databases=["legacy_db"], max_risk="warning",
            interactive=False,
        )  # fmt: skip
        assert code == 1
        assert err.startswith("CommandError: The lock-risk gate (--max-risk warning) refuses")
        assert maria_recorded(filled.legacy) == before[2]
        report = api.migrate_all(Selection(apps=tuple(APPS)), RunOptions(accept_risk=True))
        assert report.ok
    assert f"shop.{SHOP.split('.')[1]}" in pg_recorded(filled.site)
    assert LEGACY in maria_recorded(filled.legacy)


def test_a_gated_run_creates_nothing_before_the_gate(filled: Servers) -> None:
    """--create-schemas with MIGRATOR["RISK"]["GATE"]: the plan is reviewed as read before any
    creation (the missing schema has nothing recorded and no tables); refused, the schema still
    does not exist. A gated run that passes creates it afterwards and migrates into it."""
    schema = unique("gated")
    gate = {"RISK": {**RISK, "GATE": "danger"}}
    before = (pg_recorded(filled.site), pg_tables(filled.site), maria_recorded(filled.legacy))
    entries = filled.entries(analytics_options=f"-c search_path={schema}")
    with aliases_pointed_at(entries), override_settings(MIGRATOR=gate):
        _, err, code = run("migrate_all", create_schemas=True, interactive=False)
        assert code == 1
        assert err.startswith(
            "CommandError: The lock-risk gate (MIGRATOR['RISK']['GATE'] = 'danger') refuses "
            "this plan: 2 findings at danger; nothing was changed on any database:\n"
            "  danger default: shop.0002_risky #1 (Create index shop_big_n on field(s) n of "
            'model big): require-concurrent-index-creation on "shop_big" (~100,000 rows)\n'
        )
        assert schema not in pg_schemas(filled.site)
        with pytest.raises(RiskRefused):
            api.migrate_all(create_schemas=True)
        assert schema not in pg_schemas(filled.site)
        _, err, code = run("migrate_all", shard="1/1", create_schemas=True, interactive=False)
        assert code == 1
        assert err.startswith("CommandError: The lock-risk gate (MIGRATOR['RISK']['GATE']")
        assert schema not in pg_schemas(filled.site)
        after = (pg_recorded(filled.site), pg_tables(filled.site), maria_recorded(filled.legacy))
        assert after == before
        # analytics_db alone: reviewed (new tables only: info), so the gate lets it through,
        # and only then is its schema created.
        out, err, code = run(
            "migrate_all", databases=["analytics_db"], create_schemas=True, interactive=False
        )
        assert (code, err) == (0, "")
        assert out.splitlines()[0] == f"Created schema '{schema}' for analytics_db."
        assert pg_tables(filled.site, schema) == {"analytics_event", "django_migrations"}
        assert pg_recorded(filled.site, schema)
    assert (pg_recorded(filled.site), pg_tables(filled.site)) == before[:2]


def test_the_review_leaves_no_connection_open(filled: Servers) -> None:
    """Table sizes are read in threads that close their connections, and the rendering closes
    the connection it opened: a fleet's review does not hold one connection per alias."""

    def backends() -> int:
        with pg_connect(filled.site) as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()",
                (filled.site,),
            ).fetchone()
        assert row is not None
        return int(row[0])

    close_all()
    idle = backends()
    _, _, code = run("migrate_all", risk=True, apps=APPS)
    assert code == 1
    assert backends() == idle
