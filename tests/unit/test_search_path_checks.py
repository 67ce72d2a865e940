"""The search_path as PostgreSQL reads it, and the preflight checks made of it: pure functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.backends.pgoptions import (
    dropped_search_path,
    fold,
    long_names,
    no_schema,
    parse_search_path,
    schemas_to_create,
    search_path,
    truncated,
)
from migrator.backends.sqlite import SQLite
from migrator.exceptions import ConfigurationError
from migrator.preflight import problems
from migrator.types import AliasInfo, Missing, Probe

SITE = AliasInfo(
    "analytics_db", "postgresql", "django.db.backends.postgresql", "site", "db", "5432"
)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Analytics", "analytics"),
        ("Ünïcode", "Ünïcode"),  # Python's lower() would make it "ünïcode"
        ("ÜNÏCODE", "ÜnÏcode"),
        ("STRASSE_ß", "strasse_ß"),
        ("İX", "İx"),  # Python: "i̇x", two code points for the first letter
        ("ΣΧΗΜΑ", "ΣΧΗΜΑ"),
        ("$USER", "$user"),
    ],
)
def test_unquoted_names_fold_ascii_letters_only(word: str, expected: str) -> None:
    assert fold(word) == expected
    assert parse_search_path(word) == (expected,)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"Ünïcode", ÜNÏCODE', ("Ünïcode", "ÜnÏcode")),
        ("a ,\tb", ("a", "b")),
        ("a\u00a0b", ("a\u00a0b",)),  # a no-break space is part of the name, as on the server
        ('"$user", public', ("$user", "public")),
        ("$User,public", ("$user", "public")),
    ],
)
def test_names_split_as_the_server_splits_them(value: str, expected: tuple[str, ...]) -> None:
    assert parse_search_path(value) == expected


def test_an_unquoted_name_ends_at_white_space() -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_search_path("my schema")
    assert str(error.value) == "search_path 'my schema': expected a comma after 'my'."


def test_options_with_a_non_ascii_schema() -> None:
    assert search_path("-c search_path=Ünïcode,PUBLIC") == ("Ünïcode", "public")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a" * 63, "a" * 63),
        ("a" * 64, "a" * 63),
        ("é" * 40, "é" * 31),  # 62 bytes: PostgreSQL never cuts a character in two
        ("a" * 62 + "é", "a" * 62),
        ("a" * 61 + "é", "a" * 61 + "é"),
    ],
)
def test_truncated_as_postgresql_stores_names(name: str, expected: str) -> None:
    assert truncated(name) == expected


def test_names_over_63_bytes_are_problems() -> None:
    long = "ü" * 32  # 32 characters, 64 bytes
    assert long_names(("public", "a" * 63, long, long), "OPTIONS['options']") == [
        f"schema {long!r} of the search_path in OPTIONS['options'] is 64 bytes long (UTF-8); "
        "PostgreSQL truncates names to 63 bytes, so it would look up and create "
        f"{'ü' * 31!r} instead; shorten the name to 63 bytes or fewer in OPTIONS['options']."
    ]


@pytest.mark.parametrize(
    ("path", "present", "expected"),
    [
        # The default path: a missing role schema is what PostgreSQL skips; never created.
        (("$user", "public"), {"public"}, ()),
        (("$user", "public"), {"bob", "public"}, ()),
        # Nothing exists and $user comes first: the role's own schema gets the tables.
        (("$user",), set(), ("bob",)),
        (("$user", "public"), set(), ("bob", "public")),
        # A named schema comes first: it gets the tables; the role's schema is not needed.
        (("analytics", "$user"), set(), ("analytics",)),
        (("analytics", "reports"), {"reports"}, ("analytics",)),
        (("a" * 64, "b"), set(), ("b",)),  # a long name is blocked, never created
        ((), set(), ()),
    ],
)
def test_schemas_to_create(
    path: tuple[str, ...], present: set[str], expected: tuple[str, ...]
) -> None:
    assert schemas_to_create(path, present, "bob") == expected


def test_an_empty_path_selects_no_schema() -> None:
    assert no_schema((), set(), (), user="bob", database="site") == (
        'search_path is empty, so PostgreSQL cannot create tables ("no schema has been selected '
        "to create in\"); name an existing schema in OPTIONS['options'] (e.g. '-c "
        'search_path=public\'), or set one on the server, e.g. ALTER ROLE "bob" IN DATABASE '
        '"site" SET search_path = public.'
    )


@pytest.mark.parametrize(
    ("path", "present", "create"),
    [
        (("$user", "public"), {"public"}, ()),
        (("$user",), {"bob"}, ()),
        (("$user",), set(), ("bob",)),
        (("a" * 64,), set(), ()),  # long_names says it
    ],
)
def test_a_path_with_a_schema_is_no_problem(
    path: tuple[str, ...], present: set[str], create: tuple[str, ...]
) -> None:
    assert no_schema(path, present, create, user="bob", database="site") == ""


@pytest.mark.parametrize(
    ("configured", "session"),
    [
        (None, '"$user", public'),  # settings leave the path to the server
        ("analytics", "analytics"),
        ("Analytics", "Analytics"),
        ('"$user",public', '"$user", public'),
        ("ANALYTICS,public", 'analytics, "public"'),
        ("Ünïcode", "Ünïcode"),
    ],
)
def test_the_session_has_the_configured_path(configured: str | None, session: str) -> None:
    assert dropped_search_path(configured, session, user="bob", database="site", landing="x") == ""


def test_a_pooler_dropped_the_search_path() -> None:
    assert dropped_search_path(
        "analytics,public", '"$user", public', user="bob", database="site", landing="public"
    ) == (
        "OPTIONS['options'] sets search_path=analytics,public but the server session has "
        'search_path="$user", public: a pooler or proxy between Django and PostgreSQL dropped '
        "the startup option (PgBouncer does with ignore_startup_parameters = options), so tables "
        "and django_migrations would land in schema 'public' instead of 'analytics'. Set the path "
        'on the server for this role and database: ALTER ROLE "bob" IN DATABASE "site" SET '
        'search_path = "analytics", "public" (then RECONNECT in PgBouncer\'s admin console: its '
        "open server connections keep the old path); or connect to PostgreSQL directly, not "
        "through the pooler."
    )


def test_a_dropped_path_where_the_session_has_no_schema() -> None:
    message = dropped_search_path('"$user"', "", user="bob", database="site", landing="")
    assert message.startswith(
        "OPTIONS['options'] sets search_path=\"$user\" but the server session has "
        "search_path='': a pooler or proxy between Django and PostgreSQL dropped the startup "
        "option (PgBouncer does with ignore_startup_parameters = options), so no table could be "
        "created (no schema of the session's path exists). Set the path on the server for this "
        'role and database: ALTER ROLE "bob" IN DATABASE "site" SET search_path = "$user" '
    )


def test_a_dropped_path_names_the_role_schema_it_wanted() -> None:
    message = dropped_search_path(
        '"$user",public', "public", user="bob", database="site", landing="public"
    )
    assert "would land in schema 'public' instead of 'bob'." in message


def test_the_missing_role_schema_explains_itself() -> None:
    probe = Probe(
        SITE,
        schemas=("$user",),
        missing=(Missing("analytics_db", "schema", "bob"),),
        user="bob",
    )
    assert problems([probe], create=False) == [
        "analytics_db -> schema 'bob' does not exist (search_path: $user; $user is the role bob) "
        'and no schema of the path does, so PostgreSQL cannot create tables ("no schema has been '
        'selected to create in"); run with --create-schemas to create it, or fix '
        "OPTIONS['options']."
    ]
    assert problems([probe], create=True) == []


def test_a_schema_named_like_the_role_is_a_named_schema() -> None:
    probe = Probe(
        SITE,
        schemas=("bob", "$user"),
        missing=(Missing("analytics_db", "schema", "bob"),),
        user="bob",
    )
    assert problems([probe], create=False) == [
        "analytics_db -> schema 'bob' does not exist (search_path: bob, $user); run with "
        "--create-schemas to create it, or fix OPTIONS['options']."
    ]


def test_sqlite_probe_leaves_no_file_behind(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    database.write_bytes(b"")
    info = AliasInfo("cache_db", "sqlite", "django.db.backends.sqlite3", str(database))
    probe = SQLite().probe(info, 1.0)
    assert (probe.read_only, probe.problems, probe.missing) == ("", (), ())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["db.sqlite3"]
