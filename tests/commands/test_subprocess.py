"""The commands as an operator runs them: ``python testproject/manage.py ...`` in a child process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.commands.test_migrate_all import EXPECTED_RECORDED
from tests.helpers import REPO, URL_PASSWORD, manage, sqlite_recorded, sqlite_tables

PASSWORD = URL_PASSWORD


def env_for(tmp_path: Path) -> dict[str, str]:
    """Every alias of the testproject on an SQLite file in ``tmp_path``."""
    return {"MIGRATOR_VAR_DIR": str(tmp_path)}


def test_migrate_all_in_a_child_process(tmp_path: Path) -> None:
    result = manage("migrate_all", "--noinput", env=env_for(tmp_path))
    assert (result.returncode, result.stderr) == (0, "")
    assert (
        result.stdout.splitlines()[-1]
        == "Done: 22 migrations applied, 93 only recorded on 5 databases."
    )
    assert sqlite_tables(tmp_path / "users_db.sqlite3") == {"django_migrations", "users_user"}
    assert "users_user" not in sqlite_tables(tmp_path / "default.sqlite3")
    # Every migration is recorded on cache_db, as migrate --database cache_db records them.
    assert "users.0001_initial" in sqlite_recorded(tmp_path / "cache_db.sqlite3")
    assert sqlite_recorded(tmp_path / "cache_db.sqlite3") == sqlite_recorded(
        tmp_path / "default.sqlite3"
    )
    assert not (tmp_path / "read_replica.sqlite3").exists()

    again = manage("migrator", "--auto", env=env_for(tmp_path))
    assert again.returncode == 0
    assert again.stdout.splitlines()[-1] == "Done: 0 migrations applied on 5 databases."

    check = manage("migrate_all", "--check", env=env_for(tmp_path))
    assert (check.returncode, check.stdout.splitlines()[0]) == (
        0,
        "All 5 databases up to date: every migration file on disk is recorded (checked without "
        "loading the migration graph).",
    )


def test_exit_codes_and_messages(tmp_path: Path) -> None:
    check = manage("migrate_all", "--check", "--verbosity", "0", env=env_for(tmp_path))
    assert check.returncode == 1
    assert check.stdout == ""
    assert check.stderr == (
        "CommandError: 115 migrations pending on analytics_db, cache_db, default, legacy_db, "
        "users_db (93 of them only to record: they execute nothing there, but Django's migrate "
        "--check counts them). Run 'manage.py migrate_all' to apply them.\n"
    )
    bad = manage("migrate_all", "--database", "nope", env=env_for(tmp_path))
    assert bad.returncode == 2
    assert bad.stderr.startswith("CommandError: --database nope: no such alias in DATABASES.")
    usage = manage("migrate_all", "--bogus", env=env_for(tmp_path))
    assert usage.returncode == 2
    assert "unrecognized arguments: --bogus" in usage.stderr
    assert list(tmp_path.iterdir()) == []


def test_migrator_without_terminal_asks_for_auto(tmp_path: Path) -> None:
    result = manage("migrator", env=env_for(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        "CommandError: migrator: no terminal for the interactive menu. Pass --auto to plan and "
        "migrate every database without it (or use 'manage.py migrate_all').\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_password_from_a_url_never_printed(tmp_path: Path) -> None:
    # users_db points at a PostgreSQL port where nothing listens: the error must not leak the password.
    env = {
        **env_for(tmp_path),
        "MIGRATOR_DB_USERS_DB": f"postgres://app:{PASSWORD}@127.0.0.1:1/users?connect_timeout=2",
    }
    for args in (("migrate_all",), ("migrate_all", "--plan", "--json"), ("migrate_all", "-v", "3")):
        result = manage(*args, env=env)
        assert result.returncode == 1, result.stderr
        assert "users_db (postgresql 127.0.0.1:1/users)" in result.stderr
        assert PASSWORD not in result.stdout
        assert PASSWORD not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_routing_doctor_in_a_child_process(tmp_path: Path) -> None:
    clean = manage("migrate_all", "--doctor", env=env_for(tmp_path))
    assert (clean.returncode, clean.stdout, clean.stderr) == (
        0,
        "Routing doctor: no problems found on 6 databases.\n",
        "",
    )
    graph = manage("migrate_all", "--graph", env=env_for(tmp_path))
    assert (graph.returncode, graph.stderr) == (0, "")
    assert graph.stdout.splitlines()[:3] == [
        "flowchart LR",
        "  %% django-migrator: A --> B means B migrates after A; thick red arrows cross databases",
        '  subgraph default["default"]',
    ]
    dot = manage("migrator", "--graph=dot", env=env_for(tmp_path))
    assert (dot.returncode, dot.stdout.splitlines()[1]) == (0, "digraph migrator {")
    assert list(tmp_path.iterdir()) == []


def test_routing_error_refuses_the_run_in_a_child_process(tmp_path: Path) -> None:
    env = {**env_for(tmp_path), "DJANGO_SETTINGS_MODULE": "tests.settings.cross_database_key"}
    refused = manage("migrate_all", "--noinput", env=env)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.startswith(
        "CommandError: The routing doctor found 2 errors, so nothing was started:\n"
        "  migrator.E004 crossdb.Review.post: crossdb.Review.post is a ForeignKey to blog.Post "
    )
    assert refused.stderr.endswith(
        "Fix them ('manage.py migrate_all --doctor' lists every finding), or pass --skip-checks "
        "to run anyway.\n"
    )
    assert list(tmp_path.iterdir()) == []

    doctor = manage("migrator", "--doctor", env=env)
    assert doctor.returncode == 1
    assert doctor.stdout.splitlines()[:3] == [
        "Routing doctor: 2 errors on 6 databases.",
        "cache_db",
        "  error migrator.E004 crossdb.Review.post",
    ]
    assert doctor.stderr == (
        "CommandError: The routing doctor found 2 errors (migrator.E004). migrator refuses to "
        "migrate until they are fixed (or --skip-checks is passed).\n"
    )

    skipped = manage("migrate_all", "--skip-checks", "--plan", env=env)
    assert skipped.returncode == 0
    assert skipped.stdout.startswith("Plan: ")
    assert list(tmp_path.iterdir()) == []

    # Django's own check last: from Django 6.1 on it connects to every alias a model with a
    # JSONField is routed to (analytics_db's file appears).
    check = manage("check", env=env)
    assert check.returncode == 1
    assert "crossdb.Review.post: (migrator.E004) crossdb.Review.post is a ForeignKey" in (
        check.stderr
    )


def test_django_commands_work_with_routers_that_define_only_allow_migrate(tmp_path: Path) -> None:
    # Reads and writes are chosen with .using(): the doctor warns (W004/W005), never stops Django.
    env = {**env_for(tmp_path), "DJANGO_SETTINGS_MODULE": "tests.settings.allow_migrate_only"}
    warned = [
        "DATABASE_ROUTERS: (migrator.W004) No router defines db_for_write",
        "DATABASE_ROUTERS: (migrator.W005) No router defines db_for_read",
    ]

    def warnings(stderr: str) -> list[str]:
        return [line.partition(", so ")[0] for line in stderr.splitlines() if ": (" in line]

    check = manage("check", env=env)
    assert (check.returncode, check.stdout) == (0, "")
    assert warnings(check.stderr) == warned
    assert check.stderr.endswith("System check identified 2 issues (0 silenced).\n")

    migrate = manage("migrate", "--database", "users_db", env=env)
    assert migrate.returncode == 0
    assert warnings(migrate.stderr) == warned
    assert sqlite_tables(tmp_path / "users_db.sqlite3") == {"django_migrations", "users_user"}

    makemigrations = manage("makemigrations", "--check", "--dry-run", env=env)
    assert (makemigrations.returncode, makemigrations.stdout) == (0, "No changes detected\n")

    test = manage("test", "users", "--noinput", env=env)  # runs the checks after creating test DBs
    assert test.returncode == 0
    assert warnings(test.stderr) == warned
    ran, blank, ok = test.stderr.splitlines()[-3:]
    # unittest says "NO TESTS RAN" for zero tests from Python 3.12 on.
    nothing = "NO TESTS RAN" if sys.version_info >= (3, 12) else "OK"
    assert (ran.startswith("Ran 0 tests in "), blank, ok) == (True, "", nothing)

    doctor = manage("migrate_all", "--doctor", env=env)
    assert (doctor.returncode, doctor.stderr) == (0, "")
    assert doctor.stdout.splitlines()[:3] == [
        "Routing doctor: 2 warnings on 6 databases.",
        "default",
        "  warning migrator.W004 DATABASE_ROUTERS",
    ]

    # migrate_all prints the warnings and runs.
    run = manage("migrate_all", "--noinput", env=env)
    assert run.returncode == 0
    assert warnings(run.stderr) == warned
    # users_db already has Django's history from its migrate above: nothing to do there.
    assert (
        run.stdout.splitlines()[-1]
        == "Done: 20 migrations applied, 72 only recorded on 5 databases."
    )
    for alias in ("default", "users_db", "analytics_db", "legacy_db", "cache_db"):
        assert sqlite_recorded(tmp_path / f"{alias}.sqlite3") == EXPECTED_RECORDED[alias], alias


def test_makemigrations_creates_the_missing_migration_module(tmp_path: Path) -> None:
    # MIGRATION_MODULES names migrator_scratch.legacy_migrations; only migrator_scratch exists.
    scratch = tmp_path / "code" / "migrator_scratch"
    scratch.mkdir(parents=True)
    (scratch / "__init__.py").write_text("")
    data = tmp_path / "data"
    data.mkdir()
    env = {
        **env_for(data),
        "DJANGO_SETTINGS_MODULE": "tests.settings.scratch_migration_module",
        "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path / 'code'}",
    }
    message = (
        "MIGRATION_MODULES['legacy'] = 'migrator_scratch.legacy_migrations' cannot be imported "
        "(ModuleNotFoundError: No module named 'migrator_scratch.legacy_migrations'): Django's "
        "migrate fails on it, so migrate_all refuses to run."
    )
    fix = (
        "Run 'manage.py makemigrations legacy' to create the package, correct the module path, "
        "or set MIGRATION_MODULES['legacy'] = None to disable legacy's migrations."
    )

    deploy = manage("check", "--deploy", "--tag", "migrator", env=env)
    assert deploy.returncode == 1
    assert f"legacy: (migrator.E008) {message}\n\tHINT: {fix}\n" in deploy.stderr

    # Refused before any database is touched, with or without the checks.
    refused = manage("migrate_all", "--noinput", env=env)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert f"  migrator.E008 legacy: {message}\n    Fix: {fix}\n" in refused.stderr
    skipped = manage("migrate_all", "--noinput", "--skip-checks", env=env)
    assert (skipped.returncode, skipped.stdout, skipped.stderr) == (
        2,
        "",
        f"CommandError: {message} {fix}\n",
    )
    assert list(data.iterdir()) == []
    # Not in the checks every command runs (makemigrations creates that package). Django's own
    # check from Django 6.1 on connects to every alias a model with a JSONField is routed to.
    check = manage("check", env=env)
    assert (check.returncode, check.stdout, check.stderr) == (
        0,
        "System check identified no issues (0 silenced).\n",
        "",
    )
    # As Django's own migrate fails on it.
    django_migrate = manage("migrate", "--database", "legacy_db", env=env)
    assert django_migrate.returncode == 1
    assert "ModuleNotFoundError: No module named 'migrator_scratch.legacy_migrations'" in (
        django_migrate.stderr
    )

    made = manage("makemigrations", "legacy", env=env)
    assert (made.returncode, made.stderr) == (0, "")
    assert made.stdout.splitlines()[0] == "Migrations for 'legacy':"
    assert (scratch / "legacy_migrations" / "0001_initial.py").is_file()

    run = manage("migrate_all", "--noinput", env=env)
    assert (run.returncode, run.stderr) == (0, "")
    assert sqlite_recorded(data / "legacy_db.sqlite3") == EXPECTED_RECORDED["legacy_db"]
