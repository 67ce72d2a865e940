"""Pure: MySQL and MariaDB statements that copy or rebuild a table, or take a lock that blocks
writes, on the server's version (InnoDB online DDL). The rule table is the README's
("Risk review: MySQL and MariaDB rules"). No Django, no database."""

from __future__ import annotations

import re
from dataclasses import dataclass

from migrator.risk.rules import Rule, table_of

_COPY = "metadata lock; table copy (ALGORITHM=COPY)"
_REBUILD = "metadata lock; table rebuilt in place (ALGORITHM=INPLACE, LOCK=NONE)"
_TOOL = "an online schema change tool (gh-ost, pt-online-schema-change) on a big table"

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            "mysql-modify-column",
            _COPY,
            "writes",
            f"add a new column, backfill it in batches, switch the code, drop the old one; or {_TOOL}",
            "MODIFY/CHANGE COLUMN changes the type or the NULL constraint: the table is copied "
            "(a type change) or rebuilt, under a metadata lock",
        ),
        Rule(
            "mysql-foreign-key",
            _COPY,
            "writes",
            "add the constraint with foreign_key_checks=0 (RunSQL; then INPLACE), or "
            "db_constraint=False",
            "ADD FOREIGN KEY with foreign_key_checks=1 copies the table (ALGORITHM=COPY)",
        ),
        Rule(
            "mysql-check-constraint",
            _COPY,
            "writes",
            f"validate the data first and add the constraint off-peak, or {_TOOL}",
            "ADD CHECK copies the table to validate every row (ALGORITHM=COPY)",
        ),
        Rule(
            "mysql-primary-key",
            _COPY,
            "writes",
            f"create the table with its final primary key, or {_TOOL}",
            "a primary key change rebuilds the clustered index: the whole table is rewritten",
        ),
        Rule(
            "mysql-fulltext-index",
            "metadata lock; LOCK=SHARED",
            "writes",
            f"build it off-peak, or {_TOOL}",
            "a FULLTEXT or SPATIAL index is built with LOCK=SHARED: writes wait for the build",
        ),
        Rule(
            "mysql-add-column-rebuild",
            _REBUILD,
            "writes (briefly, at start and end)",
            "upgrade to MySQL 8.0.12+ / MariaDB 10.3.2+ (instant ADD COLUMN), or add the column "
            "off-peak",
            "ADD COLUMN cannot be ALGORITHM=INSTANT on this server version (or not at this "
            "position): the table is rebuilt",
            cap="warning",
        ),
        Rule(
            "mysql-drop-column",
            _REBUILD,
            "running code",
            "remove the field from the code first (SeparateDatabaseAndState), drop the column "
            "in a later deploy",
            "DROP COLUMN breaks code still running that reads it; before MySQL 8.0.29 / MariaDB "
            "10.4 it rebuilds the table",
            floor="warning",
        ),
        Rule(
            "mysql-drop-column-instant",
            "metadata lock (instant)",
            "running code",
            "remove the field from the code first (SeparateDatabaseAndState), drop the column "
            "in a later deploy",
            "DROP COLUMN breaks code still running that reads it (instant on this version)",
            floor="warning",
            cap="warning",
        ),
        Rule(
            "mysql-rename",
            "metadata lock (instant)",
            "running code",
            "SeparateDatabaseAndState: keep the old name in the database (db_column/db_table), "
            "or deploy in two steps, the code first",
            "a renamed column or table breaks code still running that uses the old name",
            floor="warning",
            cap="warning",
        ),
        Rule(
            "mysql-drop-table",
            "metadata lock",
            "running code",
            "remove the model from the code first (SeparateDatabaseAndState), drop the table "
            "in a later deploy",
            "DROP/TRUNCATE TABLE loses the rows and breaks code still running that uses it",
            floor="warning",
            cap="warning",
        ),
        Rule(
            "mysql-table-rebuild",
            _COPY,
            "writes",
            f"run it off-peak, or {_TOOL}",
            "the statement rebuilds the whole table (charset conversion, ENGINE, FORCE, OPTIMIZE)",
        ),
    )
}


@dataclass(frozen=True)
class Server:
    mariadb: bool
    version: tuple[int, int, int]


def server(version: str) -> Server:
    """``"10.11.19-MariaDB-0+deb12u1"`` -> MariaDB (10, 11, 19); ``"8.0.36"`` -> MySQL."""
    numbers = [int(n) for n in re.findall(r"\d+", version.split("-")[0])[:3]]
    numbers += [0] * (3 - len(numbers))
    return Server("mariadb" in version.lower(), (numbers[0], numbers[1], numbers[2]))


def instant_add_column(at: Server, positioned: bool) -> bool:
    """MySQL 8.0.12+ adds a column at the end instantly, 8.0.29+ anywhere; MariaDB 10.3.2+ at
    the end, 10.4+ anywhere."""
    if at.mariadb:
        return at.version >= ((10, 4, 0) if positioned else (10, 3, 2))
    return at.version >= ((8, 0, 29) if positioned else (8, 0, 12))


def instant_drop_column(at: Server) -> bool:
    return at.version >= ((10, 4, 0) if at.mariadb else (8, 0, 29))


def clauses(body: str) -> list[str]:
    """An ALTER TABLE's clauses: split at commas outside parentheses and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for position, char in enumerate(body):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(body[start:position].strip())
            start = position + 1
    parts.append(body[start:].strip())
    return [part for part in parts if part]


_ALTER = re.compile(
    r"^\s*ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE\s+(?:`[^`]+`|\S+)\s+(.*?);?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def _clause_rule(clause: str, at: Server) -> str | None:
    text = " ".join(clause.split()).upper()
    if text.startswith("ADD ") and not re.match(
        r"ADD (CONSTRAINT \S+ )?(UNIQUE|INDEX|KEY|FOREIGN|CHECK|PRIMARY|FULLTEXT|SPATIAL)\b",
        text,
    ):
        if " AUTO_INCREMENT" in text or re.search(r"\bSTORED\b", text):
            return "mysql-table-rebuild"
        positioned = bool(re.search(r"\b(FIRST|AFTER)\b", text))
        return None if instant_add_column(at, positioned) else "mysql-add-column-rebuild"
    if re.match(r"ADD (CONSTRAINT \S+ )?FOREIGN KEY\b", text):
        return "mysql-foreign-key"
    if re.match(r"ADD (CONSTRAINT \S+ )?CHECK\b", text):
        return "mysql-check-constraint"
    if re.match(r"(ADD (CONSTRAINT \S+ )?PRIMARY KEY|DROP PRIMARY KEY)\b", text):
        return "mysql-primary-key"
    if re.match(r"ADD (FULLTEXT|SPATIAL)\b", text):
        return "mysql-fulltext-index"
    if text.startswith(("MODIFY ", "CHANGE ")):
        change = re.match(r"CHANGE (?:COLUMN )?(\S+) (\S+)", text)
        if change and change.group(1) != change.group(2):
            return "mysql-rename"
        return "mysql-modify-column"
    if text.startswith("RENAME ") and not text.startswith(("RENAME INDEX", "RENAME KEY")):
        return "mysql-rename"
    if re.match(r"DROP (COLUMN )?(?!(INDEX|KEY|FOREIGN|PRIMARY|CHECK|CONSTRAINT)\b)\S+", text):
        return "mysql-drop-column-instant" if instant_drop_column(at) else "mysql-drop-column"
    if text.startswith(("CONVERT TO ", "ENGINE", "FORCE")):
        return "mysql-table-rebuild"
    return None


def findings(statement: str, version: str) -> list[tuple[Rule, str]]:
    """The rules ``statement`` breaks on a server of ``version``, each with the table (as the
    SQL names it); one per rule."""
    at = server(version)
    text = " ".join(statement.split()).upper()
    table = table_of(statement)
    found: list[str] = []
    alter = _ALTER.match(statement)
    if alter:
        for clause in clauses(alter.group(1)):
            name = _clause_rule(clause, at)
            if name is not None and name not in found:
                found.append(name)
    elif re.match(r"CREATE (FULLTEXT|SPATIAL) INDEX\b", text):
        found.append("mysql-fulltext-index")
    elif text.startswith(("DROP TABLE", "TRUNCATE")):
        found.append("mysql-drop-table")
    elif text.startswith("RENAME TABLE"):
        found.append("mysql-rename")
    elif text.startswith("OPTIMIZE"):
        found.append("mysql-table-rebuild")
    return [(RULES[name], table) for name in found]
