from __future__ import annotations

import pytest

from migrator.backends.pgoptions import parse_search_path, search_path, server_settings
from migrator.exceptions import ConfigurationError


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("-c search_path=analytics", ("analytics",)),
        ("-csearch_path=analytics", ("analytics",)),
        ("--search_path=analytics", ("analytics",)),
        ("--search-path=analytics", ("analytics",)),
        ("-c search_path=a,b", ("a", "b")),
        ("-c search_path=a,\\ b", ("a", "b")),
        ("-c statement_timeout=5000 -c search_path=Reports,public", ("reports", "public")),
        ('-c search_path="$user",public', ("$user", "public")),
        ("-c search_path=$user,public", ("$user", "public")),
        ('-c search_path="My\\ Schema",public', ("My Schema", "public")),
        ('-c search_path="a""b;c"', ('a"b;c',)),
        ("-c statement_timeout=5000", ()),
        ("", ()),
    ],
)
def test_search_path_spellings(options: str, expected: tuple[str, ...]) -> None:
    assert search_path(options) == expected


def test_other_settings_are_kept() -> None:
    assert server_settings("-c lock_timeout=5s --statement-timeout=1min") == {
        "lock_timeout": "5s",
        "statement_timeout": "1min",
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("-c", "OPTIONS['options'] '-c': '-c' is not followed by name=value."),
        (
            "search_path=a",
            "OPTIONS['options'] 'search_path=a': cannot read 'search_path=a'; write settings as "
            "'-c name=value' (e.g. '-c search_path=analytics,public').",
        ),
        (
            "-c search_path",
            "OPTIONS['options'] '-c search_path': 'search_path' is not name=value; write "
            "'-c search_path=analytics,public'.",
        ),
        ('-c search_path="abc', "search_path '\"abc': a quoted name is not closed."),
        ("-c search_path=a,,b", "search_path 'a,,b': an empty schema name between commas."),
        ("-c search_path=a,", "search_path 'a,': ends with a comma."),
        ('-c search_path="a"b', "search_path '\"a\"b': expected a comma after 'a'."),
    ],
)
def test_malformed_options(options: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        search_path(options)
    assert str(error.value) == message


def test_empty_value_is_the_empty_path() -> None:
    assert parse_search_path("") == ()
