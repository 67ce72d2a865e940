"""Deploy phases: ``migrate_all --phase pre|post`` with django-syzygy and django-safemigrate
installed (tests/settings/phases.py: contenttypes and the phased app, tests/fixtures/phased, on
two SQLite files and a PostgreSQL database), run as an operator runs it, in child processes; the
databases read afterwards. Parity: ``--phase pre`` leaves every alias as the tool's own command
does (syzygy's ``migrate --pre-deploy``, ``safemigrate``), alias by alias."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db.models.signals import pre_migrate
from django.test import override_settings

from migrator import api
from migrator.cli.options import refuse_conflicts
from migrator.exceptions import ConfigurationError, UsageError
from migrator.types import RunOptions, Selection
from tests.conftest import sqlite_entry
from tests.helpers import manage, recorded, run
from tests.servers import pg_connect, pg_databases, pg_entry, pg_recorded

pytestmark = pytest.mark.postgres

SYZYGY = "syzygy"
SAFEMIGRATE = "django_safemigrate"
BLOCKED = "tests.fixtures.phased_blocked_migrations"
CONTENTTYPES = {"contenttypes.0001_initial", "contenttypes.0002_remove_content_type_name"}
PRE = {*CONTENTTYPES, "phased.0001_initial", "phased.0002_item_sku"}
POST = "phased.0003_remove_item_legacy_code"
ALIASES = ("default", "second", "pg")

NO_TOOL = (
    "CommandError: --phase asks the project's deploy-phase tool which migrations may run before "
    "the new code is deployed, and none is installed. migrator supports django-syzygy (pip "
    "install django-syzygy and add 'syzygy' to INSTALLED_APPS) and django-safemigrate (pip "
    "install django-safemigrate and add 'django_safemigrate' to INSTALLED_APPS). Without "
    "--phase, migrate_all runs every pending migration.\n"
)


@dataclass
class Project:
    """The phases project on ``folder``'s SQLite files (default, second) and PostgreSQL ``pg``."""

    folder: Path
    pg: str

    def databases(self) -> dict[str, dict[str, Any]]:
        return {
            "default": sqlite_entry(self.folder / "default.sqlite3"),
            "second": sqlite_entry(self.folder / "second.sqlite3"),
            "pg": pg_entry(self.pg),
        }

    def manage(self, *args: str, apps: str, **env: str) -> tuple[str, str, int]:
        result = manage(
            *args,
            env={
                "DJANGO_SETTINGS_MODULE": "tests.settings.phases",
                "MIGRATOR_VAR_DIR": str(self.folder),
                "MIGRATOR_TEST_DATABASES": json.dumps(self.databases()),
                "MIGRATOR_PHASE_APPS": apps,
                **env,
            },
        )
        return result.stdout, result.stderr, result.returncode

    def recorded(self, alias: str) -> set[str]:
        if alias == "pg":
            return set(pg_recorded(self.pg))
        path = self.folder / f"{alias}.sqlite3"
        if not path.exists():
            return set()
        with sqlite3.connect(path) as db:
            return {f"{a}.{n}" for a, n in db.execute("SELECT app, name FROM django_migrations")}

    def columns(self, alias: str) -> list[str]:
        """The columns of phased_item, in order (empty: no such table)."""
        if alias == "pg":
            with pg_connect(self.pg) as connection:
                rows = connection.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = "
                    "'phased_item' ORDER BY ordinal_position"
                ).fetchall()
            return [row[0] for row in rows]
        path = self.folder / f"{alias}.sqlite3"
        if not path.exists():
            return []
        with sqlite3.connect(path) as db:
            return [row[1] for row in db.execute("PRAGMA table_info(phased_item)")]

    def state(self) -> dict[str, tuple[set[str], list[str]]]:
        """Per alias, its django_migrations rows and phased_item's columns."""
        return {alias: (self.recorded(alias), self.columns(alias)) for alias in ALIASES}


@pytest.fixture
def projects(tmp_path: Path, unblocked: None) -> Iterator[tuple[Project, Project]]:
    """Two copies of the project: one for migrate_all, one for the tool's own command."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pg_databases(2) as (one, two):
        yield Project(tmp_path / "a", one), Project(tmp_path / "b", two)


def second_at_0002(project: Project, apps: str) -> None:
    """``second`` already has phased up to 0002 (an alias with its own applied set)."""
    _, err, code = project.manage(
        "migrate", "phased", "0002", "--database", "second", "-v", "0", apps=apps
    )
    assert (code, err) == (0, "")


def migration_lines(out: str) -> list[str]:
    """The plan's lines of aliases and migrations (the alias lines without the server version)."""
    return [
        line.split(" (")[0] if not line.startswith("    ") else line
        for line in out.splitlines()
        if line.startswith("  ")
    ]


def test_syzygy_pre_then_post_on_every_alias(projects: tuple[Project, Project]) -> None:
    project, theirs = projects
    for each in projects:
        second_at_0002(each, SYZYGY)

    out, err, code = project.manage("migrate_all", "--plan", "--phase", "pre", apps=SYZYGY)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == (
        "Plan (--phase pre, django-syzygy): 3 steps in 1 level on 3 databases, 10 migrations "
        "to run, 3 held for --phase post."
    )
    pre_lines = [
        "    apply contenttypes.0001_initial  [pre: stage pre_deploy]",
        "    apply contenttypes.0002_remove_content_type_name  [pre: stage pre_deploy]",
    ]
    everything = [
        *pre_lines,
        "    apply phased.0001_initial  [pre: stage pre_deploy]",
        "    apply phased.0002_item_sku  [pre: stage pre_deploy]",
    ]
    hold = (
        "    hold phased.0003_remove_item_legacy_code  [post: stage post_deployment] until "
        "--phase post"
    )
    assert migration_lines(out) == [
        "  default",
        *everything,
        hold,
        "  second",
        *pre_lines,
        hold,
        "  pg",
        *everything,
        hold,
    ]
    assert lines[-1] == (
        "Held for after the deploy: 3 migrations on default, second, pg; run 'migrate_all "
        "--phase post' once the new code is deployed."
    )

    out, err, code = project.manage("migrate_all", "--phase", "pre", "--noinput", apps=SYZYGY)
    assert (code, err) == (0, "")
    assert out.splitlines()[-2:] == [
        "Done: 10 migrations applied on 3 databases.",
        "Held for after the deploy: 3 migrations on default, second, pg; run 'migrate_all "
        "--phase post' once the new code is deployed.",
    ]
    before_deploy = {alias: (PRE, ["id", "name", "legacy_code", "sku"]) for alias in ALIASES}
    assert project.state() == before_deploy
    # Nothing pending before the deploy: --check --phase pre passes, a plain --check does not.
    assert project.manage("migrate_all", "--check", "--phase", "pre", apps=SYZYGY)[2] == 0
    _, err, code = project.manage("migrate_all", "--check", "-v", "0", apps=SYZYGY)
    assert (code, err) == (
        1,
        "CommandError: 3 migrations pending on default, pg, second. Run 'manage.py "
        "migrate_all' to apply them.\n",
    )

    # Parity: syzygy's own migrate --pre-deploy, alias by alias, on the other copy.
    for alias in ALIASES:
        _, err, code = theirs.manage(
            "migrate", "--pre-deploy", "--database", alias, "-v", "0", apps=SYZYGY
        )
        assert (code, err) == (0, "")
    assert theirs.state() == before_deploy

    out, err, code = project.manage("migrate_all", "--plan", "--phase", "post", apps=SYZYGY)
    assert (code, err) == (0, "")
    assert migration_lines(out) == [
        "  default",
        "    apply phased.0003_remove_item_legacy_code  [post: stage post_deployment]",
        "  second",
        "    apply phased.0003_remove_item_legacy_code  [post: stage post_deployment]",
        "  pg",
        "    apply phased.0003_remove_item_legacy_code  [post: stage post_deployment]",
    ]
    out, err, code = project.manage("migrate_all", "--phase", "post", "--noinput", apps=SYZYGY)
    assert (code, err, out.splitlines()[-1]) == (
        0,
        "",
        "Done: 3 migrations applied on 3 databases.",
    )
    assert project.state() == {alias: ({*PRE, POST}, ["id", "name", "sku"]) for alias in ALIASES}


def test_safemigrate_pre_then_post_on_every_alias(projects: tuple[Project, Project]) -> None:
    project, theirs = projects
    for each in projects:
        second_at_0002(each, SAFEMIGRATE)

    out, err, code = project.manage("migrate_all", "--plan", "--phase", "pre", apps=SAFEMIGRATE)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        "Plan (--phase pre, django-safemigrate): 6 steps in 2 levels on 3 databases, 13 "
        "migrations to run, 3 held for --phase post."
    )
    hold = (
        "    hold phased.0003_remove_item_legacy_code  [post: Safe.after_deploy()] until "
        "--phase post"
    )
    contenttypes = [
        "    apply contenttypes.0001_initial  [pre: Safe.always()]",
        "    apply contenttypes.0002_remove_content_type_name  [pre: Safe.always()]",
    ]
    phased = [
        "    apply phased.0001_initial  [pre: Safe.before_deploy()]",
        "    apply phased.0002_item_sku  [pre: Safe.always()]",
    ]
    own = "    apply django_safemigrate.0001_initial  [pre: Safe.before_deploy()]"
    assert migration_lines(out) == [
        *("  default", *contenttypes, *phased, hold),
        *("  second", *contenttypes, hold),
        *("  pg", *contenttypes, *phased, hold),
        *("  default", own, "  second", own, "  pg", own),
    ]

    out, err, code = project.manage("migrate_all", "--phase", "pre", "--noinput", apps=SAFEMIGRATE)
    assert (code, err) == (0, "")
    recorded_pre = {*PRE, "django_safemigrate.0001_initial"}
    before_deploy = {
        alias: (recorded_pre, ["id", "name", "legacy_code", "sku"]) for alias in ALIASES
    }
    assert project.state() == before_deploy

    # Parity: safemigrate's own command (its pre_migrate receiver trims migrate's plan).
    for alias in ALIASES:
        _, err, code = theirs.manage(
            "safemigrate", "--database", alias, "-v", "0", apps=SAFEMIGRATE
        )
        assert (code, err) == (0, "")
    assert theirs.state() == before_deploy

    out, err, code = project.manage("migrate_all", "--phase", "post", "--noinput", apps=SAFEMIGRATE)
    assert (code, err, out.splitlines()[-1]) == (
        0,
        "",
        "Done: 3 migrations applied on 3 databases.",
    )
    after = {alias: ({*recorded_pre, POST}, ["id", "name", "sku"]) for alias in ALIASES}
    assert project.state() == after


@pytest.mark.parametrize(
    ("apps", "message"),
    [
        (
            SYZYGY,
            "CommandError: --phase pre: django-syzygy refuses the plan on default, second, pg: "
            "phased.0003_remove_item_legacy_code -> phased.0004_item_note: django-syzygy: Plan "
            "contains a non-contiguous sequence of pre-deployment migrations. Migration "
            "phased.0004_item_note is inferred to be applied pre-deployment but it depends on "
            "phased.0003_remove_item_legacy_code which is inferred to be applied "
            "post-deployment. Defining an explicit `Migration.stage: syzygy.Stage` for "
            "phased.0004_item_note or phased.0003_remove_item_legacy_code to bypass inference "
            "might help. Fix: mark phased.0004_item_note stage = Stage.POST_DEPLOY (from syzygy "
            "import Stage) so that it runs after the deploy with "
            "phased.0003_remove_item_legacy_code, or, if phased.0003_remove_item_legacy_code is "
            "safe before the deploy, mark it stage = Stage.PRE_DEPLOY (MIGRATION_STAGES_OVERRIDE "
            "for a third-party app). Nothing was changed on any database.\n",
        ),
        (
            SAFEMIGRATE,
            "CommandError: --phase pre: django-safemigrate refuses the plan on default, second, "
            "pg: phased.0003_remove_item_legacy_code -> phased.0004_item_note: "
            "django-safemigrate: a Safe.before_deploy() migration depends on one that waits for "
            "after the deploy (its strict mode aborts: 'blocked migrations'). Fix: mark "
            "phased.0004_item_note Safe.after_deploy() (it then runs after the deploy with "
            "phased.0003_remove_item_legacy_code), or, if phased.0003_remove_item_legacy_code "
            "is safe before the deploy, mark it Safe.before_deploy(); SAFEMIGRATE = 'nonstrict' "
            "holds it back instead. Nothing was changed on any database.\n",
        ),
    ],
)
def test_a_pre_migration_behind_a_post_one_is_refused_and_nothing_is_touched(
    projects: tuple[Project, Project], apps: str, message: str
) -> None:
    project, _ = projects
    for args in (("--plan",), ("--noinput",), ("--noinput", "--json")):
        out, err, code = project.manage(
            "migrate_all", "--phase", "pre", *args, apps=apps, MIGRATOR_PHASED_MIGRATIONS=BLOCKED
        )
        assert (code, err) == (1, message)
        if "--json" in args:
            document = json.loads(out)
            assert document["error"] == {"message": message[14:-1], "exit_code": 1}
        else:
            assert out == ""
    assert project.state() == {alias: (set(), []) for alias in ALIASES}
    assert not (project.folder / "default.sqlite3").exists()
    # After the deploy, the same plan runs whole.
    out, err, code = project.manage(
        "migrate_all", "--phase", "post", "--noinput", apps=apps, MIGRATOR_PHASED_MIGRATIONS=BLOCKED
    )
    assert (code, err) == (0, "")
    assert "phased.0004_item_note" in project.recorded("pg")


def test_phase_names_the_tools_when_none_or_both_are_installed(
    projects: tuple[Project, Project],
) -> None:
    project, _ = projects
    for args in (("--noinput",), ("--plan",), ("--check",)):
        out, err, code = project.manage("migrate_all", "--phase", "pre", *args, apps="")
        assert (code, out, err) == (2, "", NO_TOOL)
    both = f"{SYZYGY},{SAFEMIGRATE}"
    assert project.manage("migrate_all", "--phase", "pre", apps=both)[1:] == (
        "CommandError: --phase: both django-syzygy ('syzygy') and django-safemigrate "
        "('django_safemigrate') are in INSTALLED_APPS, and they can disagree on a migration's "
        "phase; say which one decides with MIGRATOR['PHASE_TOOL'] = 'syzygy' or "
        "'safemigrate'.\n",
        2,
    )
    assert project.manage(
        "migrate_all", "--phase", "pre", apps=SYZYGY, MIGRATOR_PHASE_TOOL="safemigrate"
    )[1:] == (
        "CommandError: MIGRATOR['PHASE_TOOL'] = 'safemigrate', but 'django_safemigrate' is not "
        "in INSTALLED_APPS: pip install django-safemigrate and add 'django_safemigrate' to "
        "INSTALLED_APPS, or drop the setting.\n",
        2,
    )
    assert project.state() == {alias: (set(), []) for alias in ALIASES}
    # Without --phase nothing changes: every migration runs, the tools installed or not.
    out, err, code = project.manage("migrate_all", "--noinput", apps=both)
    assert (code, err) == (0, "")
    assert project.recorded("pg") == {*PRE, POST, "django_safemigrate.0001_initial"}

    out, err, code = project.manage(
        "migrate_all", "--plan", "--phase", "pre", apps=both, MIGRATOR_PHASE_TOOL="syzygy"
    )
    assert (code, err, out.splitlines()[0]) == (
        0,
        "",
        "Plan (--phase pre, django-syzygy): 6 steps in 2 levels on 3 databases, 0 migrations "
        "to run.",
    )


def test_the_plan_json_shows_each_migrations_phase(projects: tuple[Project, Project]) -> None:
    project, _ = projects
    second_at_0002(project, SYZYGY)
    out, err, code = project.manage(
        "migrate_all", "--plan", "--json", "--phase", "pre", "--database", "second", apps=SYZYGY
    )
    assert (code, err) == (0, "")
    plan = json.loads(out)["plan"]
    assert plan["phase"] == {
        "asked": "pre",
        "tool": "syzygy",
        "held_count": 1,
        "migrations": [
            {"alias": "second", "app": app, "name": name, "backwards": False, "phase": phase, "why": why, "runs": phase == "pre"}
            for app, name, phase, why in (
                ("contenttypes", "0001_initial", "pre", "stage pre_deploy"),
                ("contenttypes", "0002_remove_content_type_name", "pre", "stage pre_deploy"),
                ("phased", "0003_remove_item_legacy_code", "post", "stage post_deployment"),
            )
        ],
    }  # fmt: skip
    (step,) = plan["levels"][0]
    assert step["held"] == [
        {"app": "phased", "name": "0003_remove_item_legacy_code", "backwards": False}
    ]
    assert [m["name"] for m in step["pending"]] == [
        "0001_initial",
        "0002_remove_content_type_name",
    ]
    assert plan["pending_count"] == 2


# -- in this process: the testproject has no phase tool --------------------------------------


def test_phase_without_a_tool_in_process(sqlite_project: Path) -> None:
    assert run("migrate_all", phase="pre", interactive=False) == ("", NO_TOOL, 2)
    with pytest.raises(ConfigurationError) as refused:
        api.migrate_all(Selection(phase="pre"))
    assert f"CommandError: {refused.value}\n" == NO_TOOL
    assert sorted(p.name for p in sqlite_project.iterdir()) == []


def test_resume_keeps_the_phase_it_was_started_with() -> None:
    with pytest.raises(UsageError) as refused:
        refuse_conflicts({"resume": "latest", "phase": "pre"}, "migrate_all")
    assert str(refused.value) == (
        "--resume continues a run with the selection it was started with; drop --phase."
    )


def test_a_receiver_that_changes_the_plan_fails_the_step_before_it_runs(
    sqlite_project: Path,
) -> None:
    """django-safemigrate's receiver trims the plan of its own command in place; any receiver
    that does so during a migrate_all run makes the alias's first step fail before anything ran
    there: never silently less than the plan shown."""
    trimmed: list[str] = []

    def trim(plan: list[Any], using: str, **kwargs: Any) -> None:
        if using == "users_db" and plan and not trimmed:
            migration, _ = plan.pop()
            trimmed.append(f"{migration.app_label}.{migration.name}")

    pre_migrate.connect(trim, dispatch_uid="test_phases_trim")
    try:
        out, _, code = run("migrate_all", interactive=False)
    finally:
        pre_migrate.disconnect(dispatch_uid="test_phases_trim")
    assert trimmed == ["cache.0001_initial"]  # the last of users_db's plan: only recorded there
    assert code == 1
    assert (
        "  FAILED on users_db: PlanChanged: a pre_migrate receiver changed the plan of users_db "
        "(left out cache.0001_initial) before anything ran there; migrator runs the plan "
        "it showed and never silently less or more. For a deploy in phases, run 'migrate_all "
        "--phase pre' (django-syzygy, django-safemigrate) instead"
    ) in out.splitlines()
    assert recorded("users_db") == set()
    # default's first step ran; its steps behind users_db's were skipped.
    assert recorded("default") == CONTENTTYPES


def test_safemigrate_delays_count_from_the_detection_a_pre_run_records(
    projects: tuple[Project, Project],
) -> None:
    """``Safe.after_deploy(delay=...)``: a --phase pre run records the held migration in
    django-safemigrate's SafeMigration table (on default, where its router sends it), as its own
    command does; once the delay has passed since, --phase pre runs it."""
    project, _ = projects
    delayed = {"MIGRATOR_PHASED_MIGRATIONS": "tests.fixtures.phased_delayed_migrations"}
    # The first run creates the SafeMigration table (django_safemigrate.0001 runs before the
    # deploy), the second detects the held migration.
    for _ in range(2):
        out, err, code = project.manage(
            "migrate_all", "--phase", "pre", "--noinput", "--database", "default",
            apps=SAFEMIGRATE, **delayed,
        )  # fmt: skip
        assert (code, err) == (0, "")
    with sqlite3.connect(project.folder / "default.sqlite3") as db:
        rows = db.execute("SELECT app, name FROM django_safemigrate_safemigration").fetchall()
        assert rows == [("phased", "0003_remove_item_legacy_code")]
        db.execute("UPDATE django_safemigrate_safemigration SET detected = '2020-01-01 00:00:00'")
    out, err, code = project.manage(
        "migrate_all", "--plan", "--phase", "pre", "--database", "default",
        apps=SAFEMIGRATE, **delayed,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert migration_lines(out) == [
        "  default",
        "    apply phased.0003_remove_item_legacy_code  [pre: Safe.after_deploy(delay=1 day, "
        "0:00:00), detected 2020-01-01 00:00, delay passed]",
        "  default",
        "    up to date",
    ]
    assert POST not in project.recorded("default")


# -- --fake and --fake-initial with a phase -----------------------------------------------------


def fake_refused(flag: str) -> str:
    return (
        f"CommandError: --phase pre {flag}: django-safemigrate does not support faking "
        "migrations (its safemigrate command refuses --fake and --fake-initial), so migrator "
        f"does not fake what it lets run before the deploy either. Drop {flag}, or fake after "
        f"the deploy with --phase post {flag} (a plain migrate for django-safemigrate). Nothing "
        "was changed.\n"
    )


def contenttypes_applied(project: Project, apps: str) -> None:
    """contenttypes really applied on every alias: faking needs its table (post_migrate creates
    the content types of what was faked), as Django's own migrate --fake does."""
    target = "contenttypes:0002_remove_content_type_name"
    _, err, code = project.manage(
        "migrate_all", "--target", target, "--noinput", "-v", "0", apps=apps
    )
    assert (code, err) == (0, "")


def test_safemigrate_phase_pre_refuses_to_fake_and_touches_nothing(
    projects: tuple[Project, Project],
) -> None:
    """django-safemigrate's own command refuses --fake and --fake-initial; so does --phase pre
    with it (exit 2, before any database is touched, the SafeMigration table included)."""
    project, theirs = projects
    _, err, code = theirs.manage("safemigrate", "--fake", "--database", "pg", apps=SAFEMIGRATE)
    assert (code, err) == (1, "CommandError: Safemigrate does not support faking migrations.\n")
    for flag in ("--fake", "--fake-initial"):
        for json_flag in ((), ("--json",)):
            out, err, code = project.manage(
                "migrate_all", "--phase", "pre", flag, "--noinput", *json_flag, apps=SAFEMIGRATE
            )
            assert (code, err) == (2, fake_refused(flag))
            if json_flag:
                assert json.loads(out)["error"] == {
                    "message": fake_refused(flag)[14:-1],
                    "exit_code": 2,
                }
            else:
                assert out == ""
    assert project.state() == {alias: (set(), []) for alias in ALIASES}
    assert not (project.folder / "default.sqlite3").exists()
    # After the deploy its run is a plain migrate, which fakes: so does --phase post.
    contenttypes_applied(project, SAFEMIGRATE)
    out, err, code = project.manage(
        "migrate_all", "--phase", "post", "--fake", "--noinput", "--database", "pg",
        apps=SAFEMIGRATE,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert project.recorded("pg") == {*PRE, POST, "django_safemigrate.0001_initial"}
    assert project.columns("pg") == []  # recorded only: no table made


def test_syzygy_phase_pre_fakes_what_migrate_pre_deploy_fakes(
    projects: tuple[Project, Project],
) -> None:
    """django-syzygy's ``migrate --pre-deploy --fake`` records the pre-deploy migrations without
    running them; --phase pre --fake records the same, alias by alias, and no table is made."""
    project, theirs = projects
    for each in projects:
        second_at_0002(each, SYZYGY)
        contenttypes_applied(each, SYZYGY)
    _, err, code = project.manage(
        "migrate_all", "--phase", "pre", "--fake", "--noinput", apps=SYZYGY
    )
    assert (code, err) == (0, "")
    for alias in ALIASES:
        _, err, code = theirs.manage(
            "migrate", "--pre-deploy", "--fake", "--database", alias, "-v", "0", apps=SYZYGY
        )
        assert (code, err) == (0, "")
    faked = {
        "default": (PRE, []),
        "second": (PRE, ["id", "name", "legacy_code", "sku"]),  # really applied up to 0002
        "pg": (PRE, []),
    }
    assert project.state() == faked
    assert theirs.state() == faked


def test_the_api_refuses_to_fake_a_safemigrate_pre_phase(sqlite_project: Path) -> None:
    installed = override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, SAFEMIGRATE])
    with installed, pytest.raises(UsageError) as refused:
        api.migrate_all(Selection(phase="pre"), RunOptions(fake_initial=True))
    assert f"CommandError: {refused.value}\n" == fake_refused("--fake-initial")
    assert sorted(p.name for p in sqlite_project.iterdir()) == []


def test_a_pre_phase_run_whose_retries_ran_out_resumes_in_phase_pre(
    projects: tuple[Project, Project],
) -> None:
    """A --phase pre run whose step on pg could not get a lock (MIGRATOR["LOCK_RETRIES"] ran
    out) is continued by --resume in the phase it was started with: the pre-deploy migration
    applies there once the lock is free, the post-deploy one stays held."""
    project, _ = projects
    retries = {"LOCK_RETRIES": {"RETRIES": 1, "BACKOFF": 0.1, "DDL_LOCK_TIMEOUT": 0.2}}
    settings_env = {"MIGRATOR_TEST_SETTINGS": json.dumps(retries)}
    _, err, code = project.manage(
        "migrate", "phased", "0001", "--database", "pg", "-v", "0", apps=SYZYGY
    )
    assert (code, err) == (0, "")
    holder = pg_connect(project.pg)
    holder.autocommit = False
    holder.execute("LOCK TABLE phased_item IN ACCESS SHARE MODE")  # AddField waits for it
    try:
        out, err, code = project.manage(
            "migrate_all", "--phase", "pre", "--noinput", "--json", apps=SYZYGY, **settings_env
        )
    finally:
        holder.rollback()
        holder.close()
    assert code == 1, err
    failed = json.loads(out)
    (pg_step,) = [s for s in failed["results"]["steps"] if s["alias"] == "pg"]
    assert pg_step["error"].startswith(
        "LockRetriesExhausted: phased.0002_item_sku could not get a lock on pg in 2 attempts"
    )
    assert [r["attempt"] for r in pg_step["retries"]] == [1]
    assert project.recorded("pg") == {*CONTENTTYPES, "phased.0001_initial"}

    out, err, code = project.manage(
        "migrate_all", "--resume", "--noinput", apps=SYZYGY, **settings_env
    )
    assert (code, err) == (0, "")
    assert out.splitlines()[-2:] == [
        "Done: 9 migrations applied on 3 databases.",  # the earlier attempt's included
        "Held for after the deploy: 1 migration on pg; run 'migrate_all --phase post' once the "
        "new code is deployed.",
    ]
    before_deploy = (PRE, ["id", "name", "legacy_code", "sku"])
    assert project.state() == dict.fromkeys(ALIASES, before_deploy)
