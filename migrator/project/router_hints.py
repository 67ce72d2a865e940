"""Which ``hints`` keys the routers' ``allow_migrate`` read: the routing doctor's probe.

Django asks ``allow_migrate(db, app_label, **hints)``: model operations with ``model_name`` and
``model``, ``RunPython``/``RunSQL`` with the hints their author gave (often none). A router that
decides by other keys (``target_db``, ``tables``, ...) routes data migrations by those hints, so
the doctor wants to know which keys each router reads.

``**hints`` always hands the function a fresh plain dict, so a recording mapping cannot be passed
through it. The probe therefore calls a copy of the router's ``allow_migrate`` whose ``**hints``
parameter is made an ordinary keyword-only parameter (same code, closure and globals): the body
then reads the recording mapping itself. Only routers are called this way, with an empty mapping,
never user data; a router that raises while probed is left to the doctor's E006. Not seen: hints
forwarded with ``**hints`` to another function (that function gets a plain dict again).
"""

from __future__ import annotations

import contextlib
import dis
import inspect as pyinspect
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import router

# The hints Django itself passes for model operations: reading them is routing by model.
MODEL_HINTS = frozenset({"model_name", "model"})


class _RecordingHints(dict[str, Any]):
    """A hints mapping that records the keys a router looks up."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        super().__init__(values or {})
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.read.add(key)
        return super().pop(key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().setdefault(key, default)


@dataclass(frozen=True)
class RouterHints:
    """What one router's ``allow_migrate`` reads from its hints (model_name/model left out)."""

    router: str  # "myproject.routers.DataRouter"
    keys: tuple[str, ...]  # every hint key it reads, sorted
    keys_by_app: Mapping[str, frozenset[str]]  # app label -> the keys read when asked about it
    hints_only: bool  # no app on any alias without hints (None/False), some with them
    reads_app_label: bool  # False: its answer never depends on app_label


@dataclass(frozen=True)
class _Probe:
    call: Callable[..., Any]  # allow_migrate(db, app_label, <hints_name>=mapping)
    hints_name: str | None  # the **hints parameter made keyword-only; None: no **hints
    named: frozenset[str]  # hint keys taken as named parameters (after db, app_label)
    reads_app_label: bool


def _router_name(candidate: object) -> str:
    cls = type(candidate)
    return f"{cls.__module__}.{cls.__qualname__}"


def _reads(code: types.CodeType, name: str) -> bool:
    """The function's body (or a function nested in it) uses the local ``name``."""
    if name in code.co_cellvars:
        return True
    for instruction in dis.get_instructions(code):
        value = instruction.argval
        if value == name or (isinstance(value, tuple) and name in value):
            return True
    return False


def _probe(candidate: object) -> _Probe | None:
    """A copy of ``candidate.allow_migrate`` that reads a mapping we pass; None when it is not a
    plain Python function (a builtin, a callable object, ``*args``)."""
    method = getattr(candidate, "allow_migrate", None)
    func = getattr(method, "__func__", method)
    if not isinstance(func, types.FunctionType):
        return None
    code = func.__code__
    if code.co_flags & pyinspect.CO_VARARGS:
        return None
    bound = pyinspect.ismethod(method)
    parameters = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    skip = 3 if bound else 2  # (self,) db, app_label
    if len(parameters) < skip:
        return None
    named = frozenset(parameters[skip:]) - MODEL_HINTS
    reads_app_label = _reads(code, parameters[skip - 1])
    hints_name = None
    call: Callable[..., Any] = func
    if code.co_flags & pyinspect.CO_VARKEYWORDS:
        # **hints is the local right after the keyword-only parameters: make it the last of them.
        hints_name = code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
        rebuilt = types.FunctionType(
            code.replace(
                co_flags=code.co_flags & ~pyinspect.CO_VARKEYWORDS,
                co_kwonlyargcount=code.co_kwonlyargcount + 1,
            ),
            func.__globals__,
            func.__name__,
            func.__defaults__,
            func.__closure__,
        )
        rebuilt.__kwdefaults__ = func.__kwdefaults__
        call = rebuilt
    if bound:
        call = types.MethodType(call, method.__self__)  # type: ignore[union-attr]
    return _Probe(call, hints_name, named, reads_app_label)


def _answer(method: Callable[..., Any], alias: str, app: str, hints: Mapping[str, Any]) -> bool:
    try:
        return bool(method(alias, app, **hints))
    except Exception:
        return False  # the doctor's E006 reports a router that raises for real questions


def probe_routers(
    aliases: Iterable[str], app_labels: Iterable[str], routers: Sequence[object] | None = None
) -> list[RouterHints]:
    """The routers (``DATABASE_ROUTERS`` by default, in order) whose ``allow_migrate`` reads hint
    keys other than model_name/model, asked about every (alias, app) with an empty recording
    mapping."""
    alias_list, apps = list(aliases), list(app_labels)
    found = []
    for candidate in router.routers if routers is None else routers:
        probe = _probe(candidate)
        if probe is None:
            continue
        by_app: dict[str, frozenset[str]] = {}
        for app in apps:
            read: set[str] = set(probe.named)
            if probe.hints_name is not None:
                for alias in alias_list:
                    hints = _RecordingHints()
                    with contextlib.suppress(Exception):  # E006 reports a raising router
                        probe.call(alias, app, **{probe.hints_name: hints})
                    read |= hints.read
            keys = frozenset(read - MODEL_HINTS)
            if keys:
                by_app[app] = keys
        if not by_app:
            continue
        every = sorted(frozenset().union(*by_app.values()))
        method: Callable[..., Any] = getattr(candidate, "allow_migrate")  # noqa: B009
        pairs = [(alias, app) for app in apps for alias in alias_list]
        without = any(_answer(method, alias, app, {}) for alias, app in pairs)
        hinted = any(
            _answer(method, alias, app, dict.fromkeys(by_app.get(app, ()), value))
            for alias, app in pairs
            for value in (alias, True)
        )
        found.append(
            RouterHints(
                router=_router_name(candidate),
                keys=tuple(every),
                keys_by_app=by_app,
                hints_only=not without and hinted,
                reads_app_label=probe.reads_app_label,
            )
        )
    return found
