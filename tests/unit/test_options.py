"""The options table (migrator.cli.options.OPTIONS): every option the commands accept is declared
there once, and each mode refuses exactly the options written down here. No database."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

import pytest

from migrator.cli.options import OPTIONS, refuse_conflicts, without_menu
from migrator.exceptions import UsageError
from migrator.management.commands.migrate_all import Command as MigrateAll
from migrator.management.commands.migrator import Command as Migrator

MODES: dict[str, dict[str, Any]] = {
    "run": {},
    "plan": {"plan_only": True},
    "check": {"check": True},
    "doctor": {"doctor": True},
    "graph": {"graph": "mermaid"},
    "drift": {"drift": True},
    "repair": {"drift": True, "repair": True},
    "risk": {"risk": True},
}
WHAT = {
    "plan": "--plan changes nothing",
    "check": "--check changes nothing",
    "doctor": "--doctor checks the whole project and changes nothing",
    "graph": "--graph shows the whole project and changes nothing",
    "drift": "--drift compares the databases with their recorded migrations and migrates nothing",
    "repair": "--drift compares the databases with their recorded migrations and migrates nothing",
    "risk": "--risk reviews the plan's locks and changes nothing",
}
REPORTS = {"doctor", "graph", "drift", "repair"}
EVERYWHERE_BUT_A_RUN = {"plan", "check", "risk", *REPORTS}
NOT_FOR_RISK = {"risk", *REPORTS}  # --risk reviews a selection's plan, read-only
# Which modes refuse which option: written out here, not derived from the table.
REFUSED = {
    "databases": {"doctor", "graph"},
    "apps": {"doctor", "graph"},
    "target": REPORTS,
    "plan_only": NOT_FOR_RISK,
    "check": NOT_FOR_RISK,
    "json": {"graph"},
    "fake": EVERYWHERE_BUT_A_RUN,
    "fake_initial": EVERYWHERE_BUT_A_RUN,
    "interactive": set(),
    "makemigrations": EVERYWHERE_BUT_A_RUN,
    "skip_makemigrations": set(),
    "create_schemas": NOT_FOR_RISK,
    "lock_timeout": {"doctor", "graph", "drift", "risk"},
    "parallel": NOT_FOR_RISK,
    "fail_fast": NOT_FOR_RISK,
    "executor": NOT_FOR_RISK,
    "force_migrate": EVERYWHERE_BUT_A_RUN,
    "shard": REPORTS,  # a run, --plan and --check show or migrate the shard
    "canary": EVERYWHERE_BUT_A_RUN,  # only a run has steps that can fail
    "skip_checks": set(),
    "resume": EVERYWHERE_BUT_A_RUN,
    "phase": REPORTS,  # a run, --plan and --check resolve the deploy phase
    "max_risk": {"plan", "check", *REPORTS},  # --risk: its bar; a run: its gate
    "accept_risk": EVERYWHERE_BUT_A_RUN,
}
OWN_MESSAGES = {
    ("json", "graph"): "--graph prints Mermaid or DOT, not JSON; drop --json (--doctor --json "
    "prints the findings as JSON).",
    ("lock_timeout", "drift"): "--lock-timeout is for --drift --repair (each repair waits for "
    "the alias's lock); --drift alone reads without locking. Drop it or add --repair.",
}
SELECTORS = {"doctor", "graph", "drift", "repair", "risk"}


def given(dest: str) -> object:
    option = next(option for option in OPTIONS if option.dest == dest)
    action = option.argparse.get("action")
    if action == "append":
        return ["x"]
    if action in ("store_true", "store_false"):
        return action == "store_true"
    return "5"


def test_the_commands_take_exactly_the_declared_options() -> None:
    declared = {flag for option in OPTIONS for flag in option.flags}
    for command, own in ((MigrateAll(), set()), (Migrator(), {"--auto"})):
        parser = ArgumentParser()
        command.add_arguments(parser)
        flags = {flag for action in parser._actions for flag in action.option_strings}
        assert flags - {"-h", "--help"} == declared | own
    assert {option.dest for option in OPTIONS} == set(REFUSED) | SELECTORS


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("dest", sorted(REFUSED))
def test_each_mode_refuses_exactly_the_options_it_cannot_use(mode: str, dest: str) -> None:
    options = {**MODES[mode], dest: given(dest)}
    if dest == "interactive":
        options[dest] = False  # --noinput
    flag = next(option.flags[0] for option in OPTIONS if option.dest == dest)
    if mode not in REFUSED[dest]:
        refuse_conflicts(options, "migrate_all")
        return
    with pytest.raises(UsageError) as refused:
        refuse_conflicts(options, "migrate_all")
    expected = OWN_MESSAGES.get(
        (dest, mode), f"{WHAT[mode]}, so {flag} makes no sense with it; drop one of them."
    )
    assert str(refused.value) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"repair": True}, "--repair repairs what --drift finds; run 'manage.py X --drift --repair'."),
        ({"drift": True, "graph": "dot"}, "--drift and --graph print different reports; run them one at a time."),
        ({"doctor": True, "graph": "dot"}, "--doctor and --graph print different reports; run them one at a time."),
        ({"makemigrations": True, "skip_makemigrations": True}, "--makemigrations and --skip-makemigrations contradict each other; pick one."),
        ({"fake": True, "fake_initial": True}, "--fake and --fake-initial contradict each other; pick one."),
        ({"risk": True, "doctor": True}, "--doctor and --risk print different reports; run them one at a time."),
    ],
)  # fmt: skip
def test_contradictions(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as refused:
        refuse_conflicts(options, "X")
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("options", "menu"),
    [
        ({}, True),
        ({"noinput": False, "databases": ["x"], "parallel": "2"}, True),
        ({"plan_only": True}, False),
        ({"check": True}, False),
        ({"json": True}, False),
        ({"doctor": True}, False),
        ({"graph": "dot"}, False),
        ({"drift": True}, False),
        ({"repair": True}, False),
        ({"resume": "latest"}, False),
        ({"shard": "1/2"}, False),
        ({"canary": "2"}, False),
        ({"phase": "pre"}, False),
        ({"risk": True}, False),
    ],
)
def test_which_options_run_migrator_without_its_menu(options: dict[str, Any], menu: bool) -> None:
    assert without_menu(options) is not menu


def test_zero_is_a_value_and_an_empty_list_is_not() -> None:
    with pytest.raises(UsageError, match=r"^--lock-timeout is for --drift --repair"):
        refuse_conflicts({"drift": True, "lock_timeout": 0}, "X")
    refuse_conflicts({"doctor": True, "databases": (), "apps": []}, "X")
