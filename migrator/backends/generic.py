"""Other vendors (Oracle, third-party backends): reachability only, no lock, no session settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

from migrator.backends import NO_WAIT, Guard, LockWait
from migrator.text import first_line
from migrator.types import AliasInfo, LockInfo, Missing, Probe


class Generic:
    def probe(self, info: AliasInfo, timeout: float, *, writes: bool = True) -> Probe:
        try:
            connections[info.alias].ensure_connection()
        except Exception as exc:
            return Probe(info, reachable=False, problems=(f"cannot connect: {first_line(exc)}",))
        return Probe(info)

    def create(self, missing: Missing, timeout: float) -> None:
        raise NotImplementedError(f"cannot create {missing} on this vendor")

    @contextmanager
    def lock(self, info: AliasInfo, timeout: float, wait: LockWait = NO_WAIT) -> Iterator[LockInfo]:
        yield LockInfo(info.alias, 0.0)

    @contextmanager
    def guard(self, guard: Guard) -> Iterator[None]:
        yield
