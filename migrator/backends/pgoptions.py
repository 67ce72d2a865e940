"""Parse the ``search_path`` out of a libpq ``options`` string, every spelling libpq accepts.

libpq passes ``options`` to the server as command-line switches: ``-c name=value``,
``-cname=value`` and ``--name=value``, separated by white space (a backslash escapes a space).
``search_path`` is a comma-separated list of identifiers; double quotes keep case and special
characters, unquoted names are folded to lower case, ``$user`` stands for the role's own schema.
"""

from __future__ import annotations

from migrator.errors import ConfigurationError

USER_SCHEMA = "$user"


def split_switches(options: str) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    escaped = False
    for char in options:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char.isspace():
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def server_settings(options: str) -> dict[str, str]:
    """``{"search_path": "a,b", "statement_timeout": "5000"}`` from an options string."""
    words = split_switches(options)
    found: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        if word == "-c":
            index += 1
            if index >= len(words):
                raise ConfigurationError(
                    f"OPTIONS['options'] {options!r}: '-c' is not followed by name=value."
                )
            assignment = words[index]
        elif word.startswith("-c") or word.startswith("--"):
            assignment = word[2:]
        else:
            raise ConfigurationError(
                f"OPTIONS['options'] {options!r}: cannot read {word!r}; write settings as "
                "'-c name=value' (e.g. '-c search_path=analytics,public')."
            )
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise ConfigurationError(
                f"OPTIONS['options'] {options!r}: {assignment!r} is not name=value; write "
                "'-c search_path=analytics,public'."
            )
        found[name.replace("-", "_").lower()] = value
        index += 1
    return found


def parse_search_path(value: str) -> tuple[str, ...]:
    """Schema names of a ``search_path`` value, quotes resolved, unquoted names lower-cased."""
    names: list[str] = []
    index = 0
    length = len(value)
    while index <= length:
        while index < length and value[index].isspace():
            index += 1
        if index < length and value[index] == '"':
            index += 1
            name: list[str] = []
            while True:
                if index >= length:
                    raise ConfigurationError(f"search_path {value!r}: a quoted name is not closed.")
                if value[index] == '"':
                    if index + 1 < length and value[index + 1] == '"':
                        name.append('"')
                        index += 2
                        continue
                    index += 1
                    break
                name.append(value[index])
                index += 1
            names.append("".join(name))
            while index < length and value[index].isspace():
                index += 1
        else:
            start = index
            while index < length and value[index] != ",":
                index += 1
            word = value[start:index].strip()
            if not word:
                if index >= length and not names:
                    break
                raise ConfigurationError(
                    f"search_path {value!r}: an empty schema name between commas."
                )
            names.append(word if word == USER_SCHEMA else word.lower())
        if index >= length:
            break
        if value[index] != ",":
            raise ConfigurationError(
                f"search_path {value!r}: expected a comma after {names[-1]!r}."
            )
        index += 1
        if index >= length:
            raise ConfigurationError(f"search_path {value!r}: ends with a comma.")
    return tuple(names)


def search_path(options: str | None) -> tuple[str, ...]:
    """The search_path schemas selected by an ``OPTIONS['options']`` string (empty: default)."""
    if not options:
        return ()
    value = server_settings(options).get("search_path")
    return parse_search_path(value) if value is not None else ()
