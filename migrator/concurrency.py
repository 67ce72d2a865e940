"""Bounded concurrency for what only reads: one job per alias (a preflight probe, a read of
``django_migrations``) in threads, at most ``Bounds.per_server`` at once on one database server
and ``Bounds.overall`` in all, so that many aliases, a few of them unreachable, cost about one
connect timeout instead of one per alias.

Results come back in the jobs' order. Django's connections are per thread: a job that ran in a
thread of its own closes its alias's connection there before the thread ends. An
SQLite database that is not a file (``:memory:``, a ``file:`` URI) is private to its
connection, so its job runs on the calling thread (its connection left open), as do all jobs
when only one could run at a time (their connections closed after each, as in a thread). Ctrl-C (``KeyboardInterrupt``) starts no further job and does not wait for the running
ones (daemon threads; each would end within its connect timeout).
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from django.db import connections

from migrator.types import AliasInfo, Bounds

R = TypeVar("R")
Server = Hashable


def server(info: AliasInfo) -> Server | None:
    """The server ``info``'s connections go to, as settings give it: (vendor, host, port), or
    the libpq service / MySQL option file where settings name no host. None for SQLite, whose
    files count only against the overall bound."""
    if info.vendor == "sqlite":
        return None
    return (info.vendor, info.host, info.port, "" if info.host else info.source)


def threadable(info: AliasInfo) -> bool:
    """False for an SQLite database private to one connection (``:memory:``, a ``file:`` URI
    that may name a shared in-memory database): read it on the calling thread."""
    if info.vendor != "sqlite":
        return True
    return bool(info.name) and info.name != ":memory:" and not info.name.startswith("file:")


@dataclass(frozen=True)
class Job(Generic[R]):
    """``call()`` for ``info``'s alias; what it raises is raised by ``run`` (the first in
    order) once every job has ended."""

    info: AliasInfo
    call: Callable[[], R]


def _in_thread(job: Job[R]) -> R:
    try:
        return job.call()
    finally:
        connections[job.info.alias].close()  # this thread's connection, before the thread ends


def _here(job: Job[R]) -> R:
    """``job`` on the calling thread: its alias's connection is closed afterwards only when the
    job opened it (the caller's own connection, maybe inside a transaction, stays as it was)."""
    connection = connections[job.info.alias]
    opened_before = connection.connection is not None
    try:
        return job.call()
    finally:
        if not opened_before and not connection.in_atomic_block:
            connection.close()


def run(jobs: Sequence[Job[R]], bounds: Bounds) -> list[R]:
    """Every job's result, in the jobs' order, at most ``bounds`` of them at once."""
    results: dict[int, R] = {}
    errors: dict[int, Exception] = {}
    threaded = [index for index, job in enumerate(jobs) if threadable(job.info)]
    local = sorted(set(range(len(jobs))) - set(threaded))
    if len(threaded) < 2 or bounds.overall < 2:
        local, threaded = list(range(len(jobs))), []
    for index in local:
        job = jobs[index]
        try:
            # A connection left open per alias would hold hundreds at once; an in-memory
            # SQLite database lives only as long as its connection.
            results[index] = _here(job) if threadable(job.info) else job.call()
        except Exception as exc:
            errors[index] = exc
    if threaded:
        _dispatch(jobs, threaded, bounds, results, errors)
    if errors:
        raise errors[min(errors)]
    return [results[index] for index in range(len(jobs))]


def _dispatch(
    jobs: Sequence[Job[R]],
    waiting: list[int],
    bounds: Bounds,
    results: dict[int, R],
    errors: dict[int, Exception],
) -> None:
    """Start the waiting jobs in order as the bounds allow, each in a thread of its own (a job
    whose server is busy lets the next ones go first), and keep what each returns or raises.

    The threads are daemons: Ctrl-C in the calling thread (``KeyboardInterrupt`` while it waits
    here) starts no further job and leaves without waiting for the running ones, and the
    interpreter exits without joining them (each would end within its connect timeout)."""
    workers = min(bounds.overall, len(waiting))
    per_server = min(bounds.per_server, workers)
    busy: Counter[Server] = Counter()
    running = 0
    done: queue.SimpleQueue[tuple[int, R | None, Exception | None]] = queue.SimpleQueue()

    def work(index: int) -> None:
        try:
            done.put((index, _in_thread(jobs[index]), None))
        except Exception as exc:
            done.put((index, None, exc))

    while waiting or running:
        for index in list(waiting):
            if running >= workers:
                break
            key = server(jobs[index].info)
            if key is not None and busy[key] >= per_server:
                continue
            waiting.remove(index)
            if key is not None:
                busy[key] += 1
            running += 1
            name = f"migrator-read-{jobs[index].info.alias}"
            threading.Thread(target=work, args=(index,), name=name, daemon=True).start()
        index, result, error = done.get()
        running -= 1
        key = server(jobs[index].info)
        if key is not None:
            busy[key] -= 1
        if error is not None:
            errors[index] = error
        else:
            results[index] = cast(R, result)
