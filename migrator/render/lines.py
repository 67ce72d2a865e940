"""What every renderer produces: ``Line`` (text with a style name the commands map onto
``self.style``), the JSON documents' version, and the one table layout."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

JSON_VERSION = 1


Style = Literal["", "heading", "success", "warning", "error", "notice"]


@dataclass(frozen=True)
class Line:
    text: str
    style: Style = ""


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    """Columns padded to their widest cell; the ``right`` columns aligned right."""
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()
        for cells in [header, *rows]
    ]
