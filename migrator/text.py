"""Text helpers shared by the layers: passwords scrubbed in every form they can take in output."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from urllib.parse import quote, quote_plus

MASK = "********"


def secret_forms(secret: str) -> set[str]:
    """``secret`` as written and as it appears inside a URL (percent-encoded, with ``+`` for
    spaces or not), a ``repr()`` (a ``KeyError``'s message) and a JSON string."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    return {form for form in forms if form}


def secrets_of(passwords: Iterable[str]) -> tuple[str, ...]:
    """Every form of every password, longest first (so a form inside another goes with it)."""
    forms = {form for password in passwords if password for form in secret_forms(password)}
    return tuple(sorted(forms, key=len, reverse=True))


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 migration``, ``2 migrations`` (``many``: the plural when it is not ``word + "s"``)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def join(items: Iterable[str]) -> str:
    """``a, b, c``: names listed in a message."""
    return ", ".join(items)


def quoted(items: Iterable[str]) -> str:
    """``'a', 'b'``: values listed as Python would write them."""
    return ", ".join(repr(item) for item in items)


def and_list(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``: items in a sentence."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def run_command(command: str) -> str:
    """The command line that migrates: ``migrator`` alone opens the interactive menu."""
    return f"{command} --auto" if command == "migrator" else command
