"""The lock-risk review's pure parts: the level of a finding from its table's size and its rule,
the MySQL/MariaDB rule table by server version, the table a statement names, squawk's
--pg-version. No database."""

from __future__ import annotations

import pytest

from migrator import conf
from migrator.exceptions import ConfigurationError
from migrator.risk import gate, mysql_rules, squawk
from migrator.risk.render import finding_lines, rows_text
from migrator.risk.rules import Rule, level_for, size_level, table_of
from migrator.types import RiskFinding, RiskThresholds, RunOptions

T = RiskThresholds(
    warning_rows=1000, danger_rows=100_000, warning_bytes=10_000, danger_bytes=1_000_000
)
WEIGHTED = Rule("x", "SHARE", "writes", "safer")
RENAME = Rule("r", "", "running code", "safer", floor="warning", cap="warning")
HARMLESS = Rule("h", "", "", "safer", cap="info")


@pytest.mark.parametrize(
    ("rows", "size", "exists", "level"),
    [
        (0, 8192, True, "info"),  # empty
        (999, 9_999, True, "info"),
        (1000, 0, True, "warning"),
        (10, 10_000, True, "warning"),  # few rows, many bytes
        (100_000, 0, True, "danger"),
        (5, 1_000_000, True, "danger"),
        (None, 8192, True, "warning"),  # never analysed: not small
        (None, 1_000_000, True, "danger"),  # never analysed, big by its bytes
        (None, None, False, "info"),  # the plan creates it
        (10**9, 10**12, False, "info"),
    ],
)  # fmt: skip
def test_size_level(rows: int | None, size: int | None, exists: bool, level: str) -> None:
    assert size_level(rows, size, exists, T) == level


@pytest.mark.parametrize(
    ("rule", "rows", "exists", "level"),
    [
        (WEIGHTED, 10**6, True, "danger"),
        (RENAME, 0, True, "warning"),  # a rename breaks running code on an empty table too
        (RENAME, 10**6, True, "warning"),
        (RENAME, 10**6, False, "info"),  # a table the plan creates: no running code uses it
        (HARMLESS, 10**6, True, "info"),
    ],
)  # fmt: skip
def test_a_rule_caps_and_raises_the_level(rule: Rule, rows: int, exists: bool, level: str) -> None:
    assert level_for(rule, rows, 0, exists, T) == level


MARIADB_10_3_1 = "10.3.1-MariaDB"
MARIADB = "10.11.6-MariaDB-0+deb12u1"
MYSQL_57 = "5.7.44"
MYSQL_8 = "8.0.36"


@pytest.mark.parametrize(
    ("statement", "version", "rules"),
    [
        ("ALTER TABLE `t` MODIFY `a` bigint NOT NULL;", MYSQL_8, ["mysql-modify-column"]),
        ("ALTER TABLE `t` ADD COLUMN `c` integer DEFAULT 0 NOT NULL;", MYSQL_8, []),
        ("ALTER TABLE `t` ADD COLUMN `c` integer DEFAULT 0 NOT NULL;", MYSQL_57, ["mysql-add-column-rebuild"]),
        ("ALTER TABLE `t` ADD COLUMN `c` integer NULL;", MARIADB, []),
        ("ALTER TABLE `t` ADD COLUMN `c` integer NULL;", MARIADB_10_3_1, ["mysql-add-column-rebuild"]),
        ("ALTER TABLE `t` ADD COLUMN `c` integer NULL AFTER `a`;", "8.0.28", ["mysql-add-column-rebuild"]),
        ("ALTER TABLE `t` ADD COLUMN `c` integer NULL AFTER `a`;", "8.0.29", []),
        ("ALTER TABLE `t` ADD COLUMN `p` bigint NULL , ADD CONSTRAINT `fk` FOREIGN KEY (`p`) REFERENCES `u`(`id`);", MARIADB, ["mysql-foreign-key"]),
        ("ALTER TABLE `t` ADD CONSTRAINT `c` CHECK (`a` >= 0);", MYSQL_8, ["mysql-check-constraint"]),
        ("CREATE INDEX `i` ON `t` (`a`);", MYSQL_8, []),
        ("CREATE FULLTEXT INDEX `i` ON `t` (`a`);", MYSQL_8, ["mysql-fulltext-index"]),
        ("ALTER TABLE `t` ADD CONSTRAINT `u` UNIQUE (`a`, `b`);", MYSQL_8, []),
        ("ALTER TABLE `t` DROP COLUMN `a`;", MYSQL_57, ["mysql-drop-column"]),
        ("ALTER TABLE `t` DROP COLUMN `a`;", MARIADB, ["mysql-drop-column-instant"]),
        ("ALTER TABLE `t` DROP FOREIGN KEY `fk`;", MYSQL_8, []),
        ("ALTER TABLE `t` DROP INDEX `i`;", MYSQL_8, []),
        ("ALTER TABLE `t` RENAME COLUMN `a` TO `b`;", MYSQL_8, ["mysql-rename"]),
        ("ALTER TABLE `t` CHANGE `a` `b` integer NOT NULL;", MYSQL_57, ["mysql-rename"]),
        ("ALTER TABLE `t` RENAME TO `u`;", MYSQL_8, ["mysql-rename"]),
        ("RENAME TABLE `t` TO `u`;", MYSQL_8, ["mysql-rename"]),
        ("ALTER TABLE `t` DROP PRIMARY KEY, ADD PRIMARY KEY (`a`, `b`);", MYSQL_8, ["mysql-primary-key"]),
        ("ALTER TABLE `t` CONVERT TO CHARACTER SET utf8mb4;", MYSQL_8, ["mysql-table-rebuild"]),
        ("OPTIMIZE TABLE `t`;", MYSQL_8, ["mysql-table-rebuild"]),
        ("DROP TABLE `t` CASCADE;", MYSQL_8, ["mysql-drop-table"]),
        ("ALTER TABLE `t` ALTER COLUMN `a` DROP DEFAULT;", MYSQL_8, []),
        ("ALTER TABLE `t` ADD COLUMN `d` decimal(10, 2) DEFAULT 0 NOT NULL;", MYSQL_8, []),
        ("CREATE TABLE `t` (`id` bigint AUTO_INCREMENT NOT NULL PRIMARY KEY);", MYSQL_8, []),
    ],
)  # fmt: skip
def test_mysql_rules(statement: str, version: str, rules: list[str]) -> None:
    found = mysql_rules.findings(statement, version)
    assert [rule.id for rule, _ in found] == rules
    assert all(table == "`t`" for _, table in found)


def test_server_versions() -> None:
    assert mysql_rules.server("10.11.6-MariaDB-0+deb12u1") == mysql_rules.Server(True, (10, 11, 6))
    assert mysql_rules.server("8.0.36") == mysql_rules.Server(False, (8, 0, 36))


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ('ALTER TABLE "blog_post" ADD COLUMN "x" integer NULL;', '"blog_post"'),
        ('CREATE UNIQUE INDEX CONCURRENTLY "i" ON "analytics"."event" ("a");', '"analytics"."event"'),
        ('CREATE INDEX "i" ON "t" USING gin ("a");', '"t"'),
        ("DROP TABLE IF EXISTS t CASCADE;", "t"),
        ("UPDATE shop_order SET x = 1;", "shop_order"),
        ("SELECT 1;", ""),
    ],
)  # fmt: skip
def test_table_of(statement: str, table: str) -> None:
    assert table_of(statement) == table


@pytest.mark.parametrize(
    ("server", "version"), [("15.20", "15.20"), ("16.4", "16.4"), ("17beta1", "17.0"), ("", "15.0")]
)
def test_pg_version(server: str, version: str) -> None:
    assert squawk.pg_version(server) == version


def test_one_line() -> None:
    finding = RiskFinding(
        alias="default",
        migration="shop.0002_x",
        operation=2,
        description="Add field a to b",
        rule="changing-column-type",
        level="danger",
        message="m",
        safer="s",
        table='"shop_b"',
        rows=None,
        size=3 * 2**20,
    )
    assert rows_text(finding) == "rows unknown (never analysed), 3.0 MB"
    assert finding.summary == (
        'danger default: shop.0002_x #2 (Add field a to b): changing-column-type on "shop_b" '
        "(rows unknown)"
    )


def test_the_statement_is_shown_shortened_and_whole_with_v2() -> None:
    statement = (
        'CREATE INDEX "blog_post_slug_b95473f2_like" ON "blog_post" ("slug" varchar_pattern_ops);'
    )
    finding = RiskFinding(
        alias="default",
        migration="blog.0002_post_slug",
        operation=1,
        description="Add field slug to post",
        rule="require-concurrent-index-creation",
        level="warning",
        message="m",
        safer="s",
        statement=statement + " " * 3 + "-- " + "x" * 120,
    )
    short = [line.text for line in finding_lines(finding)][-1]
    assert short == "      SQL: " + (statement + " -- " + "x" * 120)[:117] + "..."
    whole = [line.text for line in finding_lines(finding, verbosity=2)][-1]
    assert whole == "      SQL: " + statement + " -- " + "x" * 120


def test_the_gate_names_each_finding_and_the_override() -> None:
    index = RiskFinding(
        alias="default",
        migration="blog.0002_post_slug",
        operation=1,
        description="Add field slug to post",
        rule="require-concurrent-index-creation",
        level="warning",
        message="m",
        safer="s",
        table='"blog_post"',
        rows=200_000,
    )
    timeout = RiskFinding(
        alias="default",
        migration="",
        operation=0,
        description="every migration on default",
        rule="require-lock-timeout",
        level="warning",
        message="m",
        safer="s",
        table='"blog_post"',
        rows=None,
    )
    options = RunOptions(risk_gate="warning")
    # Two indexes of one AddField (the _like one on PostgreSQL): one line, counted.
    assert gate.message((index, index, timeout), "warning", options, "migrator") == (
        "The lock-risk gate (--max-risk warning) refuses this plan: 3 findings at or above "
        "warning; nothing was changed on any database:\n"
        "  warning default: blog.0002_post_slug #1 (Add field slug to post): "
        'require-concurrent-index-creation on "blog_post" (~200,000 rows) (2 statements)\n'
        '  warning default: every migration on default: require-lock-timeout on "blog_post" '
        "(rows unknown)\n"
        "See them with 'manage.py migrator --risk'. Make the migrations safer, or run anyway "
        "with --accept-risk."
    )
    assert (
        gate.Gate(RunOptions(risk_gate="warning", fake=True)).level(conf.MigratorSettings()) is None
    )
    assert (
        gate.Gate(RunOptions(risk_gate="danger", accept_risk=True)).level(conf.MigratorSettings())
        is None
    )
    assert gate.Gate(RunOptions(risk_gate="danger")).level(conf.MigratorSettings()) == "danger"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "MIGRATOR['RISK'] = [] must be a dict, e.g. {'DANGER_ROWS': 1_000_000, 'GATE': 'danger'}."),
        ({"DANGER": 1}, "MIGRATOR['RISK'] has unknown key 'DANGER'; the keys are WARNING_ROWS, DANGER_ROWS, WARNING_BYTES, DANGER_BYTES, GATE."),
        ({"DANGER_ROWS": -1}, "MIGRATOR['RISK']['DANGER_ROWS'] = -1 must be a whole number, 0 or more; use e.g. 'DANGER_ROWS': 1000000."),
        ({"WARNING_ROWS": 10, "DANGER_ROWS": 5}, "MIGRATOR['RISK']['WARNING_ROWS'] = 10 is more than DANGER_ROWS = 5; a warning starts below a danger."),
        ({"GATE": "high"}, "MIGRATOR['RISK']['GATE'] = 'high' must be None (no gate), 'danger' or 'warning': a run refuses a plan with a lock-risk finding at or above that level."),
    ],
)  # fmt: skip
def test_risk_settings_are_validated(value: object, message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        conf.risk(value)
    assert str(refused.value) == message


def test_risk_settings() -> None:
    assert conf.risk(None) == RiskThresholds()
    assert conf.risk({"DANGER_ROWS": 10**7, "GATE": "warning"}) == RiskThresholds(
        danger_rows=10**7, gate="warning"
    )
