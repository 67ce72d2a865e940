"""Pure: what each rule means (the lock, what it blocks, the safer way, the levels it may take)
and the level of a finding from the size of its table. No Django, no database."""

from __future__ import annotations

import re
from dataclasses import dataclass

from migrator.types import RISK_LEVELS, RiskLevel, RiskThresholds


@dataclass(frozen=True)
class Rule:
    """A rule of squawk's or migrator's own. ``floor``/``cap``: the lowest and highest level a
    finding of it takes whatever the size of its table (a rename breaks running code on an
    empty table too; an online index build stays info on a big one); between them the size
    decides (``weighted``)."""

    id: str
    lock: str
    blocks: str
    safer: str
    message: str = ""  # migrator's rules; squawk's findings bring their own
    floor: RiskLevel = "info"
    cap: RiskLevel = "danger"


def _rank(level: RiskLevel) -> int:
    return RISK_LEVELS.index(level)


def _higher(a: RiskLevel, b: RiskLevel) -> RiskLevel:
    return a if _rank(a) >= _rank(b) else b


def _by(count: int, warning: int, danger: int) -> RiskLevel:
    if count >= danger:
        return "danger"
    if count >= warning:
        return "warning"
    return "info"


def size_level(
    rows: int | None, size: int | None, exists: bool, thresholds: RiskThresholds
) -> RiskLevel:
    """The level the table's size alone gives: ``info`` when the plan creates it (empty) or it
    is below both warning thresholds; ``warning``/``danger`` at or above a threshold of rows or
    of bytes. A table whose row count is unknown (never analysed) is not taken for small: at
    least ``warning``, more by its bytes."""
    if not exists:
        return "info"
    by_bytes: RiskLevel = (
        "info" if size is None else _by(size, thresholds.warning_bytes, thresholds.danger_bytes)
    )
    if rows is None:
        return _higher("warning", by_bytes)
    return _higher(_by(rows, thresholds.warning_rows, thresholds.danger_rows), by_bytes)


def level_for(
    rule: Rule, rows: int | None, size: int | None, exists: bool, thresholds: RiskThresholds
) -> RiskLevel:
    """The finding's level: its table's size level, raised to the rule's floor and capped at
    the rule's cap; a table the plan creates is info whatever the rule (no running code uses
    it, no row waits)."""
    if not exists:
        return "info"
    level = _higher(size_level(rows, size, exists, thresholds), rule.floor)
    return level if _rank(level) <= _rank(rule.cap) else rule.cap


def at_least(level: RiskLevel, bar: RiskLevel) -> bool:
    return _rank(level) >= _rank(bar)


# -- tables named by a statement ---------------------------------------------------------------

_NAME = r'(?:"[^"]+"|`[^`]+`|[A-Za-z_][\w$]*)'
_QUALIFIED = rf"({_NAME}(?:\s*\.\s*{_NAME})?)"
_TABLE_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE | re.DOTALL)
    for pattern in (
        rf"^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_QUALIFIED}",
        rf"^\s*CREATE\s+(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+(?:CONCURRENTLY\s+)?"
        rf"(?:IF\s+NOT\s+EXISTS\s+)?(?:{_NAME}\s+)?ON\s+(?:ONLY\s+)?{_QUALIFIED}",
        rf"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_QUALIFIED}",
        rf"^\s*TRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?{_QUALIFIED}",
        rf"^\s*RENAME\s+TABLE\s+{_QUALIFIED}",
        rf"^\s*OPTIMIZE\s+(?:NO_WRITE_TO_BINLOG\s+|LOCAL\s+)?TABLE\s+{_QUALIFIED}",
        rf"^\s*VACUUM\s+(?:FULL\s+)?(?:\([^)]*\)\s+)?{_QUALIFIED}",
        rf"^\s*CLUSTER\s+{_QUALIFIED}",
        rf"^\s*UPDATE\s+(?:ONLY\s+)?{_QUALIFIED}",
        rf"^\s*DELETE\s+FROM\s+(?:ONLY\s+)?{_QUALIFIED}",
        rf"^\s*LOCK\s+TABLE\s+(?:ONLY\s+)?{_QUALIFIED}",
        rf"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_QUALIFIED}",
    )
)


def table_of(statement: str) -> str:
    """The table a statement works on, as the SQL names it (quotes kept, e.g. ``"blog_post"``
    or ``"analytics"."event"``); "" when none is recognised."""
    for pattern in _TABLE_PATTERNS:
        found = pattern.match(statement)
        if found:
            return re.sub(r"\s*\.\s*", ".", found.group(1))
    return ""


def unquoted(name: str) -> str:
    """``"blog_post"`` -> ``blog_post`` (the last part of a qualified name for MySQL)."""
    last = name.rsplit(".", 1)[-1] if name.count('"') <= 2 and name.count("`") <= 2 else name
    return last.strip('"`')
