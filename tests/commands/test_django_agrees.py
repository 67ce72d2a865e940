"""After migrate_all, Django's own commands agree with it on every alias it migrated, and the
migrate signals arrive as Django's ``migrate --database X`` sends them (issue 12)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models.signals import post_migrate, pre_migrate

from tests.helpers import run

MIGRATED = ("default", "users_db", "analytics_db", "legacy_db", "cache_db")


def test_djangos_migrate_check_and_showmigrations_agree(sqlite_project: Path) -> None:
    _, err, code = run("migrate_all", interactive=False)
    assert (code, err) == (0, "")
    for alias in MIGRATED:
        # migrate --check exits with SystemExit(1) when anything is unapplied on the alias.
        call_command("migrate", check_unapplied=True, database=alias, verbosity=0)
        out, err, code = run("showmigrations", database=alias, plan=True)
        assert (code, err) == (0, "")
        assert "[ ]" not in out, (alias, out)
        assert out.count("[X]") == 23


Signal = tuple[str, str, int, frozenset[str]]


@pytest.fixture
def signals() -> Iterator[list[Signal]]:
    """(signal, using, plan length, app labels in apps) per pre/post_migrate sent for the
    contenttypes app (Django sends one per app config; one app stands for the emission)."""
    sent: list[Signal] = []

    def receiver(name: str) -> Any:
        def record(sender: Any, using: str, plan: Any, apps: Any, **kwargs: Any) -> None:
            if sender.label == "contenttypes":
                labels = frozenset(config.label for config in apps.get_app_configs())
                sent.append((name, using, len(plan), labels))

        return record

    pre, post = receiver("pre"), receiver("post")
    pre_migrate.connect(pre, weak=False)
    post_migrate.connect(post, weak=False)
    yield sent
    pre_migrate.disconnect(pre)
    post_migrate.disconnect(post)


ALL_APPS = frozenset(
    {"contenttypes", "auth", "users", "blog", "shop", "analytics", "legacy", "cache"}
)


def test_one_pre_and_one_post_migrate_per_alias(
    sqlite_project: Path, signals: list[Signal]
) -> None:
    _, err, code = run("migrate_all", interactive=False)
    assert (code, err) == (0, "")
    pre = [s for s in signals if s[0] == "pre"]
    post = [s for s in signals if s[0] == "post"]
    assert sorted(s[1] for s in pre) == sorted(MIGRATED)
    assert sorted(s[1] for s in post) == sorted(MIGRATED)
    for _name, using, plan, labels in pre:
        assert plan == 23, using  # the plan migrate --database X runs there: every migration
        assert not labels & ALL_APPS, using  # fresh database: no migration applied yet
    for _name, using, plan, labels in post:
        assert plan == 23, using
        assert labels >= ALL_APPS, using  # every app's models, as after Django's loop


def test_content_types_and_permissions_for_every_app_on_default(sqlite_project: Path) -> None:
    _, err, code = run("migrate_all", interactive=False)
    assert (code, err) == (0, "")
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    labels = set(ContentType.objects.using("default").values_list("app_label", flat=True))
    assert {"users", "analytics", "legacy", "cache", "blog", "shop"} <= labels
    codenames = set(Permission.objects.using("default").values_list("codename", flat=True))
    assert {"add_user", "view_event", "change_cacheentry", "delete_customernote"} <= codenames


def test_doctor_names_a_data_migration_that_runs_away_from_its_tables(tmp_path: Path) -> None:
    """W007: the target_db scenario's RunPython runs on 'other', where none of places' tables
    are; the doctor names it and the hints that send it there, as a warning (a run goes on)."""
    import json

    from tests.helpers import manage

    databases = {
        alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / f"{alias}.db")}
        for alias in ("default", "other")
    }
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.parity.target_db.settings",
        "PARITY_DATABASES": json.dumps(databases),
    }
    result = manage("migrate_all", "--doctor", "--json", env=env)
    assert result.returncode == 0, result.stderr
    findings = [f for f in json.loads(result.stdout)["findings"] if f["id"] == "migrator.W007"]
    assert [(f["level"], f["alias"], f["obj"]) for f in findings] == [
        ("warning", "other", "places.0002_copy_to_other")
    ]
    assert findings[0]["message"] == (
        "places.0002_copy_to_other has a RunPython that executes on other, where none of "
        "'places''s tables are (they are on default): the routers allow it there with hints "
        "'target_db' (allow_migrate(db, 'places', target_db='other'))."
    )
    assert list(tmp_path.iterdir()) == []  # the doctor connects to nothing


def test_signals_follow_the_steps_with_work(sqlite_project: Path, signals: list[Signal]) -> None:
    """default has two steps (contenttypes, then auth/blog/shop); when only the second has work,
    pre_migrate still goes before it and post_migrate after it, once each."""
    run("migrate_all", interactive=False)
    run("migrate_all", target="blog:0001", interactive=False)
    signals.clear()
    _, err, code = run("migrate_all", interactive=False)
    assert (code, err) == (0, "")
    assert [(name, using, plan) for name, using, plan, _labels in signals] == [
        ("pre", "default", 1),
        ("post", "default", 1),
    ]
