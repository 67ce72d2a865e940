"""SQLite: the file's folder exists and takes new files; an exclusive lock file beside the database."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from migrator.backends import NO_WAIT, Guard, LockInterrupted, LockTimeout, LockWait, holder_name
from migrator.types import AliasInfo, LockInfo, Missing, Probe


def database_file(info: AliasInfo) -> Path | None:
    """The file behind an SQLite alias; None for in-memory databases."""
    if not info.name or info.name == ":memory:" or info.name.startswith("file:"):
        return None
    return Path(info.name)


def _folder_refuses_files(folder: Path) -> str:
    """Why no file can be created in ``folder`` ("" when one can): tried for real, with a file
    created and removed at once. os.access answers from permission bits and the real user id; it
    cannot see what an NFS server (root_squash), SELinux or AppArmor refuses."""
    probe = folder / f".migrator-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(descriptor)
    probe.unlink()
    return ""


class SQLite:
    def probe(self, info: AliasInfo, timeout: float) -> Probe:
        path = database_file(info)
        version = sqlite3.sqlite_version
        if path is None:
            return Probe(info, version=version)
        folder = path.parent
        if not folder.is_dir():
            return Probe(
                info, version=version, missing=(Missing(info.alias, "folder", str(folder)),)
            )
        # The file is asked, not opened: closing a descriptor of it would drop the POSIX locks
        # an SQLite connection of this process holds on it.
        read_only = ""
        if path.exists() and not os.access(path, os.W_OK):
            read_only = f"{path} is not writable"
        refused = _folder_refuses_files(folder)
        problems: tuple[str, ...] = ()
        if refused:
            problems = (
                f"cannot create files in the folder {folder} ({refused}): SQLite writes its "
                f"rollback journal {path.name}-journal there and migrator its lock file "
                f"{path.name}.migrator-lock; make the folder writable for the user running "
                "migrations, or move the database to a writable folder (NAME).",
            )
        return Probe(info, version=version, read_only=read_only, problems=problems)

    def create(self, missing: Missing, timeout: float) -> None:
        Path(missing.name).mkdir(parents=True, exist_ok=True)

    @contextmanager
    def lock(self, info: AliasInfo, timeout: float, wait: LockWait = NO_WAIT) -> Iterator[LockInfo]:
        """``flock`` on ``<database>.migrator-lock``; the file is removed on release.

        A waiter that wins the lock on a file its holder has just removed sees that the path
        no longer names its file and tries again, so two runs never both hold the lock.
        """
        path = database_file(info)
        if path is None:
            yield LockInfo(info.alias, 0.0)  # an in-memory database is private to this process
            return
        path = path.resolve()  # two spellings of one file get one lock
        lock_path = path.with_name(path.name + ".migrator-lock")
        started = time.monotonic()
        descriptor = _acquire(lock_path, started, timeout, wait)
        mine = os.fstat(descriptor)

        def lost() -> str | None:
            # Removing the file would let another run lock a new one beside this lock.
            try:
                current = os.stat(lock_path)
            except FileNotFoundError:
                return f"its lock file {lock_path} was removed"
            if (current.st_ino, current.st_dev) != (mine.st_ino, mine.st_dev):
                return f"its lock file {lock_path} was replaced"
            return None

        try:
            os.ftruncate(descriptor, 0)
            os.write(descriptor, holder_name().encode())
            yield LockInfo(info.alias, time.monotonic() - started, scope=str(path), lost=lost)
        finally:
            lock_path.unlink(missing_ok=True)
            os.close(descriptor)  # closing releases the lock (so does the process dying)

    @contextmanager
    def guard(self, guard: Guard) -> Iterator[None]:
        """Nothing to add: the lock is a file lock of this process, which cannot be lost to a
        dying connection, and SQLite has no session settings of migrator's."""
        yield


def _acquire(lock_path: Path, started: float, timeout: float, wait: LockWait) -> int:
    announced = False
    while True:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            if time.monotonic() - started >= timeout:
                raise LockTimeout(f"held by {_holder(lock_path)} (lock file {lock_path})") from None
            if not announced:
                announced = True
                wait.waiting(f"held by {_holder(lock_path)} (lock file {lock_path})")
            stop = wait.should_stop()
            if stop:
                raise LockInterrupted(stop) from None
            time.sleep(0.1)
            continue
        try:
            current = os.stat(lock_path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(descriptor)
        if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
            return descriptor
        os.close(descriptor)  # the holder removed this file as we got it: take the new one


def _holder(lock_path: Path) -> str:
    try:
        return lock_path.read_text().strip() or "another process"
    except FileNotFoundError:
        return "another process"
