"""How the menu asks: a ``Prompter`` (select, confirm, text), questionary's on a terminal; tests
drive the real questionary prompts through a pipe (tests/interactive)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import questionary
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent, merge_key_bindings
from prompt_toolkit.keys import Keys


@dataclass(frozen=True)
class Choice:
    title: str
    value: str
    disabled: str = ""  # why it cannot be chosen, shown beside it; empty: it can


class Prompter(Protocol):
    """Asks the operator. Every method returns None for "back" (Esc or Ctrl-C)."""

    def select(
        self,
        message: str,
        choices: Sequence[Choice],
        default: str | None = None,
        back: str = "back",
    ) -> str | None: ...

    def confirm(self, message: str) -> bool | None: ...  # the default answer is No

    def text(self, message: str) -> str | None: ...


class QuestionaryPrompter:
    """The questionary prompts, with Esc bound to "back" like Ctrl-C.

    ``io`` goes to prompt_toolkit (``input=``, ``output=``): tests pass a pipe input.
    """

    def __init__(self, **io: Any) -> None:
        self._io = io

    def select(
        self,
        message: str,
        choices: Sequence[Choice],
        default: str | None = None,
        back: str = "back",
    ) -> str | None:
        options = [
            questionary.Choice(c.title, value=c.value, disabled=c.disabled or None) for c in choices
        ]
        chosen = next(
            (
                o
                for o, c in zip(options, choices, strict=True)
                if c.value == default and not c.disabled
            ),
            None,
        )
        question = questionary.select(
            message,
            options,
            default=chosen,
            instruction=f"(arrows and Enter; Esc or Ctrl-C: {back})",
            **self._io,
        )
        answer = self._ask(question)
        return None if answer is None else str(answer)

    def confirm(self, message: str) -> bool | None:
        answer = self._ask(questionary.confirm(message, default=False, **self._io))
        return None if answer is None else bool(answer)

    def text(self, message: str) -> str | None:
        answer = self._ask(questionary.text(message, **self._io))
        return None if answer is None else str(answer)

    @staticmethod
    def _ask(question: Any) -> Any:
        escape = KeyBindings()

        @escape.add(Keys.Escape, eager=True)
        def _back(event: KeyPressEvent) -> None:
            event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

        application = question.application
        application.key_bindings = merge_key_bindings([application.key_bindings, escape])
        try:
            return question.unsafe_ask()
        except KeyboardInterrupt:
            return None


def terminal_prompter() -> Prompter:
    return QuestionaryPrompter()
