"""Where a command's words go: ``Output`` writes lines styled with the command's ``self.style``
to its ``self.stdout``/``self.stderr`` (``call_command(stdout=...)`` works), scrubs every form of
every configured password from all of it, keeps stdout to the one JSON document under ``--json``,
and asks yes/no questions. The modes and the menu write through it, never to ``sys.stdout``."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

from django.core.management.base import OutputWrapper

from migrator.render import Line, Style
from migrator.text import redact


class Output:
    """One command's output (``name``: ``migrate_all`` or ``migrator``, for the texts that name
    the command to run)."""

    def __init__(
        self,
        stdout: OutputWrapper,
        stderr: OutputWrapper,
        style: Any,
        secrets: tuple[str, ...],
        *,
        name: str,
        json_only: bool = False,
        verbosity: int = 1,
    ) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.style = style
        self.secrets = secrets
        self.name = name
        self.json_only = json_only
        self.verbosity = verbosity
        self.json_written = False

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def styled(self, line: Line) -> str:
        text = self.redact(line.text)
        styles = {
            "heading": self.style.MIGRATE_HEADING,
            "success": self.style.SUCCESS,
            "warning": self.style.WARNING,
            "error": self.style.ERROR,
            "notice": self.style.NOTICE,
        }
        return styles[line.style](text) if line.style in styles else text

    def emit(self, lines: list[Line] | Line | None, minimum_verbosity: int = 1) -> None:
        """Lines on stdout, unless ``--json`` or the verbosity is below ``minimum_verbosity``."""
        if lines is None or self.json_only or self.verbosity < minimum_verbosity:
            return
        for line in [lines] if isinstance(lines, Line) else lines:
            self.stdout.write(self.styled(line))

    def write_json(self, document: dict[str, Any]) -> None:
        """The one JSON document of this command (passwords scrubbed like everything else)."""
        self.stdout.write(self.redact(json.dumps(document, indent=2)))
        self.json_written = True

    def text(self, text: str) -> None:
        """Text that is the whole answer (a graph, the doctor's JSON) on stdout."""
        self.stdout.write(self.redact(text))

    def note(self, text: str, style: Style = "") -> None:
        """A note on stderr (never in the JSON on stdout)."""
        self.stderr.write(self.styled(Line(text, style)), lambda styled: styled)

    def note_from_signal_handler(self, text: str) -> None:
        """``note`` from a signal handler: a write it interrupts may refuse a second one, which
        is then left out."""
        with contextlib.suppress(Exception):
            self.note(text, "warning")

    def ask(self, question: str) -> bool:
        """Yes or no on the terminal; anything but y/yes (or end of input) is No. The question
        goes to stderr with ``--json``, so stdout holds only the JSON document."""
        out = self.stderr if self.json_only else self.stdout
        out.write(question, ending="")
        out.flush()
        try:
            answer = input()
        except EOFError:
            answer = ""
        return answer.strip().lower() in ("y", "yes")


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
