"""The package as users get it: built into a wheel and an sdist, installed into a fresh venv
outside the checkout, and run on a copy of the testproject (catches missing package data)."""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from pathlib import Path

import django
import pytest

import migrator
from tests.helpers import REPO

PLAN_FIRST_LINE = (
    "Plan: 6 steps in 2 levels on 5 databases, 22 migrations to run, 93 only to record."
)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would put the checkout on ``sys.path``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MIGRATOR_", "PYTHON", "DJANGO_")) and key != "VIRTUAL_ENV"
    }
    return env | extra


def check(command: list[str | Path], cwd: Path, timeout: float) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` of the checkout: the sdist, and the wheel built from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    check([sys.executable, "-m", "build", "--outdir", out], cwd=REPO, timeout=600)
    return out


def only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}: {found}"
    return found[0]


def wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def test_wheel_holds_every_module_and_the_package_data(dist: Path) -> None:
    wheel = only(dist, "django_migrate_all-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = {
        str(path.relative_to(REPO))
        for path in (REPO / "migrator").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert {
        "migrator/py.typed",
        "migrator/management/commands/migrate_all.py",
        "migrator/management/commands/migrator.py",
    } <= expected
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
    assert not [name for name in names if name.startswith(("tests/", "testproject/"))]


def test_wheel_metadata(dist: Path) -> None:
    metadata = wheel_metadata(only(dist, "*.whl"))
    assert metadata["Name"] == "django-migrate-all"
    assert metadata["Version"] == migrator.__version__
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    classifiers = set(metadata.get_all("Classifier") or [])
    assert {
        "Framework :: Django :: 4.2",
        "Framework :: Django :: 5.2",
        "Framework :: Django :: 6.0",
        "Framework :: Django :: 6.1",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Typing :: Typed",
    } <= classifiers
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL") or [])
    assert set(urls) >= {"Homepage", "Changelog", "Issues"}
    requires = metadata.get_all("Requires-Dist") or []
    django = [req.replace(" ", "") for req in requires if req.startswith("Django")]
    assert len(django) == 1, requires
    # From the oldest to the newest series the matrix tests (test_matrix.py checks that span).
    assert set(django[0][len("Django") :].split(",")) == {">=4.2", "!=5.0.*", "!=5.1.*", "<6.2"}, (
        requires
    )


def test_sdist_holds_what_builds_and_documents_the_package(dist: Path) -> None:
    sdist = only(dist, "django_migrate_all-*.tar.gz")
    top = sdist.name.removesuffix(".tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.removeprefix(f"{top}/") for name in archive.getnames()}
    assert {
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "migrator/__init__.py",
        "migrator/py.typed",
        "migrator/management/commands/migrate_all.py",
    } <= names


def test_installed_wheel_plans_the_testproject(dist: Path, tmp_path: Path) -> None:
    """A fresh venv outside the checkout, the wheel (and the Django of this run) from PyPI, and a
    copy of testproject/ only: ``migrate_all --plan`` must work from the installed package.
    dj-database-url is the testproject's (pyproject's ``demo`` group), not the package's."""
    wheel = only(dist, "*.whl")
    venv = tmp_path / "venv"
    check([sys.executable, "-m", "venv", venv], cwd=tmp_path, timeout=120)
    python = venv / "bin" / "python"
    check(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            wheel,
            f"Django=={django.get_version()}",
            "dj-database-url>=3.0",
        ],
        cwd=tmp_path,
        timeout=600,
    )
    site = shutil.copytree(
        REPO / "testproject", tmp_path / "site", ignore=shutil.ignore_patterns("__pycache__")
    )
    where = check([python, "-c", "import migrator; print(migrator.__file__)"], site, timeout=60)
    assert Path(where.strip()).is_relative_to(venv), where
    var = tmp_path / "var"
    var.mkdir()
    result = subprocess.run(
        [str(python), "manage.py", "migrate_all", "--plan"],
        cwd=site,
        env=clean_env(MIGRATOR_VAR_DIR=str(var)),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == PLAN_FIRST_LINE
    assert not list(var.glob("*")), "--plan must not create database files"
