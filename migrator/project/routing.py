"""The configured ``DATABASE_ROUTERS``, asked as Django asks them: ``allow_migrate`` per alias and
app (with hints), ``db_for_read``/``db_for_write`` per model; a router that raises or names an
unknown alias is a ``RouterError`` that says which router and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, router
from django.db.models import Model

from migrator.exceptions import RouterError
from migrator.project.databases import not_databases
from migrator.project.loader import counted_models
from migrator.text import first_line


def _router_name(candidate: object) -> str:
    cls = type(candidate)
    return f"{cls.__module__}.{cls.__qualname__}"


def _raised(exc: Exception) -> str:
    return f"raised {type(exc).__name__}: {first_line(exc)}"


def allow_migrate(alias: str, app_label: str, **hints: Any) -> bool:
    """``router.allow_migrate`` that names the router when one raises (``RouterError``)."""
    for candidate in router.routers:
        method = getattr(candidate, "allow_migrate", None)
        if method is None:
            continue
        try:
            allowed = method(alias, app_label, **hints)
        except Exception as exc:
            model = f", model_name={hints['model_name']!r}" if hints.get("model_name") else ""
            raise RouterError(
                _router_name(candidate),
                f"allow_migrate({alias!r}, {app_label!r}{model})",
                _raised(exc),
                "Fix the router; nothing was migrated.",
                raised=True,
            ) from exc  # --traceback shows the router's frame (scrubbed by the command)
        if allowed is not None:
            return bool(allowed)
    return True


def model_aliases(model: type[Model], aliases: Iterable[str]) -> tuple[str, ...]:
    """The aliases whose ``allow_migrate`` accepts ``model``: where its table is created."""
    meta = model._meta
    return tuple(
        alias
        for alias in aliases
        if allow_migrate(alias, meta.app_label, model_name=meta.model_name, model=model)
    )


def any_router_defines(method: str) -> bool:
    """Some router in ``DATABASE_ROUTERS`` has ``method`` (e.g. "db_for_write")."""
    return any(hasattr(candidate, method) for candidate in router.routers)


def db_for(action: str, model: type[Model], aliases: Iterable[str]) -> str:
    """The alias ``db_for_read`` or ``db_for_write`` (``action`` "read" or "write") picks for
    ``model``, asking the routers in turn as Django does (``default`` when none answers).

    Raises ``RouterError`` naming the router that raises or returns an alias not in ``aliases``.
    """
    known = set(aliases)
    name = f"db_for_{action}"
    for candidate in router.routers:
        method = getattr(candidate, name, None)
        if method is None:
            continue
        call = f"{name}({model._meta.label})"
        try:
            chosen = method(model)
        except Exception as exc:
            raise RouterError(
                _router_name(candidate),
                call,
                _raised(exc),
                "Fix the router; nothing was migrated.",
                raised=True,
            ) from exc  # --traceback shows the router's frame (scrubbed by the command)
        if not chosen:
            continue
        if chosen not in known:
            dummy = chosen in not_databases()
            raise RouterError(
                _router_name(candidate),
                call,
                f"returned {chosen!r}, which is "
                + (
                    "not a database (no ENGINE: Django's dummy backend, where every query fails)"
                    if dummy
                    else f"not in DATABASES ({', '.join(sorted(known))})"
                ),
                "Fix the router's alias"
                + (
                    f" or give DATABASES[{chosen!r}] an ENGINE."
                    if dummy
                    else " or add it to DATABASES."
                ),
                raised=False,
            )
        return str(chosen)
    return DEFAULT_DB_ALIAS


def check_write_routes(aliases: Iterable[str], app_labels: Iterable[str]) -> None:
    """``db_for_write`` of every counted model must name a known alias (``RouterError``)."""
    alias_list = list(aliases)
    for app in app_labels:
        for model in counted_models(app):
            db_for("write", model, alias_list)


def routing_matrix(aliases: Iterable[str], app_labels: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """For each app, the aliases (in settings order) the routers allow today's models on.

    The model-level view (the doctor's, and the routing cache's key): an app applies to an alias
    when any of its counted models is allowed there; an app without counted models is asked once
    with ``model_name=None``. The planner asks per migration operation (``project``).
    """
    alias_list = list(aliases)
    matrix: dict[str, tuple[str, ...]] = {}
    for app in app_labels:
        check_write_routes(alias_list, [app])
        models = counted_models(app)
        allowed = []
        for alias in alias_list:
            if models:
                ok = any(
                    allow_migrate(alias, app, model_name=model._meta.model_name, model=model)
                    for model in models
                )
            else:
                ok = allow_migrate(alias, app, model_name=None)
            if ok:
                allowed.append(alias)
        matrix[app] = tuple(allowed)
    return matrix
