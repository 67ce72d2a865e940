"""The testproject reads its database URLs with dj-database-url (issue 14); until then it had a
parser of its own, kept below as it was. For every URL the tests, the Makefile and the README use,
the DATABASES entry Django completes is the old one but for what dj-database-url types or spells
out (pinned exactly below), and Django hands the drivers the same connection parameters."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
from django.db.utils import ConnectionHandler, load_backend

from tests.helpers import REPO, SPECIAL_PASSWORD, URL_PASSWORD
from tests.integration.conftest import Servers

_OLD_ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "pgsql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
    "sqlite": "django.db.backends.sqlite3",
}


def old_parse(url: str) -> dict[str, Any]:
    """testproject/testproject/dburl.py's ``parse`` as it was before dj-database-url."""
    parts = urlsplit(url)
    engine = _OLD_ENGINES[parts.scheme]
    if engine.endswith("sqlite3"):
        return {"ENGINE": engine, "NAME": unquote(parts.path[1:]) or ":memory:"}
    return {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": dict(parse_qsl(parts.query)),
    }


def written_in(path: Path) -> list[str]:
    """The ``MIGRATOR_DB_...=URL`` values written in a Makefile or a README."""
    return re.findall(r"MIGRATOR_DB_\w+='?([a-z]+://[^'\s`\\]+)", path.read_text())


MAKEFILE = written_in(REPO / "Makefile")
README = written_in(REPO / "README.md")
SERVERS = list(
    Servers(site="site", users="users", legacy="legacy", tmp=Path("/tmp")).env().values()
)
URLS = [
    *MAKEFILE,
    *README,
    *(url for url in SERVERS if "://" in url),  # tests/integration/conftest.py
    f"postgres://app:{URL_PASSWORD}@127.0.0.1:1/users?connect_timeout=2",  # test_subprocess.py
    "postgres:///?service=migrator_users",  # test_option_files.py
    "mysql:///?read_default_file=/tmp/my.cnf",  # test_option_files.py
    # Accepted before, used nowhere: still accepted, with the same entries.
    "mariadb://root@127.0.0.1:3306/legacy",
    f"postgres://app:{quote(SPECIAL_PASSWORD, safe='')}@db.internal/rules",
    "sqlite:///var/site.sqlite3",
    "sqlite:////tmp/site.sqlite3",
    "sqlite://",
]


def test_the_urls_are_the_ones_written_down() -> None:
    assert len(MAKEFILE) == 4
    assert len(README) == 3
    assert (
        "postgres://postgres@127.0.0.1:5432/migrator_demo_site?options=-c%20search_path%3Danalytics"
        in MAKEFILE
    )
    assert "mysql://root@127.0.0.1:3306/migrator_demo_legacy" in MAKEFILE
    assert (
        "postgres://postgres:pg-Secret-never-shown@127.0.0.1:5432/site"
        "?options=-c%20search_path%3Danalytics"
    ) in SERVERS


def parsed_by_the_settings(url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from testproject import settings

    monkeypatch.setenv("MIGRATOR_DB_USERS_DB", url)
    return settings.database("users_db")


def completed(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as Django's connection handler completes it (the defaults of every key)."""
    completed: dict[str, Any] = ConnectionHandler().configure_settings(
        {"default": copy.deepcopy(entry)}
    )["default"]
    return completed


@pytest.mark.parametrize("url", URLS)
def test_same_entry_as_the_old_parser(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old = completed(old_parse(url))
    new = completed(parsed_by_the_settings(url, monkeypatch))
    # What dj-database-url does differently, all of it: the port as a number, digit-only query
    # values as numbers, and Django's default for server-side cursors spelled out.
    expected = {
        **old,
        "PORT": int(old["PORT"]) if old["PORT"] else "",
        "OPTIONS": {k: int(v) if v.isdigit() else v for k, v in old["OPTIONS"].items()},
        "DISABLE_SERVER_SIDE_CURSORS": False,
    }
    assert new == expected


def driver_parameters(entry: dict[str, Any]) -> dict[str, str]:
    """What Django's backend hands the driver to connect, every value as text (as libpq and
    mysqlclient read a port or a connect_timeout); objects made per call left out."""
    wrapper = load_backend(entry["ENGINE"]).DatabaseWrapper(completed(entry), "probe")
    parameters = wrapper.get_connection_params()
    return {key: str(value) for key, value in parameters.items() if key != "context"}


@pytest.mark.parametrize("url", [url for url in URLS if not url.startswith("sqlite")])
def test_django_connects_with_the_same_parameters(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert driver_parameters(parsed_by_the_settings(url, monkeypatch)) == driver_parameters(
        old_parse(url)
    )
