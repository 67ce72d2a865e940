"""The menu's entries, driven through the real questionary prompts; outcomes read from the databases."""

from __future__ import annotations

import re
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core import checks as django_checks
from django.test import override_settings

import migrator
from migrator.backends import sqlite as sqlite_backend
from tests.commands.test_doctor import CROSSDB
from tests.commands.test_migrate_all import EXPECTED_RECORDED
from tests.commands.test_system_checks import users_db_says
from tests.conftest import PASSWORD, aliases_pointed_at, sqlite_entry
from tests.helpers import ALIASES, recorded, run, summary_rows, table_rows, tables
from tests.integration.test_preflight_settings import folder_taking_no_new_file
from tests.interactive.driver import CTRL_C, DOWN, ENTER, TOP, MenuDriver, top

# Two warnings (W002, W004) and two errors (E004: crossdb's keys to other aliases).
ROUTING_MISTAKES = {
    "DATABASE_ROUTERS": [
        "tests.routers.BlogOnReplicaRouter",
        "tests.routers.CacheWritesToDefaultRouter",
        "testproject.routers.ReplicaRouter",
        "testproject.routers.AppLabelRouter",
    ],
    **CROSSDB,
}


def status_rows(out: str) -> dict[str, dict[str, str]]:
    """The status table, by alias."""
    return table_rows(out, "Status")


def counts(out: str) -> dict[str, tuple[str, str]]:
    return {alias: (row["applied"], row["pending"]) for alias, row in status_rows(out).items()}


def test_status_shows_every_alias_with_its_counts(menu: MenuDriver, sqlite_project: Path) -> None:
    out, err, code = menu(ENTER, CTRL_C)
    assert (err, code) == ("", 0)
    assert out.splitlines()[0] == "115 migrations pending on 5 databases."
    # Pending counts the migrations to run and those only to record (Django's migrate --check).
    assert counts(out) == {
        "default": ("0", "23"),
        "users_db": ("0", "23"),
        "analytics_db": ("0", "23"),
        "legacy_db": ("0", "23"),
        "cache_db": ("0", "23"),
        "read_replica": ("-", "-"),
    }
    users = status_rows(out)["users_db"]
    assert users["database"] == str(sqlite_project / "users_db.sqlite3")
    assert (users["reachable"], users["read-only"]) == ("yes", "no")
    assert users["vendor"].startswith("sqlite 3.")
    assert "read_replica: no app is routed here; never connected to." in out
    assert list(sqlite_project.iterdir()) == []  # looking creates no database file

    run("migrate_all", databases=["users_db"])
    run("migrate_all", target="blog:0001")
    out, _, code = menu(ENTER, CTRL_C)
    assert code == 0
    # Every row recorded there counts as applied, those only recorded included, as in
    # Django's showmigrations: applied + pending is every migration of the project.
    assert counts(out)["users_db"] == ("23", "0")
    # blog.0001 on default, and users.0001_initial recorded there as its dependency.
    assert counts(out)["default"] == ("2", "21")
    assert out.splitlines()[-1] == "90 migrations pending on 4 databases."


def test_status_names_an_unreachable_database_without_its_password(menu: MenuDriver) -> None:
    down = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "users",
        "HOST": "127.0.0.1",
        "PORT": "1",
        "PASSWORD": PASSWORD,
        "OPTIONS": {"connect_timeout": 2},
    }
    with aliases_pointed_at({"users_db": down}):
        out, err, code = menu(ENTER, CTRL_C)
    assert (err, code) == ("", 0)
    users = status_rows(out)["users_db"]
    assert (users["database"], users["reachable"]) == ("127.0.0.1:1/users", "no")
    assert (users["applied"], users["pending"]) == ("?", "?")
    assert "users_db: cannot connect: " in out
    assert out.splitlines()[-1] == (
        "92 migrations pending on 4 databases. State unknown on users_db."
    )
    assert PASSWORD not in out


def test_show_plan_is_the_plan_command(menu: MenuDriver) -> None:
    out, _, code = menu(top("Show plan"), CTRL_C)
    assert code == 0
    plan, _, _ = run("migrate_all", plan_only=True)
    assert out.splitlines()[1:] == plan.splitlines()


def test_review_lock_risk_is_the_risk_command(menu: MenuDriver) -> None:
    out, _, code = menu(top("Review lock risk"), CTRL_C)
    assert code == 0
    review, _, _ = run("migrate_all", risk=True)
    assert out.splitlines()[1:] == review.splitlines()
    assert review.splitlines()[0] == "Lock-risk review: 0 migrations on 0 databases, 0 findings."


def test_migrate_one_database_migrates_exactly_that_alias(
    menu: MenuDriver, sqlite_project: Path
) -> None:
    out, err, code = menu(top("Migrate one database"), DOWN, ENTER, "y", CTRL_C)
    assert (err, code) == ("", 0)
    assert menu.choices("Which database?") == [
        "default       23 pending",
        "users_db      23 pending",
        "analytics_db  23 pending",
        "legacy_db     23 pending",
        "cache_db      23 pending",
        "read_replica (no app is routed here)",
    ]
    assert "Run 2 migrations, record 21 on 1 database?" in menu.messages()
    assert "  Applied users.0002_user_is_active" in out
    assert "Done: 2 migrations applied, 21 only recorded on 1 database." in out
    assert sorted(p.name for p in sqlite_project.iterdir()) == ["users_db.sqlite3"]
    assert recorded("users_db") == EXPECTED_RECORDED["users_db"]
    assert tables("users_db") == {"django_migrations", "users_user"}

    menu(top("Migrate one database"), CTRL_C, CTRL_C)
    assert "users_db      nothing to do" in menu.choices("Which database?")


def test_a_pending_dependency_is_offered_and_declining_refuses(
    menu: MenuDriver, sqlite_project: Path
) -> None:
    out, _, code = menu(top("Migrate one database"), ENTER, "n", CTRL_C)
    assert code == 0
    assert "default depends on: users@users_db (2 migrations pending)." in out
    assert menu.messages()[2] == "Include users@users_db (2 migrations) and migrate it first?"
    assert (
        "Not migrated: default depends on users@users_db, which has 2 pending migrations. "
        "Migrate it first or include it; nothing was changed."
    ) in out
    assert list(sqlite_project.iterdir()) == []

    out, _, code = menu(top("Migrate one database"), ENTER, "y", "y", CTRL_C)
    assert code == 0
    # auth.0006_require_contenttypes_0002 has no operation: only recorded on default too.
    assert "Run 18 migrations, record 28 on 2 databases?" in menu.messages()
    assert "Done: 18 migrations applied, 28 only recorded on 2 databases." in out
    assert recorded("users_db") == EXPECTED_RECORDED["users_db"]
    assert recorded("default") == EXPECTED_RECORDED["default"]
    assert sorted(p.name for p in sqlite_project.iterdir()) == [
        "default.sqlite3",
        "users_db.sqlite3",
    ]


def test_migrate_one_app_shows_where_it_goes(menu: MenuDriver, sqlite_project: Path) -> None:
    cache = len(["contenttypes", "auth", "users", "blog", "shop", "analytics", "legacy"])
    out, _, code = menu(top("Migrate one app"), DOWN * cache, ENTER, "y", CTRL_C)
    assert code == 0
    assert menu.choices("Which app?")[-1] == "cache         on cache_db: 1 pending"
    assert "The routers send cache to cache_db." in out
    assert recorded("cache_db") == {"cache.0001_initial"}
    assert sorted(p.name for p in sqlite_project.iterdir()) == ["cache_db.sqlite3"]


def test_nothing_to_do_asks_nothing(menu: MenuDriver) -> None:
    run("migrate_all")
    keys = [top("Migrate everything"), top("Migrate one database", "Migrate everything"), DOWN]
    out, _, code = menu(*keys, ENTER, CTRL_C)
    assert code == 0
    assert "Nothing to migrate: every database is up to date." in out
    assert "Nothing to migrate: users_db is up to date." in out
    assert menu.messages() == ["What next?", "What next?", "Which database?", "What next?"]


def test_runs_from_the_menu_take_parallel(menu: MenuDriver) -> None:
    out, err, code = menu(top("Migrate everything"), "y", CTRL_C, parallel="3")
    assert (err, code) == ("", 0)
    assert "[users_db]   Applied users.0002_user_is_active" in out
    assert out.splitlines()[-1] == "Done: 22 migrations applied, 93 only recorded on 5 databases."
    for alias, expected in EXPECTED_RECORDED.items():
        assert recorded(alias) == expected, alias


@pytest.mark.parametrize("answer", ["n", ENTER])  # Enter takes the default: No
def test_declining_a_confirmation_changes_nothing(
    menu: MenuDriver, sqlite_project: Path, answer: str
) -> None:
    out, err, code = menu(top("Migrate everything"), answer, CTRL_C)
    assert (err, code) == ("", 0)
    assert "Run 22 migrations, record 93 on 5 databases?" in menu.messages()
    assert "Not migrated; nothing was changed." in out
    assert "Migrating" not in out
    assert list(sqlite_project.iterdir()) == []


def test_ctrl_c_at_any_prompt_goes_back_and_changes_nothing(
    menu: MenuDriver, sqlite_project: Path
) -> None:
    run("migrate_all", databases=["default"])
    before = recorded("default")
    keys = [
        top("Migrate everything"),
        CTRL_C,  # at "Run ... ?"
        top("Migrate one database", "Migrate everything"),
        CTRL_C,  # at the list of databases
        top("Roll an app back to a migration", "Migrate one database"),
        ENTER,  # contenttypes
        CTRL_C,  # at the list of its migrations
        ENTER,  # Roll back again
        DOWN * 2 + ENTER,  # blog (users, with nothing applied, cannot be chosen)
        DOWN + ENTER,  # 0001_initial
        CTRL_C,  # at "Type the app label"
        CTRL_C,  # at the top: exit
    ]
    out, err, code = menu(*keys)
    assert (err, code) == ("", 0)
    assert menu.messages() == [
        "What next?",
        "Run 6 migrations, record 86 on 4 databases?",
        "What next?",
        "Which database?",
        "What next?",
        "Roll back which app?",
        "Roll contenttypes back to which migration?",
        "What next?",
        "Roll back which app?",
        "Roll blog back to which migration?",
        "Type the app label (blog) to roll it back:",
        "What next?",
    ]
    assert "Migrating" not in out
    assert sorted(p.name for p in sqlite_project.iterdir()) == ["default.sqlite3"]
    assert recorded("default") == before


def test_roll_back_unapplies_exactly_the_later_migrations(menu: MenuDriver) -> None:
    run("migrate_all")
    blog = DOWN * 3 + ENTER  # contenttypes, auth, users, blog
    out, _, code = menu(top("Roll an app back to a migration"), blog, DOWN, ENTER, "blo\r", CTRL_C)
    assert code == 0
    assert menu.choices("Roll blog back to which migration?") == [
        "0002_post_slug (latest applied)",
        "0001_initial",
        "zero (unapply every blog migration)",
    ]
    assert "On default this unapplies blog.0002_post_slug." in out
    assert "Not rolled back: 'blo' is not 'blog'; nothing was changed." in out
    assert recorded("default") == EXPECTED_RECORDED["default"]

    out, _, code = menu(top("Roll an app back to a migration"), blog, DOWN, ENTER, "blog\r", CTRL_C)
    assert code == 0
    assert "  Unapplied blog.0002_post_slug" in out
    assert recorded("default") == EXPECTED_RECORDED["default"] - {"blog.0002_post_slug"}
    assert "blog_post" in tables("default")
    for alias in ("users_db", "analytics_db", "legacy_db", "cache_db"):
        assert recorded(alias) == EXPECTED_RECORDED[alias], alias

    zero = DOWN + ENTER  # 0001_initial (latest applied), zero
    out, _, code = menu(top("Roll an app back to a migration"), blog, zero, "blog\r", CTRL_C)
    assert code == 0
    assert "On default this unapplies blog.0001_initial." in out
    assert recorded("default") == EXPECTED_RECORDED["default"] - {
        "blog.0001_initial",
        "blog.0002_post_slug",
    }
    assert "blog_post" not in tables("default")
    assert "shop_order" in tables("default")


def test_database_and_app_options_preselect(menu: MenuDriver, sqlite_project: Path) -> None:
    out, _, code = menu(ENTER, ENTER, "y", CTRL_C, databases=["cache_db"])
    assert code == 0
    assert recorded("cache_db") == EXPECTED_RECORDED["cache_db"]
    out, _, code = menu(ENTER, ENTER, "y", CTRL_C, apps=["legacy"])
    assert code == 0
    assert "The routers send legacy to legacy_db." in out
    assert recorded("legacy_db") == {"legacy.0001_initial"}
    assert sorted(p.name for p in sqlite_project.iterdir()) == [
        "cache_db.sqlite3",
        "legacy_db.sqlite3",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"target": "blog:0001"},
            "--target works with --auto only; in the menu choose 'Roll an app back to a "
            "migration'.",
        ),
        (
            {"create_schemas": True},
            "--create-schemas works with --auto only; the menu offers 'Create missing "
            "schemas/databases' when preflight finds something missing.",
        ),
        (
            {"databases": ["nope"]},
            "--database nope: no such alias in DATABASES. Known aliases: "
            + ", ".join(ALIASES)
            + ".",
        ),
    ],
)
def test_options_the_menu_cannot_take_are_refused(
    menu: MenuDriver, sqlite_project: Path, options: dict[str, object], message: str
) -> None:
    out, err, code = menu(**options)
    assert (out, err, code) == ("", f"CommandError: {message}\n", 2)
    assert list(sqlite_project.iterdir()) == []


def test_create_missing_folder(menu: MenuDriver, sqlite_project: Path) -> None:
    folder = sqlite_project / "cache"
    entries = [*TOP[:7], "Create missing schemas/databases", *TOP[7:]]
    with aliases_pointed_at({"cache_db": sqlite_entry(folder / "cache_db.sqlite3")}):
        keys = [
            top("Migrate everything", entries=entries),
            top("Create missing schemas/databases", "Migrate everything", entries),
        ]
        out, _, code = menu(*keys, "n", CTRL_C)
        assert code == 0
        assert menu.choices("What next?") == entries
        assert (
            f"  cache_db -> folder '{folder}' does not exist; run with --create-schemas to create "
            "it, or fix the NAME path.\n'Create missing schemas/databases' creates what is missing."
        ) in out
        assert f"Would create folder '{folder}' for cache_db." in out
        assert "Nothing was created." in out
        assert not folder.exists()

        out, _, code = menu(top("Create missing schemas/databases", entries=entries), "y", CTRL_C)
        assert code == 0
        assert f"Created folder '{folder}' for cache_db." in out
        assert folder.is_dir()
        assert list(folder.iterdir()) == []  # the folder only: migrating is another choice
        assert menu.choices("What next?")[-3:] == ["Check routing", "Check schema drift", "Exit"]
        assert len(menu.asked[-1].choices) == len(TOP)  # the entry is gone


@override_settings(MIGRATION_MODULES={"users": "tests.fixtures.interrupting_users_migrations"})
def test_ctrl_c_during_a_run_stops_after_the_current_migration(
    menu: MenuDriver, sqlite_project: Path
) -> None:
    handler = signal.getsignal(signal.SIGINT)
    out, err, code = menu(top("Migrate everything"), "y", CTRL_C)
    assert code == 0
    assert err == "Ctrl-C: stopping after the current migration. Ctrl-C again stops at once.\n"
    assert "  Applied users.0001_initial" in out
    assert "Applied users.0002_user_is_active" not in out
    assert out.splitlines()[-6:] == [
        "Interrupted: 3 migrations applied; 4 steps not started. Run again to continue; nothing "
        "is repeated.",
        "  users_db (users) interrupted: Interrupted: stopped by SIGINT before "
        "users.0002_user_is_active",
        "  analytics_db (analytics) skipped: not started: the run was interrupted",
        "  legacy_db (legacy) skipped: not started: the run was interrupted",
        "  cache_db (cache) skipped: not started: the run was interrupted",
        "  default (auth, blog, shop) skipped: depends on users_db (users), which was interrupted",
    ]
    rows = summary_rows(out)
    assert {alias: (row["applied"], row["status"]) for alias, row in rows.items()} == {
        "default": ("2", "skipped"),
        "users_db": ("1", "interrupted"),
        "analytics_db": ("0", "skipped"),
        "legacy_db": ("0", "skipped"),
        "cache_db": ("0", "skipped"),
    }
    assert recorded("users_db") == {"users.0001_initial"}  # the migration ran to its end
    assert recorded("default") == {
        "contenttypes.0001_initial",
        "contenttypes.0002_remove_content_type_name",
    }
    assert not (sqlite_project / "analytics_db.sqlite3").exists()
    assert not list(sqlite_project.glob("*.migrator-lock"))
    assert signal.getsignal(signal.SIGINT) is handler  # Ctrl-C means KeyboardInterrupt again
    # The lock was released at once: a second run that must take it does not wait.
    _, err, code = run("migrate_all", databases=["users_db"], force_migrate=True, lock_timeout="0")
    assert (err, code) == ("", 0)
    assert recorded("users_db") == EXPECTED_RECORDED["users_db"]


def test_check_routing_is_the_doctor(menu: MenuDriver) -> None:
    out, _, code = menu(top("Check routing"), CTRL_C)
    assert code == 0
    assert out.splitlines()[1:] == ["Routing doctor: no problems found on 6 databases."]
    with override_settings(**ROUTING_MISTAKES):
        out, _, code = menu(top("Check routing"), CTRL_C)
        doctor, _, _ = run("migrator", doctor=True)
    assert code == 0
    assert out.splitlines()[1:] == doctor.splitlines()
    assert "  warning migrator.W004 cache.CacheEntry" in out
    assert "  error migrator.E004 crossdb.Review.post" in out


def test_check_schema_drift_is_drift_with_a_confirmed_repair(
    menu: MenuDriver, sqlite_project: Path
) -> None:
    out, _, code = menu(top("Check schema drift"), CTRL_C)
    assert code == 0
    drift_out, _, _ = run("migrator", drift=True)
    assert out.splitlines()[1:] == drift_out.splitlines()  # nothing migrated: nothing to compare

    run("migrate_all")
    with sqlite3.connect(sqlite_project / "cache_db.sqlite3") as db:
        db.execute("DROP TABLE cache_cacheentry")
    db.close()
    out, _, code = menu(top("Check schema drift"), "n", CTRL_C)
    assert code == 0
    assert "Nothing was changed." in out
    assert recorded("cache_db") == EXPECTED_RECORDED["cache_db"]
    out, _, code = menu(top("Check schema drift"), "y", CTRL_C)
    assert code == 0
    assert "Repaired cache_db: unrecorded cache.0001_initial." in out
    # The rows only recorded there stay: none of them depends on cache.0001_initial.
    assert recorded("cache_db") == EXPECTED_RECORDED["cache_db"] - {"cache.0001_initial"}


@override_settings(**ROUTING_MISTAKES)
def test_routing_errors_keep_the_menu_closed_unless_skipped(
    menu: MenuDriver, sqlite_project: Path
) -> None:
    out, err, code = menu(skip_checks=False)
    assert (out, code) == ("", 2)
    assert err.startswith(
        "CommandError: The routing doctor found 2 errors, so nothing was started:\n"
        "  migrator.E004 crossdb.Review.post: "
    )
    assert err.endswith("or pass --skip-checks to run anyway.\n")
    assert list(sqlite_project.iterdir()) == []


def test_database_checks_run_before_a_menu_run_only(
    menu: MenuDriver, sqlite_project: Path, register_check: Callable[..., None]
) -> None:
    register_check(users_db_says(django_checks.Error), django_checks.Tags.database)
    # Opening the menu runs the checks without the databases: no database file is created.
    out, err, code = menu(top("Show plan"), CTRL_C, skip_checks=False)
    assert (err, code) == ("", 0)
    assert "  analytics_db (sqlite " in out
    assert list(sqlite_project.iterdir()) == []
    # A run checks the databases it migrates once preflight has passed, and stops on an error.
    out, err, code = menu(top("Migrate everything"), "y", CTRL_C, skip_checks=False)
    assert code == 0
    assert (
        "System check identified some issues on default, users_db, analytics_db, legacy_db, "
        "cache_db:\n\nERRORS:\n?: (tests.D001) users_db cannot take this.\n\tHINT: Upgrade it.\n"
        "Fix them, or pass --skip-checks to run anyway; nothing was migrated.\n"
    ) in out
    assert all(recorded(alias) == set() for alias in ALIASES)


def test_only_the_menu_imports_questionary() -> None:
    package = Path(migrator.__file__).parent
    importers = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if re.search(r"^\s*(import|from) (questionary|prompt_toolkit)\b", path.read_text(), re.M)
    }
    assert importers == {"cli/prompts.py"}
    # ... which only the menu imports, and the menu is imported only when it opens.
    prompts_importers = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if re.search(r"^\s*from migrator\.cli\.prompts import", path.read_text(), re.M)
    }
    assert prompts_importers == {"cli/menu.py"}


def test_a_menu_run_tries_the_sqlite_folder_for_real(
    menu: MenuDriver, sqlite_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The menu shows a plan prepared without writing anything (permission bits only); once a
    run is confirmed, preflight tries a file in each SQLite folder as migrate_all does, so a
    folder that takes no new file stops the run before its first migration, also where the
    permission bits say yes (NFS root_squash, SELinux: simulated by the bits' answer)."""
    monkeypatch.setattr(sqlite_backend, "_folder_denies_files", lambda folder: "")
    folder = sqlite_project / "locked"
    folder.mkdir()
    database = folder / "users.sqlite3"
    database.touch()
    with (
        aliases_pointed_at({"users_db": sqlite_entry(database)}),
        folder_taking_no_new_file(folder) as reason,
    ):
        out, err, code = menu(top("Migrate one database"), DOWN, ENTER, "y", CTRL_C)
    assert (err, code) == ("", 0), out
    assert "Run 2 migrations, record 21 on 1 database?" in menu.messages(), out
    assert f"cannot create files in the folder {folder} ({reason})" in out
    assert "Applied" not in out
    assert database.read_bytes() == b""
