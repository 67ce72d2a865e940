"""The routing doctor: one scenario per check, each triggering that check and nothing else; the
testproject itself is clean; the doctor as Django system checks, as --doctor and before a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings
from django.test import override_settings

from migrator.doctor import routing, system_checks
from migrator.doctor.migrations import migration_findings
from migrator.doctor.routing import routing_findings
from migrator.types import Finding
from tests.helpers import run

CHAIN = ["testproject.routers.ReplicaRouter", "testproject.routers.AppLabelRouter"]
ALL = "default, users_db, analytics_db, legacy_db, cache_db, read_replica"
SORTED = "analytics_db, cache_db, default, legacy_db, read_replica, users_db"


def routers(*first: str) -> dict[str, Any]:
    return {"DATABASE_ROUTERS": [f"tests.routers.{name}" for name in first] + CHAIN}


CROSSDB = {
    "INSTALLED_APPS": [*settings.INSTALLED_APPS, "tests.fixtures.crossdb"],
    "DATABASE_APPS_MAPPING": {**settings.DATABASE_APPS_MAPPING, "crossdb": "cache_db"},
}

HOMELESS = Finding(
    "migrator.W003",
    "warning",
    None,
    "cache.CacheEntry",
    f"cache.CacheEntry is refused by allow_migrate on every alias ({ALL}): its table "
    "'cache_cacheentry' is never created, so every query on it fails.",
    "Make a router's allow_migrate return True for app 'cache' (model_name='cacheentry') on the "
    "alias that should hold it, or set Meta.managed = False if another system creates the table.",
)
WRITES_ELSEWHERE = Finding(
    "migrator.W004",
    "warning",
    "default",
    "cache.CacheEntry",
    "db_for_write(cache.CacheEntry) returns 'default', but allow_migrate refuses cache.CacheEntry "
    "there: its table 'cache_cacheentry' is created only on cache_db, so writes fail with "
    "'relation does not exist'.",
    "Make db_for_write return 'cache_db' for cache.CacheEntry, or let allow_migrate accept app "
    "'cache' on 'default'.",
)
READS_ELSEWHERE = Finding(
    "migrator.W005",
    "warning",
    "default",
    "cache.CacheEntry",
    "db_for_read(cache.CacheEntry) returns 'default', but its table 'cache_cacheentry' is "
    "created only on cache_db and 'default' is not a mirror (TEST['MIRROR']) of an alias that "
    "has it: reads fail with 'relation does not exist'.",
    "Make db_for_read return 'cache_db' for cache.CacheEntry, or a replica of it declared with "
    "TEST = {'MIRROR': 'cache_db'}.",
)
READS_FROM_OTHER_REPLICA = Finding(
    "migrator.W005",
    "warning",
    "read_replica",
    "users.User",
    "db_for_read(users.User) returns 'read_replica', but its table 'users_user' is created only "
    "on users_db and 'read_replica' mirrors 'default', which does not have it either: reads fail "
    "with 'relation does not exist'.",
    "Make db_for_read return 'users_db' for users.User, or a replica of it declared with "
    "TEST = {'MIRROR': 'users_db'}.",
)
SEVERAL_HOMES = Finding(
    "migrator.W001",
    "warning",
    "default",
    "cache.CacheEntry",
    "allow_migrate accepts cache.CacheEntry on default, cache_db, but db_for_write sends every "
    "write to 'cache_db': the table on default is created and never written (duplicate tables "
    "that diverge).",
    "Let allow_migrate accept cache.CacheEntry only on 'cache_db'; if 'default' is a replica of "
    "'cache_db', declare it with TEST = {'MIRROR': 'cache_db'}.",
)
MIGRATED_MIRROR = Finding(
    "migrator.W002",
    "warning",
    "read_replica",
    "blog",
    "allow_migrate accepts app 'blog' (Post) on 'read_replica', a mirror of 'default' "
    "(TEST['MIRROR']): migrate_all would run blog's migrations on the replica, which gets its "
    "tables from 'default'.",
    "Make allow_migrate return False when db == 'read_replica'.",
)
CROSS_DATABASE_KEYS = [
    Finding(
        "migrator.E004",
        "error",
        "cache_db",
        "crossdb.Review.post",
        "crossdb.Review.post is a ForeignKey to blog.Post with db_constraint=True, but "
        "crossdb.Review's table is created on cache_db and blog.Post's only on default: the "
        "migration cannot create the foreign key constraint on cache_db.",
        "Pass db_constraint=False to crossdb.Review.post (no database can enforce a key across "
        "databases), or route both models to one alias.",
    ),
    Finding(
        "migrator.E004",
        "error",
        "cache_db",
        "crossdb.Review.products",
        "crossdb.Review.products is a ManyToManyField to shop.Product with db_constraint=True, "
        "but crossdb.Review's table is created on cache_db and shop.Product's only on default: "
        "the migration cannot create the foreign key constraint on cache_db.",
        "Pass db_constraint=False to crossdb.Review.products (no database can enforce a key "
        "across databases), or route both models to one alias.",
    ),
]
UNKNOWN_ALIAS = Finding(
    "migrator.E005",
    "error",
    None,
    "tests.routers.UnknownAliasRouter",
    "Router tests.routers.UnknownAliasRouter.db_for_write(users.User) returned 'users_replica', "
    f"which is not in DATABASES ({SORTED}): every query routed there fails with "
    "ConnectionDoesNotExist.",
    f"Return one of {ALL} (or None to let the next router decide), or add the alias to DATABASES.",
)
RAISES_HINT = (
    "Fix the router so that it answers for every model: an alias (or True/False for "
    "allow_migrate), or None to let the next router decide."
)
RAISES = Finding(
    "migrator.E006",
    "error",
    None,
    "tests.routers.RaisingRouter",
    "Router tests.routers.RaisingRouter.allow_migrate('default', 'shop', model_name='product') "
    "raised KeyError: 'shop_rules', and the same for shop.Order: Django's migrate fails the same "
    "way, and migrate_all cannot plan.",
    RAISES_HINT,
)
READ_RAISES = Finding(
    "migrator.E006",
    "error",
    None,
    "tests.routers.RaisingReadRouter",
    "Router tests.routers.RaisingReadRouter.db_for_read(users.User) raised LookupError: no "
    "replica for users: every read of users.User fails the same way.",
    RAISES_HINT,
)
CYCLE = Finding(
    "migrator.E007",
    "error",
    None,
    "blog@default -> users@users_db -> blog@default",
    "Dependency cycle between databases: blog@default -> users@users_db -> blog@default. "
    "Migrations of these apps depend on each other across aliases, so no order of aliases "
    "satisfies them and migrate_all refuses to plan.",
    "Route these apps to one alias, or remove the migration dependency that closes the cycle.",
)
DATA_MIGRATION = Finding(
    "migrator.I001",
    "info",
    "analytics_db",
    "analytics.0002_count_users",
    "analytics.0002_count_users runs RunPython on analytics_db and depends on users.0001_initial "
    "(tables on users_db): if its code reads those tables, it reads another database, so the "
    "order of databases matters. migrate_all migrates users_db first.",
    "Migrate with migrate_all (or migrate users_db before analytics_db); in the RunPython code, "
    "read the other app's rows through the routers or .using(alias), not "
    "schema_editor.connection.",
)
OFF_DEFAULT = (
    "users.User (users_db), analytics.Event (analytics_db), legacy.CustomerNote (legacy_db), "
    "cache.CacheEntry (cache_db)"
)
CHOSEN_WITH_USING = [
    Finding(
        f"migrator.{check}",
        "warning",
        "default",
        "DATABASE_ROUTERS",
        f"No router defines db_for_{action}, so every {action} that does not name its database "
        f"with .using() goes to 'default', where the tables of 4 models are not created: "
        f"{OFF_DEFAULT}. Such {action}s fail with 'relation does not exist'.",
        f"Nothing to change if every {action} of these models says .using(alias); otherwise add "
        f"a router whose db_for_{action} returns the alias that holds each model's table.",
    )
    for check, action in (("W004", "write"), ("W005", "read"))
]

MISSING_MODULE = "tests.fixtures.missing_legacy_migrations"
UNIMPORTABLE_MODULE = Finding(
    "migrator.E008",
    "error",
    None,
    "legacy",
    f"MIGRATION_MODULES['legacy'] = {MISSING_MODULE!r} cannot be imported (ModuleNotFoundError: "
    f"No module named {MISSING_MODULE!r}): Django's migrate fails on it, so migrate_all refuses "
    "to run.",
    "Run 'manage.py makemigrations legacy' to create the package, correct the module path, or "
    "set MIGRATION_MODULES['legacy'] = None to disable legacy's migrations.",
)


def unhinted(migration: str, router: str, runs_on: str) -> Finding:
    app = migration.partition(".")[0]
    return Finding(
        "migrator.W006",
        "warning",
        runs_on,
        migration,
        f"{migration} has RunPython without the hints the routers read about app {app!r} "
        f"(tests.routers.{router} reads 'target_db'): Django's migrate asks allow_migrate(db, "
        f"{app!r}) without them for it, so it runs on {runs_on}, wherever the routers allow the "
        "app without those hints.",
        "Pass the hints the router reads to each operation (RunPython(..., hints={'target_db': "
        f"...}})), or make the router answer for app {app!r} without hints.",
    )


HINTS_ONLY_ROUTER = Finding(
    "migrator.I002",
    "info",
    None,
    "tests.routers.TargetDbOnlyRouter",
    "Router tests.routers.TargetDbOnlyRouter.allow_migrate answers from hints: it reads "
    "'target_db', and without hints it allows no app on any alias (None or False) and it never "
    "looks at app_label. Django's migrate asks it per operation with that operation's hints, and "
    "so does migrate_all: a RunPython/RunSQL runs where its hints send it; an operation without "
    "them (every model operation) runs only where another router or the default allows it.",
    "Nothing to change if this is deliberate: give every RunPython/RunSQL the hints this router "
    "reads (hints={'target_db': ...}) and check where each migration runs with 'manage.py "
    "migrate_all --plan'.",
)

SCENARIOS = {
    "homeless-model": (routers("HomelessCacheRouter"), [HOMELESS]),
    "writes-where-no-table": (routers("CacheWritesToDefaultRouter"), [WRITES_ELSEWHERE]),
    "reads-where-no-table": (routers("CacheReadsFromDefaultRouter"), [READS_ELSEWHERE]),
    "reads-from-a-replica-of-another-alias": (
        routers("UsersReadFromReplicaRouter"),
        [READS_FROM_OTHER_REPLICA],
    ),
    "several-homes": (routers("CacheTwiceRouter"), [SEVERAL_HOMES]),
    "migrations-on-a-mirror": (routers("BlogOnReplicaRouter"), [MIGRATED_MIRROR]),
    "cross-database-keys": (CROSSDB, CROSS_DATABASE_KEYS),
    # Routers that define only allow_migrate: one warning per action, not one per model.
    "reads-and-writes-chosen-with-using": (
        {"DATABASE_ROUTERS": ["tests.routers.AllowMigrateOnlyRouter"]},
        CHOSEN_WITH_USING,
    ),
    "router-names-unknown-alias": (routers("UnknownAliasRouter"), [UNKNOWN_ALIAS]),
    "router-raises-in-allow-migrate": (routers("RaisingRouter"), [RAISES]),
    "router-raises-in-db-for-read": (routers("RaisingReadRouter"), [READ_RAISES]),
    "alias-cycle": (
        {"MIGRATION_MODULES": {"users": "tests.fixtures.users_cycle_migrations"}},
        [CYCLE],
    ),
    "data-migration-across-aliases": (
        {"MIGRATION_MODULES": {"analytics": "tests.fixtures.analytics_reads_users_migrations"}},
        [DATA_MIGRATION],
    ),
    "unimportable-migration-module": (
        {"MIGRATION_MODULES": {"legacy": MISSING_MODULE, "cache": None}},  # None: disabled, fine
        [UNIMPORTABLE_MODULE],
    ),
    "data-migration-without-the-hints-the-router-reads": (
        routers("AnalyticsTargetDbRouter"),
        [unhinted("analytics.0002_seed_event_names", "AnalyticsTargetDbRouter", "analytics_db")],
    ),
    # Every data migration lacks the hints this router reads: contrib's ones included (auth's has
    # none, contenttypes' has model_name only).
    "router-answers-from-hints-only": (
        routers("TargetDbOnlyRouter"),
        [
            HINTS_ONLY_ROUTER,
            unhinted("analytics.0002_seed_event_names", "TargetDbOnlyRouter", "analytics_db"),
            unhinted("auth.0011_update_proxy_permissions", "TargetDbOnlyRouter", "default"),
            unhinted("contenttypes.0002_remove_content_type_name", "TargetDbOnlyRouter", "default"),
        ],
    ),
}


# Django's own `check` gets a database: from Django 6.1 on it hands every alias to the model
# checks, and JSONField's check connects to analytics_db (sqlite_project: files in tmp_path).
def test_the_testproject_is_clean(sqlite_project: Path) -> None:
    assert system_checks.doctor() == []
    out, err, code = run("check")
    assert (out, err, code) == ("System check identified no issues (0 silenced).\n", "", 0)


@pytest.mark.parametrize(("overrides", "expected"), SCENARIOS.values(), ids=SCENARIOS.keys())
def test_each_scenario_finds_exactly_its_check(
    overrides: dict[str, Any], expected: list[Finding]
) -> None:
    with override_settings(**overrides):
        assert system_checks.doctor() == expected
        # The same findings as Django system checks (tag "migrator"), hint and all.
        messages = [
            (m.id, m.level, m.obj, m.msg, m.hint)
            for m in system_checks.check_routing()
            + system_checks.check_migration_modules()
            + system_checks.check_migration_graph()
        ]
    levels = {"error": 40, "warning": 30, "info": 20}
    assert messages == [(f.id, levels[f.level], f.obj, f.message, f.hint) for f in expected]


def test_a_raising_router_does_not_crash_manage_py_check(sqlite_project: Path) -> None:
    with override_settings(**routers("RaisingRouter")):
        if django.VERSION >= (6, 1):
            # Django 6.1's own model checks ask the routers about every alias (allow_migrate_model
            # in JSONField's and the index/constraint checks), so the router's error escapes
            # Django's check before migrator's E006 is reported; `check --tag migrator`,
            # --doctor and migrate_all report E006.
            with pytest.raises(KeyError, match="shop_rules"):
                run("check")
            out, err, code = run("check", tag=["migrator"])
        else:
            out, err, code = run("check")
    assert (out, code) == ("", 1)
    assert err.startswith(
        "CommandError: SystemCheckError: System check identified some issues:\n\nERRORS:\n"
    )
    assert (
        "tests.routers.RaisingRouter: (migrator.E006) Router tests.routers.RaisingRouter."
        "allow_migrate('default', 'shop', model_name='product') raised KeyError: 'shop_rules'"
    ) in err
    assert f"\tHINT: {RAISES_HINT}" in err


def test_manage_py_check_shows_infos_and_the_migrator_tag() -> None:
    with override_settings(**SCENARIOS["data-migration-across-aliases"][0]):
        # The checks that load migration files run with --deploy only (not on every runserver).
        out, err, code = run("check", tag=["migrator"])
        assert (out, err, code) == ("System check identified no issues (0 silenced).\n", "", 0)
        out, err, code = run("check", tag=["migrator"], deploy=True)
    assert (out, code) == ("", 0)
    assert err.startswith(
        "System check identified some issues:\n\nINFOS:\nanalytics.0002_count_users: "
        "(migrator.I001) analytics.0002_count_users runs RunPython on analytics_db"
    )
    assert err.endswith("System check identified 1 issue (0 silenced).\n")


def test_checks_of_named_apps_only() -> None:
    with override_settings(**CROSSDB):
        assert routing_findings({"crossdb"}) == CROSS_DATABASE_KEYS
        assert routing_findings({"shop", "blog"}) == []
    with override_settings(**SCENARIOS["alias-cycle"][0]):
        assert migration_findings({"shop"}) == []
        assert migration_findings({"users"}) == [CYCLE]


@pytest.mark.parametrize(("silenced", "counted"), [("migrator.W004", 1), ("migrator.E002", 0)])
def test_silenced_findings_are_left_out(silenced: str, counted: int, sqlite_project: Path) -> None:
    # E002 is W004's ID in 0.1.0: silencing it still works, in --doctor and in Django's checks
    # (which then do not count it: migrator leaves it out before Django sees it).
    with override_settings(
        SILENCED_SYSTEM_CHECKS=[silenced], **routers("CacheWritesToDefaultRouter")
    ):
        assert system_checks.doctor() == []
        out, err, code = run("check")
    assert (out, err, code) == (
        f"System check identified no issues ({counted} silenced).\n",
        "",
        0,
    )


# -- --doctor ------------------------------------------------------------------------------------


def test_doctor_on_the_testproject() -> None:
    assert run("migrate_all", doctor=True) == (
        "Routing doctor: no problems found on 6 databases.\n",
        "",
        0,
    )
    out, err, code = run("migrator", doctor=True, json=True)
    assert (err, code) == ("", 0)
    assert json.loads(out) == {
        "version": 1,
        "mode": "doctor",
        "ok": True,
        "counts": {"error": 0, "warning": 0, "info": 0},
        "findings": [],
    }


MIXED = routers("BlogOnReplicaRouter", "CacheWritesToDefaultRouter", "RaisingRouter")


@override_settings(**MIXED)
def test_doctor_prints_findings_by_alias_and_exits_1_on_errors() -> None:
    out, err, code = run("migrator", doctor=True)
    assert code == 1
    assert out.splitlines() == [
        "Routing doctor: 1 error, 2 warnings on 6 databases.",
        "default",
        "  warning migrator.W004 cache.CacheEntry",
        f"    {WRITES_ELSEWHERE.message}",
        f"    Fix: {WRITES_ELSEWHERE.hint}",
        "read_replica",
        "  warning migrator.W002 blog",
        f"    {MIGRATED_MIRROR.message}",
        f"    Fix: {MIGRATED_MIRROR.hint}",
        "(no single alias)",
        "  error migrator.E006 tests.routers.RaisingRouter",
        f"    {RAISES.message}",
        f"    Fix: {RAISES.hint}",
    ]
    assert err == (
        "CommandError: The routing doctor found 1 error (migrator.E006). migrator refuses to "
        "migrate until it is fixed (or --skip-checks is passed).\n"
    )


@override_settings(**routers("BlogOnReplicaRouter", "CacheWritesToDefaultRouter"))
def test_warnings_alone_exit_0() -> None:
    out, err, code = run("migrator", doctor=True)
    assert (err, code) == ("", 0)
    assert out.splitlines()[0] == "Routing doctor: 2 warnings on 6 databases."


@override_settings(**MIXED)
def test_doctor_json_schema() -> None:
    out, err, code = run("migrate_all", doctor=True, json=True)
    assert code == 1
    assert err.startswith("CommandError: The routing doctor found 1 error (migrator.E006).")
    assert json.loads(out) == {
        "version": 1,
        "mode": "doctor",
        "ok": False,
        "counts": {"error": 1, "warning": 2, "info": 0},
        "findings": [
            {
                "id": "migrator.W004",
                "level": "warning",
                "alias": "default",
                "obj": "cache.CacheEntry",
                "message": WRITES_ELSEWHERE.message,
                "hint": WRITES_ELSEWHERE.hint,
            },
            {
                "id": "migrator.W002",
                "level": "warning",
                "alias": "read_replica",
                "obj": "blog",
                "message": MIGRATED_MIRROR.message,
                "hint": MIGRATED_MIRROR.hint,
            },
            {
                "id": "migrator.E006",
                "level": "error",
                "alias": None,
                "obj": "tests.routers.RaisingRouter",
                "message": RAISES.message,
                "hint": RAISES.hint,
            },
        ],
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"doctor": True, "plan_only": True},
            "--doctor checks the whole project and changes nothing, so --plan makes no sense "
            "with it; drop one of them.",
        ),
        (
            {"graph": "mermaid", "databases": ["default"]},
            "--graph shows the whole project and changes nothing, so --database makes no sense "
            "with it; drop one of them.",
        ),
        (
            {"doctor": True, "parallel": "2"},
            "--doctor checks the whole project and changes nothing, so --parallel makes no sense "
            "with it; drop one of them.",
        ),
        (
            {"graph": "mermaid", "create_schemas": True},
            "--graph shows the whole project and changes nothing, so --create-schemas makes no "
            "sense with it; drop one of them.",
        ),
        (
            {"doctor": True, "graph": "dot"},
            "--doctor and --graph print different reports; run them one at a time.",
        ),
        (
            {"graph": "mermaid", "json": True},
            "--graph prints Mermaid or DOT, not JSON; drop --json (--doctor --json prints the "
            "findings as JSON).",
        ),
    ],
)
def test_doctor_and_graph_refuse_run_options(options: dict[str, Any], message: str) -> None:
    _, err, code = run("migrate_all", **options)
    assert (err, code) == (f"CommandError: {message}\n", 2)


# -- checks before a run -------------------------------------------------------------------------

REFUSAL = (
    "CommandError: The routing doctor found 2 errors, so nothing was started:\n"
    + "".join(
        f"  migrator.E004 {finding.obj}: {finding.message}\n    Fix: {finding.hint}\n"
        for finding in CROSS_DATABASE_KEYS
    )
    + "Fix them ('manage.py migrate_all --doctor' lists every finding), or pass --skip-checks to "
    "run anyway.\n"
)


@override_settings(**CROSSDB)
@pytest.mark.parametrize("mode", [{}, {"plan_only": True}, {"check": True}])
def test_an_error_refuses_run_plan_and_check(sqlite_project: Path, mode: dict[str, Any]) -> None:
    assert run("migrate_all", skip_checks=False, **mode) == ("", REFUSAL, 2)
    assert list(sqlite_project.iterdir()) == []


@override_settings(**CROSSDB)
def test_refusal_as_json_and_skip_checks(sqlite_project: Path) -> None:
    out, err, code = run("migrate_all", skip_checks=False, plan_only=True, json=True)
    assert (err, code) == (REFUSAL, 2)
    assert json.loads(out)["error"] == {"message": REFUSAL[14:-1], "exit_code": 2}
    # call_command skips the checks unless told otherwise, as for every Django command.
    out, _, code = run("migrate_all", plan_only=True)
    assert code == 0
    assert out.startswith(
        "Plan: 6 steps in 2 levels on 5 databases, 22 migrations to run, 93 only to record."
    )


@override_settings(**routers("CacheWritesToDefaultRouter", "CacheReadsFromDefaultRouter"))
def test_warnings_that_were_errors_do_not_refuse_a_run(sqlite_project: Path) -> None:
    out, err, code = run("migrate_all", skip_checks=False)
    assert code == 0
    assert err == (
        "System check identified some issues:\n\nWARNINGS:\n"
        f"cache.CacheEntry: (migrator.W004) {WRITES_ELSEWHERE.message}\n"
        f"\tHINT: {WRITES_ELSEWHERE.hint}\n"
        f"cache.CacheEntry: (migrator.W005) {READS_ELSEWHERE.message}\n"
        f"\tHINT: {READS_ELSEWHERE.hint}\n"
    )
    assert out.splitlines()[-1] == "Done: 22 migrations applied, 93 only recorded on 5 databases."


@override_settings(**routers("CacheTwiceRouter"))
def test_warnings_are_shown_and_do_not_refuse(sqlite_project: Path) -> None:
    out, err, code = run("migrate_all", skip_checks=False, plan_only=True)
    assert code == 0
    assert err == (
        "System check identified some issues:\n\nWARNINGS:\n"
        f"cache.CacheEntry: (migrator.W001) {SEVERAL_HOMES.message}\n\tHINT: {SEVERAL_HOMES.hint}\n"
    )
    assert "  default (sqlite " in out


@override_settings(**SCENARIOS["alias-cycle"][0])
def test_the_planner_reports_a_cycle_once(sqlite_project: Path) -> None:
    _, err, code = run("migrate_all", skip_checks=False)
    assert code == 2
    assert err.startswith("CommandError: Dependency cycle between databases: ")


def test_the_testproject_runs_with_checks(sqlite_project: Path) -> None:
    out, err, code = run("migrate_all", skip_checks=False, verbosity=0)
    assert (out, err, code) == ("", "", 0)


def test_a_django_check_error_refuses_too(sqlite_project: Path) -> None:
    from django.core import checks as django_checks

    def failing(app_configs: Any = None, **kwargs: Any) -> list[django_checks.CheckMessage]:
        return [django_checks.Error("Broken on purpose.", id="tests.E001")]

    django_checks.register(failing)
    try:
        _, err, code = run("migrate_all", skip_checks=False)
    finally:
        django_checks.registry.registry.registered_checks.discard(failing)
    assert code == 2
    assert err == (
        "CommandError: System check identified some issues:\n\nERRORS:\n"
        "?: (tests.E001) Broken on purpose.\n"
        "Fix them, or pass --skip-checks to run anyway; nothing was touched.\n"
    )
    assert list(sqlite_project.iterdir()) == []


@override_settings(**routers("AlwaysRaisingRouter"))
def test_a_router_raising_for_every_model_is_one_finding() -> None:
    assert system_checks.doctor() == [
        Finding(
            "migrator.E006",
            "error",
            None,
            "tests.routers.AlwaysRaisingRouter",
            "Router tests.routers.AlwaysRaisingRouter.allow_migrate('default', 'contenttypes', "
            "model_name='contenttype') raised RuntimeError: router misconfigured, and the same "
            "for auth.Permission, auth.Group, auth.User, users.User, blog.Post and 5 more models: "
            "Django's migrate fails the same way, and migrate_all cannot plan.",
            RAISES_HINT,
        )
    ]


# -- an unimportable MIGRATION_MODULES entry (E008) ----------------------------------------------

MODULE_REFUSED = f"CommandError: {UNIMPORTABLE_MODULE.message} {UNIMPORTABLE_MODULE.hint}\n"


@override_settings(MIGRATION_MODULES={"legacy": MISSING_MODULE})
def test_an_unimportable_migration_module_refuses_migrators_runs(sqlite_project: Path) -> None:
    # With the checks: the doctor's refusal, naming the finding.
    assert run("migrate_all", skip_checks=False) == (
        "",
        "CommandError: The routing doctor found 1 error, so nothing was started:\n"
        f"  migrator.E008 legacy: {UNIMPORTABLE_MODULE.message}\n"
        f"    Fix: {UNIMPORTABLE_MODULE.hint}\n"
        "Fix it ('manage.py migrate_all --doctor' lists every finding), or pass --skip-checks to "
        "run anyway.\n",
        2,
    )
    # Without them (--skip-checks, call_command's default), the same refusal from the loader:
    # the app is never silently left out (the fast path included).
    for mode in ({}, {"plan_only": True}, {"check": True}, {"databases": ["legacy_db"]}):
        assert run("migrate_all", **mode) == ("", MODULE_REFUSED, 2)
    assert run("migrator", auto=True) == ("", MODULE_REFUSED, 2)
    assert list(sqlite_project.iterdir()) == []


@override_settings(MIGRATION_MODULES={"legacy": MISSING_MODULE})
def test_an_unimportable_migration_module_is_a_deploy_check(sqlite_project: Path) -> None:
    # Not in the checks every command runs: makemigrations creates that package.
    assert run("check") == (
        "System check identified no issues (0 silenced).\n",
        "",
        0,
    )
    out, err, code = run("check", tag=["migrator"], deploy=True)
    assert (out, code) == ("", 1)
    assert err == (
        "CommandError: SystemCheckError: System check identified some issues:\n\nERRORS:\n"
        f"legacy: (migrator.E008) {UNIMPORTABLE_MODULE.message}\n"
        f"\tHINT: {UNIMPORTABLE_MODULE.hint}\n\n"
        "System check identified 1 issue (0 silenced).\n"
    )
    out, err, code = run("migrate_all", doctor=True)
    assert code == 1
    assert out.splitlines()[:3] == [
        "Routing doctor: 1 error on 6 databases.",
        "(no single alias)",
        "  error migrator.E008 legacy",
    ]


@override_settings(MIGRATION_MODULES={"legacy": None})
def test_a_disabled_migration_module_is_fine(sqlite_project: Path) -> None:
    assert system_checks.doctor() == []
    out, err, code = run("migrate_all")
    assert (err, code) == ("", 0)
    # legacy's migrations disabled: 22 migrations, each recorded on the 4 migrated aliases.
    assert out.splitlines()[-1] == "Done: 21 migrations applied, 67 only recorded on 4 databases."


def test_a_run_finds_the_routing_findings_once(
    sqlite_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks before a run and Django's checks on its databases after preflight (each a
    pass over every registered check) share one search for routing mistakes: the routers are
    asked once per model and alias, not once per pass."""
    calls: list[object] = []
    find = routing.routing_findings

    def counted(app_labels: object = None) -> list[Finding]:
        calls.append(app_labels)
        return find(app_labels)  # type: ignore[arg-type]

    monkeypatch.setattr(system_checks, "routing_findings", counted)
    _, err, code = run("migrate_all", interactive=False, skip_checks=False)
    assert (code, err) == (0, "")
    assert calls == [None]
    calls.clear()
    assert system_checks.doctor() == []  # outside a run: found again
    assert calls == [None]
