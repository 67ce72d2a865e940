"""PostgreSQL: the rendered SQL reviewed by squawk (the ``squawk-cli`` package, pinned in the
``[risk]`` extra), one process per server version and transaction mode for all the files of
the run; its JSON findings mapped back, by line, to the statement that caused them.

Each file holds one migration's statements, one statement per line (``BEGIN``/``COMMIT`` are
not rendered: Django opens the transaction itself, so atomic migrations are reviewed with
``--assume-in-transaction``). When ``MIGRATOR["SESSION"]`` gives the alias a lock_timeout,
migrator sets it in the migration's transaction, so the file starts with that ``SET``; when it
does not, squawk's require-lock-timeout is left out and the review reports it once per alias
(``review.py``). Rules about style rather than locks are left out (``EXCLUDED``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from migrator.exceptions import ConfigurationError, MigratorError
from migrator.risk.rules import Rule

PINNED = "2.70.0"  # pyproject.toml's [risk] extra: squawk-cli==PINNED
INSTALL = "pip install 'django-migrate-all[risk]'"

# Rules about style or portability, not about locks: a lock-risk review leaves them out.
# require-lock-timeout is left out too and reported once per alias without a lock timeout.
EXCLUDED = (
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-text-field",
    "prefer-timestamptz",
    "prefer-robust-stmts",
    "ban-char-field",
    "ban-drop-default",  # Django drops every default it adds with a column (no rewrite)
    "require-statement-timeout",
    "require-timeout-settings",
    "require-lock-timeout",
    "ban-uncommitted-transaction",
)

_NOT_VALID = (
    "add the constraint NOT VALID, then VALIDATE CONSTRAINT in a later migration "
    "(django.contrib.postgres.operations.AddConstraintNotValid, then ValidateConstraint)"
)
_EXPAND = (
    "SeparateDatabaseAndState: keep the old name in the database (db_column/db_table) or "
    "deploy in two steps, the code first"
)

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            "require-concurrent-index-creation",
            "SHARE",
            "writes",
            "AddIndexConcurrently (django.contrib.postgres.operations) in a migration with "
            "atomic = False",
        ),
        Rule(
            "require-concurrent-index-deletion",
            "ACCESS EXCLUSIVE",
            "reads and writes",
            "RemoveIndexConcurrently (django.contrib.postgres.operations) in a migration with "
            "atomic = False",
        ),
        Rule("constraint-missing-not-valid", "ACCESS EXCLUSIVE", "reads and writes", _NOT_VALID),
        Rule(
            "adding-foreign-key-constraint",
            "SHARE ROW EXCLUSIVE (both tables)",
            "writes",
            "add the foreign key NOT VALID (SeparateDatabaseAndState with RunSQL), then "
            "VALIDATE CONSTRAINT in a later migration",
        ),
        Rule(
            "disallowed-unique-constraint",
            "ACCESS EXCLUSIVE",
            "reads and writes",
            "build a unique index with AddIndexConcurrently (atomic = False), then ADD "
            "CONSTRAINT ... UNIQUE USING INDEX (SeparateDatabaseAndState)",
        ),
        Rule(
            "changing-column-type",
            "ACCESS EXCLUSIVE",
            "reads and writes",
            "add a new column, backfill it in batches, switch the code, drop the old one "
            "(SeparateDatabaseAndState)",
        ),
        Rule(
            "adding-not-nullable-field",
            "ACCESS EXCLUSIVE",
            "reads and writes",
            "add CHECK (column IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL (no scan "
            "on PostgreSQL 12+)",
        ),
        Rule(
            "adding-required-field",
            "ACCESS EXCLUSIVE",
            "reads and writes",
            "add the column nullable (or with a default), backfill it, then make it NOT NULL",
        ),
        Rule(
            "adding-field-with-default",
            "ACCESS EXCLUSIVE",
            "reads and writes",
            "add the column nullable without a default, backfill it in batches, then set the "
            "default",
        ),
        Rule(
            "adding-serial-primary-key-field",
            "ACCESS EXCLUSIVE",
            "reads and writes",
            "build a unique index concurrently first, then ADD PRIMARY KEY USING INDEX",
        ),
        Rule(
            "renaming-column",
            "ACCESS EXCLUSIVE",
            "running code",
            _EXPAND,
            floor="warning",
            cap="warning",
        ),
        Rule(
            "renaming-table",
            "ACCESS EXCLUSIVE",
            "running code",
            _EXPAND,
            floor="warning",
            cap="warning",
        ),
        Rule(
            "ban-drop-column",
            "ACCESS EXCLUSIVE",
            "running code",
            "remove the field from the code first (SeparateDatabaseAndState), drop the column "
            "in a later deploy",
            floor="warning",
            cap="warning",
        ),
        Rule(
            "ban-drop-table",
            "ACCESS EXCLUSIVE",
            "running code",
            "remove the model from the code first (SeparateDatabaseAndState), drop the table "
            "in a later deploy",
            floor="warning",
            cap="warning",
        ),
        Rule("ban-drop-database", "", "everything", "never from a migration", floor="danger"),
        Rule(
            "ban-truncate-cascade",
            "ACCESS EXCLUSIVE",
            "reads and writes",
            "delete the rows of the tables named",
            floor="warning",
        ),
        Rule(
            "ban-drop-not-null",
            "ACCESS EXCLUSIVE",
            "",
            "make sure every client writes the column",
            cap="info",
        ),
        Rule(
            "transaction-nesting",
            "",
            "",
            "leave transactions to Django (atomic = False)",
            cap="info",
        ),
        Rule(
            "ban-concurrent-index-creation-in-transaction",
            "",
            "",
            "set atomic = False on the migration: CREATE INDEX CONCURRENTLY fails in a transaction",
            floor="danger",
        ),
    )
}


def rule(name: str, help_text: str | None) -> Rule:
    """The rule's meaning; a rule this table does not know is weighted by size, with squawk's
    help as the safer way."""
    return RULES.get(name) or Rule(name, "", "", help_text or "see squawk's documentation")


@dataclass(frozen=True)
class SquawkFile:
    """One migration's SQL to review: ``lines`` are the file's lines (one per statement,
    possibly after a ``SET`` line); ``statements[i]`` is the statement at line ``first + i``."""

    name: str
    pg_version: str
    in_transaction: bool
    lines: tuple[str, ...]
    first: int  # the line of the first statement (0-based, as squawk's JSON counts)


@dataclass(frozen=True)
class SquawkFinding:
    file: str
    line: int  # 0-based
    rule: str
    message: str
    help: str | None


def binary() -> str | None:
    """squawk: beside this Python (the venv's bin), else on PATH."""
    here = Path(sys.executable).parent / "squawk"
    if here.exists():
        return str(here)
    return shutil.which("squawk")


def missing_error() -> MigratorError:
    return ConfigurationError(
        "--risk reviews PostgreSQL SQL with squawk, which is not installed: run "
        f"{INSTALL} (squawk-cli {PINNED}), or review only other aliases with --database."
    )


def pg_version(server: str) -> str:
    """squawk's --pg-version from the server's version ("15.20", "16.4", "17beta1" -> "17.0")."""
    found = re.match(r"(\d+)(?:\.(\d+))?", server)
    if found is None:
        return "15.0"
    return f"{found.group(1)}.{found.group(2) or '0'}"


def run(files: Sequence[SquawkFile]) -> list[SquawkFinding]:
    """Review ``files``: one squawk process per (server version, transaction mode)."""
    if not files:
        return []
    squawk = binary()
    if squawk is None:
        raise missing_error()
    found: list[SquawkFinding] = []
    groups: dict[tuple[str, bool], list[SquawkFile]] = {}
    for item in files:
        groups.setdefault((item.pg_version, item.in_transaction), []).append(item)
    with tempfile.TemporaryDirectory(prefix="migrator-risk-") as folder:
        for (version, in_transaction), members in groups.items():
            paths = []
            for item in members:
                path = os.path.join(folder, item.name)
                Path(path).write_text("\n".join(item.lines) + "\n", encoding="utf-8")
                paths.append(item.name)
            command = [
                squawk,
                "--reporter",
                "json",
                "--pg-version",
                version,
                "--exclude",
                ",".join(EXCLUDED),
            ]
            if in_transaction:
                command.append("--assume-in-transaction")
            done = subprocess.run(
                [*command, *paths], cwd=folder, capture_output=True, text=True, check=False
            )
            if done.returncode not in (0, 1):
                raise MigratorError(
                    f"squawk {version} failed (exit {done.returncode}): "
                    f"{(done.stderr or done.stdout).strip()[:500]}"
                )
            for entry in json.loads(done.stdout or "[]"):
                found.append(
                    SquawkFinding(
                        file=str(entry["file"]),
                        line=int(entry["line"]),
                        rule=str(entry["rule_name"]),
                        message=str(entry["message"]),
                        help=entry.get("help"),
                    )
                )
    return found
