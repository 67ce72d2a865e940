"""A TCP server that accepts connections and never answers (a database server that hangs), and
counts the connections open on it at the same moment: what bounded concurrency must limit.

No pytest here: the benchmarks use it too."""

from __future__ import annotations

import selectors
import socket
import threading
from types import TracebackType


class SilentListener:
    """``with SilentListener() as silent:`` listens on 127.0.0.1:``silent.port``; ``peak`` is
    the most connections that were open at once, ``total`` how many were accepted. A client
    that gives up (its connect timeout) closes its socket, which ends its count."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(256)
        self.server.setblocking(False)
        self.port = str(self.server.getsockname()[1])
        self.open = 0
        self.peak = 0
        self.total = 0
        self._wake, self._stop = socket.socketpair()
        self._selector = selectors.DefaultSelector()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._accepted = threading.Condition()

    def __enter__(self) -> SilentListener:
        self._selector.register(self.server, selectors.EVENT_READ, "accept")
        self._selector.register(self._stop, selectors.EVENT_READ, "stop")
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._wake.send(b"x")
        self._thread.join(timeout=10)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()
        self._wake.close()

    def wait_for(self, total: int, timeout: float) -> bool:
        """Block until ``total`` connections were accepted (a hand-off, not a sleep); False when
        ``timeout`` seconds (a guard against a hang) passed first."""
        with self._accepted:
            return self._accepted.wait_for(lambda: self.total >= total, timeout)

    def _serve(self) -> None:
        while True:
            for key, _ in self._selector.select():
                if key.data == "stop":
                    return
                if key.data == "accept":
                    try:
                        client, _ = self.server.accept()
                    except BlockingIOError:
                        continue
                    client.setblocking(False)
                    self._selector.register(client, selectors.EVENT_READ, "client")
                    with self._accepted:
                        self.open += 1
                        self.total += 1
                        self.peak = max(self.peak, self.open)
                        self._accepted.notify_all()
                    continue
                client = key.fileobj  # type: ignore[assignment]
                try:
                    data = client.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:  # the client gave up and closed its end
                    self._selector.unregister(client)
                    client.close()
                    self.open -= 1
