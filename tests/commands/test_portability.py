"""Platforms without POSIX's fcntl (flock) or without the fork start method (Windows): the commands
still import and run, SQLite is locked with an exclusively created lock file, and --parallel says
once that it runs serially. Absence is simulated: ``sys.modules["fcntl"] = None`` makes every
``import fcntl`` fail, and ``multiprocessing.get_all_start_methods`` answers as on Windows."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
from importlib.util import find_spec
from pathlib import Path

import pytest
from django.db import connections

from migrator.backends import LockTimeout
from migrator.backends.sqlite import SQLite, has_flock
from migrator.execution.schedule import no_fork_notice
from migrator.types import AliasInfo
from tests.commands.test_parallel import snapshot
from tests.conftest import aliases_pointed_at, sqlite_entry
from tests.helpers import (
    ALIASES,
    MANAGE,
    OUTPUTS,
    REPO,
    every_migration,
    run,
    sqlite_recorded,
    sqlite_tables,
)

DONE = "Done: 22 migrations applied, 93 only recorded on 5 databases."
# What the child runs before manage.py: the platform it pretends to be.
NO_FCNTL = "sys.modules['fcntl'] = None"
NO_FORK = "multiprocessing.get_all_start_methods = lambda: ['spawn']"


def manage_on(platform: list[str], *args: str, var: Path) -> subprocess.CompletedProcess[str]:
    """``manage.py ARGS`` in a child process that first applies ``platform``'s statements."""
    code = textwrap.dedent(
        f"""
        import multiprocessing, runpy, sys
        {"; ".join(platform)}
        sys.argv = [{str(MANAGE)!r}, *sys.argv[1:]]
        runpy.run_path({str(MANAGE)!r}, run_name="__main__")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGRATOR_")}
    env.update(PYTHONPATH=str(REPO), MIGRATOR_VAR_DIR=str(var))
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=180,
        check=False,
    )
    OUTPUTS.extend((result.stdout, result.stderr))
    return result


# Standard modules that exist on POSIX only (Windows has none of them).
POSIX_ONLY = ("fcntl", "termios", "tty", "pty", "pwd", "grp", "resource")
# The Celery executor's modules import Celery, whose billiard imports fcntl where sys.platform
# says POSIX (this simulation cannot change sys.platform; on Windows billiard takes its own
# branch): they are left out of the walk, and the commands never import them unless
# --executor celery is chosen (tested below: every command's import).
CELERY_MODULES = ("migrator.execution.celery_steps", "migrator.tasks")
# Modules of an extra whose package this venv may lack (django-health-check needs Django 5.2+).
EXTRA_MODULES = {"migrator.contrib.health_check": "health_check"}


def left_out() -> tuple[str, ...]:
    """The modules the walk does not import: Celery's, and those of extras not installed."""
    missing = [name for name, package in EXTRA_MODULES.items() if not find_spec(package)]
    return (*CELERY_MODULES, *missing)


def test_every_module_imports_without_posix_only_modules() -> None:
    code = textwrap.dedent(
        f"""
        import importlib, os, pkgutil, sys
        for name in {POSIX_ONLY!r}:
            sys.modules[name] = None
        os.environ["DJANGO_SETTINGS_MODULE"] = "testproject.settings"
        import django
        django.setup()
        import migrator
        names = [m.name for m in pkgutil.walk_packages(migrator.__path__, "migrator.")]
        names = [name for name in names if name not in {left_out()!r}]
        for name in names:
            importlib.import_module(name)
        print(len(names), "modules imported; menu:", "migrator.cli.menu" in sys.modules)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(REPO), str(REPO / "testproject")))}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    count = sum(1 for path in (REPO / "migrator").rglob("*.py") if path.name != "__init__.py")
    count += sum(1 for path in (REPO / "migrator").rglob("*/__init__.py"))  # the subpackages
    count -= len(left_out())
    assert result.stdout == f"{count} modules imported; menu: True\n"


def test_without_fcntl_and_fork_every_command_imports_and_runs(tmp_path: Path) -> None:
    windows_like = [NO_FCNTL, NO_FORK]
    # Both commands import (the menu's too: --auto plans without a terminal).
    plan = manage_on(windows_like, "migrator", "--auto", "--plan", var=tmp_path)
    assert (plan.returncode, plan.stderr) == (0, ""), plan.stdout
    assert plan.stdout.startswith("Plan: 6 steps in 2 levels on 5 databases")
    doctor = manage_on(windows_like, "migrate_all", "--doctor", var=tmp_path)
    assert (doctor.returncode, doctor.stdout, doctor.stderr) == (
        0,
        "Routing doctor: no problems found on 6 databases.\n",
        "",
    )

    result = manage_on(windows_like, "migrate_all", "--noinput", "--parallel", "4", var=tmp_path)
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    lines = result.stdout.splitlines()
    # Said once, right after the plan's overview, and not prefixed with an alias.
    assert lines[1] == (
        "Running the steps one after another instead of in 4 parallel workers: this platform has "
        "no 'fork' start method (multiprocessing), which the workers need."
    )
    assert lines.count(lines[1]) == 1
    assert lines[-1] == DONE
    assert sqlite_recorded(tmp_path / "users_db.sqlite3") == set(every_migration())
    assert not list(tmp_path.glob("*.migrator-lock"))  # every lock file removed on release

    again = manage_on(windows_like, "migrate_all", "--check", var=tmp_path)
    assert (again.returncode, again.stderr) == (0, "")


def test_without_fcntl_a_lock_file_left_behind_names_its_holder_and_the_fix(
    tmp_path: Path,
) -> None:
    """Without flock the file's existence is the lock: a file nobody flock-s still blocks (with
    flock it would not), and the message says which file to delete once its run has ended."""
    lock_file = tmp_path / "cache_db.sqlite3.migrator-lock"
    lock_file.write_text("django-migrator pid 4242 on host-b")
    args = ("migrate_all", "--noinput", "--database", "cache_db", "--lock-timeout", "0.3")
    blocked = manage_on([NO_FCNTL], *args, var=tmp_path)
    assert blocked.returncode == 1
    assert (
        "could not lock cache_db within 0.3s: held by django-migrator pid 4242 on host-b (lock "
        f"file {lock_file}; this platform has no flock, so a run that died leaves its lock file "
        "behind: if that run has ended, delete the file). Another migrate_all/migrator run is "
        "migrating it"
    ) in blocked.stdout
    assert "django_migrations" not in sqlite_tables(tmp_path / "cache_db.sqlite3")
    # The refused run took nothing away: the file is not its to remove.
    assert lock_file.read_text() == "django-migrator pid 4242 on host-b"

    lock_file.unlink()
    freed = manage_on([NO_FCNTL], *args, var=tmp_path)
    assert (freed.returncode, freed.stderr) == (0, ""), freed.stdout
    assert sqlite_recorded(tmp_path / "cache_db.sqlite3") == set(every_migration())
    assert not lock_file.exists()


def sqlite_info(path: Path) -> AliasInfo:
    return AliasInfo("cache_db", "sqlite", "django.db.backends.sqlite3", str(path))


def test_created_lock_file_excludes_a_second_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "fcntl", None)
    assert not has_flock()
    info = sqlite_info(tmp_path / "cache.sqlite3")
    lock_file = tmp_path / "cache.sqlite3.migrator-lock"
    with SQLite().lock(info, timeout=1) as held:
        assert lock_file.read_text().startswith(f"django-migrator pid {os.getpid()} on ")
        assert held.lost() is None
        with pytest.raises(LockTimeout) as second, SQLite().lock(info, timeout=0.2):
            pytest.fail("two holders of one lock")
        assert str(second.value).startswith(f"held by django-migrator pid {os.getpid()} on ")
        assert lock_file.exists()  # the refused waiter removed nothing
    assert not lock_file.exists()
    with SQLite().lock(info, timeout=0) as again:  # free again at once
        lock_file.unlink()
        assert again.lost() == f"its lock file {lock_file} was removed"
        lock_file.write_text("another run")
        assert again.lost() == f"its lock file {lock_file} was replaced"
    assert lock_file.read_text() == "another run"  # release never removes another run's file


def test_parallel_without_fork_runs_serially_in_this_process(
    tmp_path: Path, unblocked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork() -> int:
        raise AssertionError("forked although the platform cannot")

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    monkeypatch.setattr(os, "fork", no_fork)
    results = {}
    for name, options in (("serial", {}), ("parallel", {"parallel": "4"})):
        folder = tmp_path / name
        folder.mkdir()
        with aliases_pointed_at({a: sqlite_entry(folder / f"{a}.sqlite3") for a in ALIASES}):
            results[name] = run("migrate_all", **options)
            for alias in ALIASES:
                connections[alias].close()
    out, err, code = results["parallel"]
    assert (code, err) == (0, "")
    assert out.splitlines()[1] == no_fork_notice(4)
    assert out.count(no_fork_notice(4)) == 1
    assert out.splitlines()[-1] == DONE
    assert snapshot(tmp_path / "serial") == snapshot(tmp_path / "parallel")
    assert no_fork_notice(4) not in results["serial"][0]
