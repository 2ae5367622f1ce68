"""CSV the service emits: every cell is escaped against formula injection.

A spreadsheet opening a cell that starts with ``= + - @``, a tab or a carriage return runs it as a
formula (``=HYPERLINK(...)``, DDE); a leading apostrophe makes it plain text (OWASP "CSV Injection").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The cell as text, with a leading apostrophe when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """RFC 4180 text (CRLF line ends) with every cell passed through ``safe_cell``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buf.getvalue()
