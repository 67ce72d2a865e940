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


class RouterError(ConfigurationError):
    """A router raised, or named an alias that is not in ``DATABASES`` (exit 2).

    Keeps the parts apart so the routing doctor can name the router and the call in a finding.
    """

    def __init__(self, router: str, call: str, outcome: str, fix: str, *, raised: bool) -> None:
        super().__init__(f"Router {router}.{call} {outcome}. {fix}")
        self.router = router  # "myproject.routers.AppRouter"
        self.call = call  # "db_for_write(users.User)"
        self.outcome = outcome  # "raised KeyError: 'x'" or "returned 'x', which is not in ..."
        self.raised = raised  # True: the router raised; False: it named an unknown alias


class ChecksFailed(ConfigurationError):
    """A system check (the routing doctor's or Django's) reported an error before a run (exit 2)."""


class PreflightError(MigratorError):
    """A database is not ready (unreachable, read-only, missing schema); nothing was changed.

    ``problems``: one line per problem, each naming its alias (the message lists them too), for
    callers that report them elsewhere (the health check).
    """

    def __init__(
        self, message: str, *, problems: tuple[str, ...] = (), exit_code: int | None = None
    ) -> None:
        super().__init__(message, exit_code=exit_code)
        self.problems = problems


class PhaseError(MigratorError):
    """--phase: the deploy-phase tool refuses the plan (a pre-deploy migration behind a
    post-deploy one, an ambiguous stage); nothing was changed. Exit 1, as the tools' own
    ``migrate --pre-deploy`` and ``safemigrate`` commands exit."""


class RunError(MigratorError):
    """A migration failed while running."""


class ScrubbedCause(Exception):
    """What caused a command's failure, as its formatted traceback with passwords scrubbed; the
    original exception is not chained (its message may hold a password)."""


class RiskRefused(MigratorError):
    """``MIGRATOR["RISK"]["GATE"]`` (or ``--max-risk``) refused a run: the plan has lock-risk
    findings at or above the gate; nothing was changed on any database (exit 1)."""
