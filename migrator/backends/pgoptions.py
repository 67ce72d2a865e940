"""Parse the ``search_path`` out of a libpq ``options`` string, every spelling libpq accepts.

libpq passes ``options`` to the server as command-line switches: ``-c name=value``,
``-cname=value`` and ``--name=value``, separated by white space (a backslash escapes a space).
``search_path`` is a comma-separated list of identifiers; double quotes keep case and special
characters, unquoted names are folded to lower case as PostgreSQL folds them (ASCII letters only),
``$user`` stands for the role's own schema. Names longer than 63 bytes are cut by the server.

The checks preflight makes of a search_path are pure functions here; the PostgreSQL probe feeds
them what the server reported.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from migrator.exceptions import ConfigurationError

USER_SCHEMA = "$user"
# PostgreSQL's NAMEDATALEN - 1: longer identifiers are truncated (at a character boundary).
NAME_BYTES = 63
# PostgreSQL's downcase_identifier (scansup.c) in a multibyte (UTF8) database: A-Z only.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# White space as the server's pg_split_opts (isspace, C) and scanner_isspace see it: ASCII only,
# so a no-break space is part of a name.
_SWITCH_SPACE = frozenset(" \t\n\r\f\v")
_NAME_SPACE = frozenset(" \t\n\r\f")


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
        elif char in _SWITCH_SPACE:
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


def fold(word: str) -> str:
    """An unquoted identifier as PostgreSQL reads it: ASCII A-Z lower-cased, every other character
    kept (``ÜNÏCODE`` is the schema ``ÜnÏcode``, not Python's ``ünïcode``)."""
    return word.translate(_ASCII_LOWER)


def truncated(name: str) -> str:
    """``name`` as PostgreSQL stores it: its first 63 bytes in UTF-8, whole characters only."""
    return name.encode()[:NAME_BYTES].decode("utf-8", "ignore")


def parse_search_path(value: str) -> tuple[str, ...]:
    """Schema names of a ``search_path`` value as the server splits it (varlena.c
    SplitIdentifierString): quotes resolved, unquoted names folded (``fold``), ending at a comma or
    white space; names are not truncated here (``long_names`` reports them)."""
    names: list[str] = []
    index = 0
    length = len(value)
    while index <= length:
        while index < length and value[index] in _NAME_SPACE:
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
            while index < length and value[index] in _NAME_SPACE:
                index += 1
        else:
            start = index
            while index < length and value[index] != "," and value[index] not in _NAME_SPACE:
                index += 1
            word = value[start:index]
            if not word:
                if index >= length and not names:
                    break
                raise ConfigurationError(
                    f"search_path {value!r}: an empty schema name between commas."
                )
            names.append(fold(word))  # "$USER" is "$user" too, as on the server
            while index < length and value[index] in _NAME_SPACE:
                index += 1
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
    return parse_search_path(configured_value(options) or "")


def configured_value(options: str | None) -> str | None:
    """The ``search_path`` value an ``OPTIONS['options']`` string sets, as written; None when it
    sets none (the server's own setting applies)."""
    return server_settings(options).get("search_path") if options else None


def quoted(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (kept exactly, ``$user`` included)."""
    return '"' + name.replace('"', '""') + '"'


def path_sql(names: Sequence[str]) -> str:
    """A search_path for ``SET search_path = ...``: every name quoted; ``''`` when empty."""
    return ", ".join(quoted(name) for name in names) if names else "''"


def resolved(names: Sequence[str], user: str) -> tuple[str, ...]:
    """The path with ``$user`` replaced by the session's role name, as the server resolves it."""
    return tuple(user if name == USER_SCHEMA else name for name in names)


def long_names(names: Sequence[str], source: str) -> list[str]:
    """One problem per name over 63 bytes: the server would silently look up, and CREATE SCHEMA
    create, a truncated name. ``source`` says where the path is set."""
    return [
        f"schema {name!r} of the search_path in {source} is {len(name.encode())} bytes long "
        f"(UTF-8); PostgreSQL truncates names to {NAME_BYTES} bytes, so it would look up and "
        f"create {truncated(name)!r} instead; shorten the name to {NAME_BYTES} bytes or fewer "
        f"in {source}."
        for name in dict.fromkeys(names)
        if len(name.encode()) > NAME_BYTES
    ]


def schemas_to_create(names: Sequence[str], present: Collection[str], user: str) -> tuple[str, ...]:
    """The schemas of the path that ``--create-schemas`` creates: every named schema that does not
    exist, and the role's own schema (``$user``) when no schema of the path exists and ``$user``
    comes first, so that it receives the tables (PostgreSQL's convention of one schema per user,
    ``"$user"`` first). A missing ``$user`` schema is otherwise what PostgreSQL skips: creating it
    would move the tables away from the schema they go to now. Names over 63 bytes are left out
    (``long_names`` blocks them)."""
    wanted = [
        name
        for name in dict.fromkeys(names)
        if name != USER_SCHEMA and len(name.encode()) <= NAME_BYTES
    ]
    create = [name for name in wanted if name not in present]
    if (
        names
        and names[0] == USER_SCHEMA
        and user
        and not any(name in present for name in resolved(names, user))
        and user not in create
    ):
        create.insert(0, user)
    return tuple(create)


def no_schema(
    names: Sequence[str],
    present: Collection[str],
    create: Sequence[str],
    *,
    user: str,
    database: str,
) -> str:
    """The problem when no schema of the path exists and none would be created: the server
    refuses every CREATE TABLE ("no schema has been selected to create in"); "" otherwise."""
    if create or any(name in present for name in resolved(names, user)):
        return ""
    if any(len(name.encode()) > NAME_BYTES for name in names):
        return ""  # long_names already says what to fix
    what = (
        f"no schema of search_path {', '.join(names)} exists for role {user!r} and none would be "
        "created"
        if names
        else "search_path is empty"
    )
    return (
        f'{what}, so PostgreSQL cannot create tables ("no schema has been selected to create '
        "in\"); name an existing schema in OPTIONS['options'] (e.g. '-c search_path=public'), or "
        f"set one on the server, e.g. ALTER ROLE {quoted(user)} IN DATABASE {quoted(database)} "
        "SET search_path = public."
    )


def dropped_search_path(
    configured: str | None, session: str, *, user: str, database: str, landing: str
) -> str:
    """The problem when ``OPTIONS['options']`` sets a search_path (``configured``, as written)
    that the server session does not have (``session``: ``current_setting('search_path')``): a
    pooler or proxy dropped the startup option, and the run would create its tables and
    ``django_migrations`` in ``landing`` (the session's first existing schema; "" for none).
    "" when nothing is configured or the session has the same path."""
    if configured is None:
        return ""
    wanted = parse_search_path(configured)
    if wanted == parse_search_path(session):
        return ""
    first = resolved(wanted, user)[:1]
    instead = f" instead of {first[0]!r}" if first and first[0] != landing else ""
    outcome = (
        f"tables and django_migrations would land in schema {landing!r}{instead}"
        if landing
        else "no table could be created (no schema of the session's path exists)"
    )
    return (
        f"OPTIONS['options'] sets search_path={configured} but the server session has "
        f"search_path={session or repr('')}: a pooler or proxy between Django and PostgreSQL "
        "dropped the startup option (PgBouncer does with ignore_startup_parameters = options), "
        f"so {outcome}. Set the path on the server for "
        f"this role and database: ALTER ROLE {quoted(user)} IN DATABASE {quoted(database)} SET "
        f"search_path = {path_sql(wanted)} (then RECONNECT in PgBouncer's admin console: its open "
        "server connections keep the old path); or connect to PostgreSQL directly, not through "
        "the pooler."
    )
