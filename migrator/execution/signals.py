"""Stop signals and ``--parallel`` workers: the command passes each SIGINT/SIGTERM it receives on
to every worker (``tell_workers``, from its signal handler), and a worker's own handler
(``WorkerStop``) turns them into a stop request or, for a second Ctrl-C, an interruption of the
running migration."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

# The pids of this process's running workers, and how many messages each was sent: each stop
# signal the command receives is passed on from its signal handler at once (cli.StopOnSignal).
WORKERS: set[int] = set()


TOLD: dict[int, int] = {}


def _worker_signals() -> dict[str, int]:
    """What the command sends a worker (POSIX only, like fork): "SIGINT"/"SIGTERM": stop between
    two migrations, named after the command's signal; "now": cut the running migration short.
    SIGUSR1/SIGUSR2 carry what SIGINT alone cannot (a worker given SIGINT directly, by
    ``pkill -INT``, say, cannot tell it from the command's)."""
    return {"SIGINT": signal.SIGUSR1, "SIGTERM": signal.SIGTERM, "now": signal.SIGUSR2}


def tell_workers(name: str) -> None:
    """Send every running worker ``name`` (``_worker_signals``)."""
    if not WORKERS:
        return  # nothing to tell (and no SIGUSR1 where there is no fork: Windows)
    number = _worker_signals()[name]
    for pid in list(WORKERS):
        TOLD[pid] = TOLD.get(pid, 0) + 1
        # Gone already (its result not read yet), or, in theory, its pid reused by a process of
        # another user: nothing to tell, and never an error raised in a signal handler.
        with contextlib.suppress(OSError):
            os.kill(pid, number)


def handled_in_workers() -> set[int]:
    return {signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2}


class WorkerStop:
    """A worker's signal handler. The command passes on the first SIGINT/SIGTERM it receives as a
    request to stop between two migrations (SIGUSR1 for SIGINT, SIGTERM) and a second SIGINT as
    SIGUSR2: cut the running migration short (it rolls back where the database can), as in the
    command itself. SIGINTs sent to the worker directly (a terminal's Ctrl-C reaches its whole
    foreground process group) count apart: the first, with the command's SIGUSR1, is one stop."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self.sigints = 0  # sent to the worker directly
        self.interrupted = False
        # Inside a migration's guard, before its commit (run_step sets it): only then does a
        # second Ctrl-C cut something short.
        self.running = False

    def __call__(self, number: int, frame: object) -> None:
        self.sigints += number == signal.SIGINT
        name = (
            "SIGTERM" if number == signal.SIGTERM else "SIGINT"
        )  # SIGUSR1/2: the command's SIGINT
        self.signal = self.signal or name
        at_once = number == signal.SIGUSR2 or self.sigints > 1
        # Only a running migration is cut short (once: never again while it rolls back); between
        # two, the stop request already ends the step before the next one (its lock released).
        if at_once and self.running and not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt


# In a --parallel worker, its signal handler: there a second SIGINT cuts the running migration
# short and ends the step, reported as interrupted (run_step).
_current: WorkerStop | None = None


def become_worker() -> WorkerStop:
    """In a forked worker, first thing: its own handler for the signals the command sends. It is
    installed here, after multiprocessing's bootstrap (and whatever patches it: coverage's installs
    a SIGTERM handler of its own), before the signals blocked for the fork are let in."""
    global _current
    stop = WorkerStop()
    for number in handled_in_workers():
        signal.signal(number, stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, handled_in_workers())
    _current = stop
    return stop


def worker_stop() -> WorkerStop | None:
    """This worker's handler; None outside a --parallel worker."""
    return _current


@contextlib.contextmanager
def migration_running() -> Iterator[None]:
    """Around a migration inside its guard (run_step): a second Ctrl-C may cut it short only
    here, never while it commits, after it failed, or while the worker reports its result."""
    stop = _current
    if stop is None:
        yield
        return
    stop.running = True
    try:
        yield
    finally:
        stop.running = False


def quiet_from_now_on() -> None:
    """In a worker whose step is over: the stop signals wait, so that reporting the result is
    never cut short (the worker exits right after)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, handled_in_workers())
