"""SQLite: the file's folder exists and takes new files; an exclusive lock file beside the database
(flock-ed where the platform has flock, created exclusively elsewhere)."""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from migrator.backends import NO_WAIT, Guard, LockWait, acquire, holder_name
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


def _folder_denies_files(folder: Path) -> str:
    """``_folder_refuses_files`` where nothing may be written (--plan, --check): the permission
    bits for this user, which is what the system says without a try."""
    return "" if os.access(folder, os.W_OK | os.X_OK) else "permission denied"


class SQLite:
    def probe(self, info: AliasInfo, timeout: float, *, writes: bool = True) -> Probe:
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
        refused = _folder_refuses_files(folder) if writes else _folder_denies_files(folder)
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
        """An exclusive lock file ``<database>.migrator-lock`` that names its holder; removed on
        release.

        Where the platform has ``flock`` (POSIX), the file is flock-ed: the lock ends with the
        process that holds it, and a waiter that wins the lock on a file its holder has just
        removed sees that the path no longer names its file and tries again, so two runs never
        both hold the lock. Elsewhere (Windows) the file's existence is the lock: it is created
        with ``O_CREAT | O_EXCL``; a run that dies leaves it behind, and whoever waits for it is
        told which file to delete.
        """
        path = database_file(info)
        if path is None:
            yield LockInfo(info.alias, 0.0)  # an in-memory database is private to this process
            return
        path = path.resolve()  # two spellings of one file get one lock
        lock_path = path.with_name(path.name + ".migrator-lock")
        started = time.monotonic()
        flock = has_flock()
        take = _take_flocked if flock else _take_created
        held: list[int] = []

        def attempt(waited_before: bool) -> bool:
            descriptor = take(lock_path)
            if descriptor is not None:
                held.append(descriptor)
            return descriptor is not None

        acquire(attempt, lambda: _holder(lock_path, flock), timeout, wait, pause=0.1)
        descriptor = held[0]
        mine = os.fstat(descriptor)

        def ours() -> bool:
            try:
                current = os.stat(lock_path)
            except FileNotFoundError:
                return False
            return (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev)

        def lost() -> str | None:
            # Removing the file would let another run lock a new one beside this lock.
            if ours():
                return None
            if not lock_path.exists():
                return f"its lock file {lock_path} was removed"
            return f"its lock file {lock_path} was replaced"

        try:
            os.ftruncate(descriptor, 0)
            os.write(descriptor, holder_name().encode())
            yield LockInfo(info.alias, time.monotonic() - started, scope=str(path), lost=lost)
        finally:
            if flock:
                lock_path.unlink(missing_ok=True)
                os.close(descriptor)  # closing releases the lock (so does the process dying)
            else:
                os.close(descriptor)  # first: Windows deletes no file that is open
                if ours():  # never another run's file that replaced this one
                    _remove(lock_path)

    @contextmanager
    def guard(self, guard: Guard) -> Iterator[None]:
        """Nothing to add: the lock is a file lock of this process, which cannot be lost to a
        dying connection, and SQLite has no session settings of migrator's."""
        yield


def has_flock() -> bool:
    """Whether this platform has ``fcntl.flock`` (POSIX does, Windows does not). ``fcntl`` is
    imported where it is used, never at import time, so that migrator imports everywhere."""
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return False
    return True


def _take_flocked(lock_path: Path) -> int | None:
    """The lock file's descriptor, flock-ed; None while another process holds it."""
    import fcntl

    while True:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return None
        try:
            current = os.stat(lock_path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(descriptor)
        if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
            return descriptor
        os.close(descriptor)  # the holder removed this file as we got it: take the new one


def _take_created(lock_path: Path) -> int | None:
    """The descriptor of the lock file this call created; None while the file exists."""
    try:
        return os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return None


def _remove(lock_path: Path) -> None:
    """Delete a created lock file. Windows refuses while another process has the file open (a
    waiter reading the holder's name, for an instant): try again for up to two seconds."""
    deadline = time.monotonic() + 2.0
    while True:
        try:
            lock_path.unlink(missing_ok=True)
            return
        except PermissionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _holder(lock_path: Path, flock: bool) -> str:
    try:
        name = lock_path.read_text().strip() or "another process"
    except OSError:
        name = "another process"
    if flock:
        return f"held by {name} (lock file {lock_path})"
    return (
        f"held by {name} (lock file {lock_path}; this platform has no flock, so a run that "
        "died leaves its lock file behind: if that run has ended, delete the file)"
    )
