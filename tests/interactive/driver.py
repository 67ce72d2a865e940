"""Drive the real menu: questionary prompts reading scripted keys from prompt_toolkit's pipe input.

``manage.py migrator`` runs in-process through ``call_command`` as on a terminal; only where the
keys come from differs. Once the keys run out the pipe is closed, so a script that stops early
fails with ``EOFError`` instead of hanging.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from migrator.cli import menu as menu_module
from migrator.cli.prompts import Choice, QuestionaryPrompter
from tests.helpers import run

DOWN = "\x1b[B"
UP = "\x1b[A"
ENTER = "\r"
CTRL_C = "\x03"

TOP = [
    "Status",
    "Show plan",
    "Review lock risk",
    "Migrate everything",
    "Migrate one database",
    "Migrate one app",
    "Roll an app back to a migration",
    "Check routing",
    "Check schema drift",
    "Exit",
]


def top(entry: str, cursor: str = "Status", entries: Sequence[str] = TOP) -> str:
    """Keys that choose ``entry`` in the top menu when its cursor is on ``cursor`` (the top menu
    keeps its cursor on the entry chosen last)."""
    moves = entries.index(entry) - entries.index(cursor)
    return (DOWN * moves if moves > 0 else UP * -moves) + ENTER


@dataclass
class Asked:
    kind: str  # "select", "confirm", "text"
    message: str
    choices: list[str] = field(default_factory=list)  # titles; disabled ones "title (why)"


class RecordingPrompter(QuestionaryPrompter):
    """The real prompts, remembering what was asked."""

    def __init__(self, asked: list[Asked], **io: Any) -> None:
        super().__init__(**io)
        self.asked = asked

    def select(
        self,
        message: str,
        choices: Sequence[Choice],
        default: str | None = None,
        back: str = "back",
    ) -> str | None:
        titles = [f"{c.title} ({c.disabled})" if c.disabled else c.title for c in choices]
        self.asked.append(Asked("select", message, titles))
        return super().select(message, choices, default, back)

    def confirm(self, message: str) -> bool | None:
        self.asked.append(Asked("confirm", message))
        return super().confirm(message)

    def text(self, message: str) -> str | None:
        self.asked.append(Asked("text", message))
        return super().text(message)


class MenuDriver:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.asked: list[Asked] = []

    def __call__(self, *keys: str, **options: object) -> tuple[str, str, int]:
        """``manage.py migrator`` on a terminal, typing ``keys``: (stdout, stderr, returncode)."""
        self.asked.clear()
        with create_pipe_input() as pipe:
            pipe.send_text("".join(keys))
            pipe.close()  # the reader still gets every key, then EOFError instead of waiting
            self.monkeypatch.setattr(
                menu_module,
                "terminal_prompter",
                lambda: RecordingPrompter(self.asked, input=pipe, output=DummyOutput()),
            )
            return run("migrator", **options)

    def choices(self, message: str) -> list[str]:
        return next(asked.choices for asked in self.asked if asked.message == message)

    def messages(self) -> list[str]:
        return [asked.message for asked in self.asked]
