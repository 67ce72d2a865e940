"""The pure planner: no database, no Django settings needed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from migrator.exceptions import ConfigurationError, UsageError
from migrator.planning.graph import alias_cycles, build_graph
from migrator.planning.plan import build_plan, expand_databases, upstream, validate_selection
from migrator.types import AliasInfo, Node, Selection, Step
from tests.helpers import REPO

ALIASES = tuple(
    AliasInfo(alias=a, vendor="sqlite", engine="django.db.backends.sqlite3", name=f"{a}.db")
    for a in ("default", "users_db", "analytics_db", "replica")
)
APPS = ("contenttypes", "auth", "users", "blog", "analytics")
MATRIX = {
    "contenttypes": ("default",),
    "auth": ("default",),
    "users": ("users_db",),
    "blog": ("default",),
    "analytics": ("analytics_db",),
}
DEPS = {
    "contenttypes": frozenset(),
    "auth": frozenset({"contenttypes"}),
    "users": frozenset(),
    "blog": frozenset({"users"}),
    "analytics": frozenset({"users"}),
}


def shape(plan_levels: tuple[tuple[Step, ...], ...]) -> list[list[tuple[str, tuple[str, ...]]]]:
    return [[(step.alias, step.apps) for step in level] for level in plan_levels]


def test_cross_alias_dependency_orders_databases() -> None:
    plan = build_plan(ALIASES, APPS, MATRIX, DEPS)
    assert shape(plan.levels) == [
        [("default", ("contenttypes",)), ("users_db", ("users",))],
        [("default", ("auth", "blog")), ("analytics_db", ("analytics",))],
    ]
    assert [step.level for step in plan.steps] == [1, 1, 2, 2]
    assert plan.unplanned_aliases == ("replica",)
    assert plan.homeless_apps == ()


def test_edges_connect_every_alias_of_both_apps() -> None:
    graph = build_graph({"a": ("x", "y"), "b": ("z",)}, {"b": {"a"}})
    assert set(graph.edges) == {(Node("x", "a"), Node("z", "b")), (Node("y", "a"), Node("z", "b"))}


def test_dependency_on_app_that_runs_nowhere_is_followed_through() -> None:
    matrix = {"a": ("x",), "hidden": (), "c": ("y",)}
    plan = build_plan(
        (*ALIASES[:1], AliasInfo("x", "sqlite", "e", "x"), AliasInfo("y", "sqlite", "e", "y")),
        ("a", "hidden", "c"),
        matrix,
        {"c": {"hidden"}, "hidden": {"a"}},
    )
    assert shape(plan.levels) == [[("x", ("a",))], [("y", ("c",))]]
    assert plan.homeless_apps == ("hidden",)


def test_cross_alias_cycle_is_reported_as_a_path() -> None:
    deps = {**DEPS, "users": frozenset({"blog"})}
    with pytest.raises(ConfigurationError) as error:
        build_plan(ALIASES, APPS, MATRIX, deps)
    message = str(error.value)
    assert message.startswith("Dependency cycle between databases: ")
    path = message.split(": ", 1)[1].split(". ", 1)[0]
    # The path the doctor prints too: from the smallest cross-alias edge, whatever the hash seed.
    assert path == "blog@default -> users@users_db -> blog@default"
    assert "route the apps to one alias or break the migration dependency" in message


def test_the_cycle_message_does_not_depend_on_the_hash_seed() -> None:
    code = (
        "from tests.unit.test_plan import ALIASES, APPS, DEPS, MATRIX\n"
        "from migrator.planning.plan import build_plan\n"
        "try:\n"
        "    build_plan(ALIASES, APPS, MATRIX, {**DEPS, 'users': frozenset({'blog'})})\n"
        "except Exception as exc:\n"
        "    print(exc)\n"
    )
    messages = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(seed), "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        ).stdout
        for seed in range(6)
    }
    assert len(messages) == 1
    assert "blog@default -> users@users_db -> blog@default" in messages.pop()


def test_mutual_dependency_on_one_alias_is_one_step() -> None:
    deps = {**DEPS, "contenttypes": frozenset({"auth"})}
    plan = build_plan(ALIASES, APPS, MATRIX, deps)
    assert shape(plan.levels) == [
        [("default", ("contenttypes", "auth")), ("users_db", ("users",))],
        [("default", ("blog",)), ("analytics_db", ("analytics",))],
    ]


def test_database_filter_keeps_order_through_filtered_nodes() -> None:
    # users_db -> blog@default; chain x -> y -> z where y is filtered out must keep x before z.
    aliases = tuple(AliasInfo(a, "sqlite", "e", a) for a in ("x", "y", "z"))
    matrix = {"a": ("x",), "b": ("y",), "c": ("z",)}
    plan = build_plan(
        aliases, ("a", "b", "c"), matrix, {"b": {"a"}, "c": {"b"}}, Selection(databases=("x", "z"))
    )
    assert shape(plan.levels) == [[("x", ("a",))], [("z", ("c",))]]
    assert [step.level for step in plan.steps] == [1, 2]


def test_app_filter_and_target() -> None:
    plan = build_plan(ALIASES, APPS, MATRIX, DEPS, Selection(apps=("blog", "users")))
    assert shape(plan.levels) == [[("users_db", ("users",))], [("default", ("blog",))]]
    plan = build_plan(ALIASES, APPS, MATRIX, DEPS, Selection(target=("blog", "0001_initial")))
    assert plan.steps == (Step("default", ("blog",), 1, "0001_initial"),)


def test_selection_with_no_work_names_the_fix() -> None:
    with pytest.raises(UsageError) as error:
        build_plan(ALIASES, APPS, MATRIX, DEPS, Selection(databases=("replica",)))
    assert str(error.value) == (
        "--database replica: the routers allow no app's migrations on 'replica'. "
        "Aliases with work: default, users_db, analytics_db; check DATABASE_ROUTERS if this is wrong."
    )
    with pytest.raises(UsageError) as error:
        build_plan(ALIASES, APPS, MATRIX, DEPS, Selection(databases=("users_db",), apps=("blog",)))
    assert str(error.value) == (
        "Nothing to plan: the selected apps run on other aliases than the selected ones "
        "(blog@default). Widen --database or --app."
    )


def test_homeless_app_selected_is_an_error() -> None:
    matrix = {**MATRIX, "analytics": ()}
    with pytest.raises(
        UsageError, match=r"App 'analytics': the routers allow its migrations on no alias"
    ):
        build_plan(ALIASES, APPS, matrix, DEPS, Selection(apps=("analytics",)))


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        (
            Selection(databases=("nope",)),
            "--database nope: no such alias in DATABASES. Known aliases: default, users_db.",
        ),
        (
            Selection(apps=("nope",)),
            "App 'nope' is not installed. Installed apps with migrations: users, blog.",
        ),
        (
            Selection(target=("plain", "0001")),
            "App 'plain' has no migrations. Create them with 'python manage.py makemigrations plain', "
            "or pick one of: users, blog.",
        ),
    ],
)
def test_validate_selection(selection: Selection, message: str) -> None:
    with pytest.raises(UsageError) as error:
        validate_selection(
            selection, ["default", "users_db"], ["users", "blog", "plain"], ["users", "blog"]
        )
    assert str(error.value) == message


def test_empty_project_plans_nothing() -> None:
    plan = build_plan(ALIASES, (), {}, {})
    assert plan.levels == ()
    assert plan.unplanned_aliases == ("default", "users_db", "analytics_db", "replica")


def test_alias_cycles_are_closed_paths_in_a_fixed_order() -> None:
    deps = {**DEPS, "users": frozenset({"blog"})}
    graph = build_graph(MATRIX, deps)
    assert alias_cycles(graph) == [
        (Node("default", "blog"), Node("users_db", "users"), Node("default", "blog"))
    ]
    # Apps that depend on each other on one alias are no cycle between databases.
    same_alias = build_graph(MATRIX, {**DEPS, "contenttypes": frozenset({"auth"})})
    assert alias_cycles(same_alias) == []


def test_upstream_names_the_pairs_a_selection_depends_on() -> None:
    assert upstream(MATRIX, DEPS, Selection(databases=("default",))) == {Node("users_db", "users")}
    assert upstream(MATRIX, DEPS, Selection(apps=("auth",))) == {Node("default", "contenttypes")}
    assert upstream(MATRIX, DEPS, Selection(databases=("users_db",))) == set()


def test_include_adds_pairs_to_the_filters_in_plan_order() -> None:
    selection = Selection(databases=("analytics_db",), include=(Node("users_db", "users"),))
    plan = build_plan(ALIASES, APPS, MATRIX, DEPS, selection)
    assert shape(plan.levels) == [[("users_db", ("users",))], [("analytics_db", ("analytics",))]]


def test_database_patterns_expand_in_settings_order() -> None:
    aliases = ["default", "tenant_b", "tenant_a", "eu-1", "eu-2", "empty"]
    assert expand_databases(["tenant_*"], aliases) == ("tenant_b", "tenant_a")
    assert expand_databases(["eu-?", "eu-1", "default"], aliases) == ("eu-1", "eu-2", "default")
    assert expand_databases(["*"], aliases, not_databases=["empty"]) == tuple(aliases[:-1])
    assert expand_databases(["nosuch"], aliases) == ("nosuch",)  # a name: validated later
    with pytest.raises(UsageError, match=r"^--database 'x\*' matches no database alias\. "):
        expand_databases(["x*"], aliases)
    with pytest.raises(UsageError):
        expand_databases(["empt?"], aliases, not_databases=["empty"])
