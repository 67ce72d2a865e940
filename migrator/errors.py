"""The errors migrator raises. Commands turn them into ``CommandError`` with the same exit code."""

from __future__ import annotations


class MigratorError(Exception):
    """Something the user must fix; the message names the problem and the fix."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(MigratorError):
    """Bad input: an unknown alias or app, a malformed option, conflicting flags (exit 2)."""

    exit_code = 2


class ConfigurationError(MigratorError):
    """The project's settings or routers cannot be planned (a router raises, a cycle): exit 2."""

    exit_code = 2


class PreflightError(MigratorError):
    """A database is not ready (unreachable, read-only, missing schema); nothing was changed."""


class RunError(MigratorError):
    """A migration failed while running."""
