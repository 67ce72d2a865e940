"""The parity harness's comparison rule, without a database: what counts as a difference, and the
message the implementers debug with."""

from __future__ import annotations

from pathlib import Path

from tests.parity.harness import Scenario, Snapshot, parity_problems, sqlite_snapshot

SCENARIO = Scenario("example", ("default", "auth_db", "other"), empty=("default",))

RECORDED = Snapshot(
    tables=frozenset({"django_migrations"}),
    migrations=frozenset({("shop", "0001_initial")}),
)
MIGRATED = Snapshot(
    tables=frozenset({"django_migrations", "shop_order", "parity_ran"}),
    migrations=frozenset({("shop", "0001_initial"), ("shop", "0002_mark")}),
    content_types=frozenset({("shop", "order")}),
    permissions=frozenset({("shop", "add_order")}),
    ran=("shop.0002_mark",),
)


def test_the_same_snapshots_agree() -> None:
    both = {"auth_db": MIGRATED, "other": MIGRATED}
    assert parity_problems(SCENARIO, both, both) == []


def test_an_alias_where_django_only_recorded_may_stay_untouched() -> None:
    # By design: Django's loop creates django_migrations and records on every alias;
    # migrate_all never touches an alias the routers send nothing to.
    django = {"auth_db": MIGRATED, "other": RECORDED}
    ours = {"auth_db": MIGRATED, "other": Snapshot()}
    assert parity_problems(SCENARIO, django, ours) == []


def test_an_untouched_alias_where_django_executed_something_is_a_difference() -> None:
    django = {"auth_db": MIGRATED, "other": MIGRATED}
    ours = {"auth_db": MIGRATED, "other": Snapshot()}
    assert parity_problems(SCENARIO, django, ours) == [
        "other: migrate_all never touched it, but Django's loop executed something there:",
        "  tables only after Django's loop: parity_ran, shop_order",
        "  content types only after Django's loop: shop.order",
        "  permissions only after Django's loop: shop.add_order",
        "  data migrations that ran only in Django's loop: shop.0002_mark",
    ]


def test_every_difference_on_a_touched_alias_is_named_on_its_side() -> None:
    ours = Snapshot(
        tables=frozenset({"django_migrations", "shop_order", "parity_ran"}),
        views=frozenset({"shop_totals"}),
        migrations=frozenset({("shop", "0001_initial")}),
        ran=("shop.0002_mark", "shop.0002_mark"),
    )
    assert parity_problems(SCENARIO, {"auth_db": MIGRATED, "other": RECORDED}, {
        "auth_db": ours,
        "other": RECORDED,
    }) == [
        "auth_db: migrate_all left it other than Django's loop did:",
        "  views only after migrate_all: shop_totals",
        "  django_migrations rows only after Django's loop: shop.0002_mark",
        "  content types only after Django's loop: shop.order",
        "  permissions only after Django's loop: shop.add_order",
        "  data migrations that ran only in migrate_all: shop.0002_mark",
    ]  # fmt: skip


def test_a_missing_sqlite_file_is_an_empty_snapshot_and_stays_missing(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    assert sqlite_snapshot(path) == Snapshot()
    assert not path.exists()
