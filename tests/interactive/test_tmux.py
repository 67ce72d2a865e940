"""End to end: the menu in tmux, as an operator sees it, keys sent and the screen read back.

tmux is a real terminal emulator (it answers prompt_toolkit's cursor position requests and keeps
a screen), so this checks what the operator reads, not just the bytes written.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.commands.test_migrate_all import EXPECTED_RECORDED
from tests.helpers import MANAGE, REPO, sqlite_recorded

TIMEOUT = 20.0


class Tmux:
    """One tmux server of our own (its own socket), one session running the menu."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=TIMEOUT,
        )
        return result.stdout

    def screen(self) -> str:
        """The pane and its scrollback, as text."""
        return self("capture-pane", "-p", "-t", "menu", "-S", "-500")

    def wait_for(self, text: str, after: int = 0) -> str:
        """Wait until ``text`` is on the screen (past the first ``after`` characters)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            screen = self.screen()
            if text in screen[after:]:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} did not appear within {TIMEOUT}s; screen:\n{screen}"
                )
            time.sleep(0.1)

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "menu", *keys)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail(
                "tmux is not installed; the end-to-end menu test needs it (apt-get install tmux)."
            )
        pytest.skip("tmux is not installed")
    server = Tmux(tmp_path / "tmux.sock")
    yield server
    subprocess.run(
        ["tmux", "-S", str(server.socket), "kill-server"], capture_output=True, check=False
    )


def test_menu_renders_and_migrates_in_tmux(tmux: Tmux, tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    env = {"MIGRATOR_VAR_DIR": str(var), "PYTHONPATH": str(REPO), "TERM": "xterm-256color"}
    command = " ".join(
        [
            "env",
            *(shlex.quote(f"{key}={value}") for key, value in env.items()),
            shlex.quote(sys.executable),
            shlex.quote(str(MANAGE)),
            "migrator",
            '; echo "[menu exited: $?]"; sleep 60',
        ]
    )
    tmux("new-session", "-d", "-s", "menu", "-x", "160", "-y", "50", command)

    screen = tmux.wait_for("Esc or Ctrl-C: exit")
    assert "115 migrations pending on 5 databases." in screen
    lines = [line.rstrip() for line in screen.splitlines()]
    start = lines.index(" » Status")
    assert lines[start - 1].startswith("? What next?")
    assert lines[start : start + 10] == [
        " » Status",
        "   Show plan",
        "   Review lock risk",
        "   Migrate everything",
        "   Migrate one database",
        "   Migrate one app",
        "   Roll an app back to a migration",
        "   Check routing",
        "   Check schema drift",
        "   Exit",
    ]

    tmux.keys("Down", "Down", "Down", "Enter")  # Migrate everything
    screen = tmux.wait_for("Run 22 migrations, record 93 on 5 databases? (y/N)")
    assert (
        "Plan: 6 steps in 2 levels on 5 databases, 22 migrations to run, 93 only to record."
        in screen
    )
    tmux.keys("y")
    screen = tmux.wait_for("Done: 22 migrations applied, 93 only recorded on 5 databases.")
    assert "Migrating users_db: users" in screen
    assert "  Applied users.0002_user_is_active" in screen
    screen = tmux.wait_for("Esc or Ctrl-C: exit", after=screen.index("Done: 22"))

    tmux.keys("Escape")
    tmux.wait_for("[menu exited: 0]")
    for alias in ("default", "users_db", "analytics_db", "legacy_db", "cache_db"):
        assert sqlite_recorded(var / f"{alias}.sqlite3") == EXPECTED_RECORDED[alias], alias
    assert not (var / "read_replica.sqlite3").exists()
