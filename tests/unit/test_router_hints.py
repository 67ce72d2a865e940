"""The doctor's probe of which hints the routers read: routers of every shape, called with a
recording mapping; no settings, no database."""

from __future__ import annotations

from typing import Any

from migrator.project.router_hints import RouterHints, probe_routers

ALIASES = ("default", "other")
APPS = ("shop", "blog")
NAME = f"{__name__}."


def probe(*routers: object) -> list[RouterHints]:
    return probe_routers(ALIASES, APPS, routers)


def keys(found: list[RouterHints]) -> list[tuple[str, tuple[str, ...]]]:
    return [(item.router.removeprefix(NAME), item.keys) for item in found]


class TargetDb:
    """The "Data migrations and multiple databases" how-to's router."""

    def allow_migrate(self, db: str, app_label: str, model_name: Any = None, **hints: Any) -> Any:
        if "target_db" in hints:
            return db == hints["target_db"]
        return True


class Subscript:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> Any:
        try:
            return db in hints["tables"]
        except KeyError:
            return None


class Named:
    def allow_migrate(self, db: str, app_label: str, target_db: Any = None, **hints: Any) -> Any:
        return None if target_db is None else db == target_db


class ModelNameOnly:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> Any:
        return None if hints.get("model_name") != "order" else db == "other"


class Helper:
    """Hands the mapping itself to a helper, and reads it in a closure."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> Any:
        def wanted() -> Any:
            return hints.get("wanted")

        return self._decide(db, hints) or wanted()

    def _decide(self, db: str, hints: dict[str, Any]) -> Any:
        return hints.get("db") == db


class Static:
    @staticmethod
    def allow_migrate(db: str, app_label: str, **hints: Any) -> Any:
        return hints.get("static") == db


class OneApp:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> Any:
        if app_label == "shop":
            return hints.get("target_db", "default") == db
        return None


class Raising:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> Any:
        raise RuntimeError(hints["boom"])


class VarArgs:
    def allow_migrate(self, *args: Any, **hints: Any) -> Any:
        return hints.get("hidden")


class CallableObject:
    class _Call:
        def __call__(self, db: str, app_label: str, **hints: Any) -> Any:
            return hints.get("hidden")

    allow_migrate = _Call()


class NoAllowMigrate:
    def db_for_read(self, model: Any, **hints: Any) -> None:
        return None


def test_the_keys_each_router_reads() -> None:
    routers = [TargetDb(), Subscript(), Named(), ModelNameOnly(), Helper(), Static(), Raising()]
    assert keys(probe(*routers)) == [
        ("TargetDb", ("target_db",)),
        ("Subscript", ("tables",)),
        ("Named", ("target_db",)),
        ("Helper", ("db", "wanted")),
        ("Static", ("static",)),
        ("Raising", ("boom",)),
    ]


def test_routers_the_probe_cannot_read_are_left_out() -> None:
    assert probe(VarArgs(), CallableObject(), NoAllowMigrate()) == []


def test_keys_by_app_and_hints_only() -> None:
    (one_app,) = probe(OneApp())
    assert dict(one_app.keys_by_app) == {"shop": frozenset({"target_db"})}
    # Without hints shop is allowed on default: not hints-only; it reads app_label.
    assert (one_app.hints_only, one_app.reads_app_label) == (False, True)
    (subscript,) = probe(Subscript())
    assert (subscript.hints_only, subscript.reads_app_label) == (True, False)
    (target_db,) = probe(TargetDb())
    assert (target_db.hints_only, target_db.reads_app_label) == (False, False)
    (named,) = probe(Named())
    assert (named.hints_only, named.reads_app_label) == (True, False)


def test_the_router_itself_is_unchanged() -> None:
    router = TargetDb()
    probe(router)
    assert router.allow_migrate("default", "shop", target_db="other") is False
    assert router.allow_migrate("other", "shop", **{"target_db": "other"}) is True
    assert type(router).allow_migrate.__code__.co_flags & 0x08  # still takes **hints
