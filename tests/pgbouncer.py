"""A private PgBouncer in front of the PostgreSQL server of this machine, for the lock tests.

``bouncer(names, pool_mode=...)`` starts ``pgbouncer`` on a free port of 127.0.0.1 for the given
databases (of 127.0.0.1:5432), waits until it accepts connections, and stops it on exit. Its
pools are small and opened in full before the test starts: in transaction pooling, clients take
turns on the same few server connections, as they do in production, so a session-level lock
taken through it sits on a server connection that other clients' transactions use too.

PgBouncer refuses to run as root: as root it is started with ``-u postgres`` and keeps its files
in a temporary folder that user owns. Without PgBouncer the tests fail under CI=true and skip
elsewhere with the command that installs it (``.ci/system-deps`` does, as ``make install`` runs).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.servers import PG, pg_entry

INSTALL = "sudo apt-get install pgbouncer (or: sh .ci/system-deps as root)"
DEBIAN_PATH = "/usr/sbin/pgbouncer"  # not on a non-root user's PATH
RUN_AS = "postgres"  # the user PgBouncer switches to when started as root
STARTUP_SECONDS = 10.0
PoolMode = Literal["transaction", "session"]


def pgbouncer_binary() -> str:
    """The pgbouncer executable; fails under CI=true and skips elsewhere when there is none."""
    found = shutil.which("pgbouncer") or (DEBIAN_PATH if os.access(DEBIAN_PATH, os.X_OK) else None)
    if found:
        return found
    message = f"PgBouncer is not installed (no pgbouncer on PATH nor {DEBIAN_PATH}); install it: {INSTALL}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Bouncer:
    """A running PgBouncer: where it listens and how it pools."""

    port: int
    pool_mode: PoolMode
    default_pool_size: int
    folder: Path  # its configuration and log

    @property
    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else "(no log written)"

    def entry(self, name: str, **extra: Any) -> dict[str, Any]:
        """A Django DATABASES entry for ``name`` through this bouncer, as a PgBouncer deployment
        configures one: no persistent connections (a pooler pools), no server-side cursors (they
        would not survive the transaction in transaction pooling), no prepared statements
        (psycopg 3 prepares a query it runs often on a server connection the next transaction
        may not get; Django's default, stated here because a deployment states it)."""
        options = {"prepare_threshold": None, **extra.pop("OPTIONS", {})}
        return pg_entry(
            name,
            PORT=str(self.port),
            CONN_MAX_AGE=0,
            DISABLE_SERVER_SIDE_CURSORS=True,
            OPTIONS=options,
            **extra,
        )

    def connect(self, name: str) -> Any:
        """An autocommit psycopg connection to ``name`` through the bouncer."""
        import psycopg

        return psycopg.connect(
            host=str(PG["host"]),
            port=self.port,
            user=str(PG["user"]),
            dbname=name,
            autocommit=True,
            connect_timeout=3,
            prepare_threshold=None,
        )


def _config(
    names: Sequence[str],
    folder: Path,
    port: int,
    pool_mode: PoolMode,
    default_pool_size: int,
    ignore_startup_parameters: str,
    aliases: Mapping[str, str],
) -> str:
    entries = {**{name: name for name in names}, **aliases}
    databases = "\n".join(
        f"{name} = host={PG['host']} port={PG['port']} dbname={real}"
        for name, real in entries.items()
    )
    return f"""\
[databases]
{databases}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
logfile = {folder / "pgbouncer.log"}
auth_type = trust
auth_file = {folder / "userlist.txt"}
pool_mode = {pool_mode}
default_pool_size = {default_pool_size}
reserve_pool_size = 0
max_client_conn = 200
ignore_startup_parameters = {ignore_startup_parameters}
; each transaction takes the server connection idle the longest: clients really share them
server_round_robin = 1
; a client that waits for a server connection gets an error instead of hanging a test
query_wait_timeout = 30
"""


@contextmanager
def bouncer(
    names: Sequence[str],
    *,
    pool_mode: PoolMode = "transaction",
    default_pool_size: int = 3,
    ignore_startup_parameters: str = "extra_float_digits",
    users: Sequence[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> Iterator[Bouncer]:
    """PgBouncer in front of 127.0.0.1:5432 for the databases ``names``, on a free port.

    ``ignore_startup_parameters``: with ``options`` in it, PgBouncer 1.18 accepts a client's
    ``options`` (``-c search_path=...``) and silently drops it (the server's search_path
    applies); without, it refuses the client: "unsupported startup parameter: options".
    ``default_pool_size``: server connections per database, all opened before this yields.
    ``users``: roles that may log in besides the superuser.
    ``aliases``: PgBouncer database names for databases of other names (alias -> database).
    Shows PgBouncer's log when it does not start, and when the body fails.
    """
    binary = pgbouncer_binary()
    folder = Path(tempfile.mkdtemp(prefix="migrator-pgbouncer-"))
    port = free_port()
    (folder / "pgbouncer.ini").write_text(
        _config(
            names,
            folder,
            port,
            pool_mode,
            default_pool_size,
            ignore_startup_parameters,
            aliases or {},
        )
    )
    logins = dict.fromkeys((str(PG["user"]), *users))  # auth_type trust: any password
    (folder / "userlist.txt").write_text("".join(f'"{user}" ""\n' for user in logins))
    command = [binary, "-q"]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root: it switches to RUN_AS
        account = pwd.getpwnam(RUN_AS)
        for path in (folder, *folder.iterdir()):
            os.chown(path, account.pw_uid, account.pw_gid)
        command += ["-u", RUN_AS]
    command.append(str(folder / "pgbouncer.ini"))
    with open(folder / "stderr.txt", "wb") as stderr:  # what it says before its log is open
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
        )
    running = Bouncer(port, pool_mode, default_pool_size, folder)
    try:
        _wait_until_it_accepts(process, running, names[0])
        for name in names:
            _fill_pool(running, name)
        yield running
    except BaseException as exc:
        if isinstance(exc, pytest.skip.Exception):
            raise
        sys.stderr.write(f"--- PgBouncer's log ({folder / 'pgbouncer.log'}):\n{running.log}\n")
        raise
    finally:
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_it_accepts(process: subprocess.Popen[bytes], running: Bouncer, name: str) -> None:
    """Connect through it until a query answers, for at most STARTUP_SECONDS."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if process.poll() is not None:
            stderr = (running.folder / "stderr.txt").read_text(errors="replace")
            pytest.fail(
                f"pgbouncer exited with code {process.returncode} at startup: {stderr}\n"
                f"log:\n{running.log}"
            )
        try:
            with running.connect(name) as connection:
                connection.execute("SELECT 1")
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"pgbouncer on 127.0.0.1:{running.port} did not accept a connection within "
                    f"{STARTUP_SECONDS:g}s: {exc}\nlog:\n{running.log}"
                )
        time.sleep(0.05)


def _fill_pool(running: Bouncer, name: str) -> None:
    """Make PgBouncer open every server connection of ``name``'s pool now: as many clients as
    the pool has connections, each in a transaction at once. Otherwise it opens them only as
    clients ask, and a run's statements would all land on the first one. With them all open
    (and ``server_round_robin``), consecutive transactions of one client take turns on them."""
    clients = [running.connect(name) for _ in range(running.default_pool_size)]
    try:
        backends = set()
        for client in clients:
            client.autocommit = False
            backends.add(client.execute("SELECT pg_backend_pid()").fetchone()[0])
        assert len(backends) == running.default_pool_size, backends
        for client in clients:
            client.rollback()  # a client leaving in a transaction would take its server along
    finally:
        for client in clients:
            client.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM: PgBouncer closes every connection and exits at once."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
