"""Log rows as portable records: JSON Lines and CSV.

One record per row, with every column of ``activity_logs`` under its column
name (``user_id``, not ``user``), timestamps in ISO 8601 and JSON columns as
JSON. ``autoaudit_export`` writes these records; ``autoaudit_archive`` writes
the same JSON Lines (so ``autoaudit_restore`` can read them back).
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

#: Every column, in the order records are written.
FIELDS: tuple[str, ...] = (
    "id",
    "created_at",
    "user_id",
    "actor_type",
    "actor_identifier",
    "actor_name",
    "actor_metadata",
    "action",
    "entity",
    "computed_entity",
    "entity_id",
    "entity_pk",
    "entity_name",
    "old_values",
    "new_values",
    "changed_fields",
    "description",
    "ip_address",
    "user_agent",
    "extra_data",
    "request_id",
    "tags",
    "related_entity_type",
    "related_entity_id",
    "changes_summary",
)

#: Columns added after the first archive format (migration 0005): an archive
#: written before them lacks them, and restoring it leaves them NULL.
ADDED_FIELDS: frozenset[str] = frozenset(
    {"request_id", "tags", "related_entity_type", "related_entity_id", "changes_summary"}
)

#: Columns of the table that exports and archives leave out: ``write_id``
#: only keeps a retried ``write_logs`` task from inserting a row twice
#: (migration 0006); a restored row has it NULL.
INTERNAL_FIELDS: frozenset[str] = frozenset({"write_id"})

#: Columns holding JSON (written as JSON text in CSV).
JSON_FIELDS = frozenset(
    {"actor_metadata", "old_values", "new_values", "changed_fields", "extra_data", "tags"}
)

#: Free-text columns that may hold what a visitor typed; in CSV a leading
#: ``= + - @`` (or tab, CR) would make a spreadsheet run it as a formula, so
#: such values are prefixed with ``'`` there: at the start of the value and
#: of every line inside it (a tool that reads the file line by line sees
#: each line of a multi-line cell on its own).
_TEXT_FIELDS = frozenset(
    {
        "actor_identifier",
        "actor_name",
        "entity",
        "computed_entity",
        "entity_pk",
        "entity_name",
        "description",
        "user_agent",
        "request_id",
        "related_entity_type",
        "related_entity_id",
        "changes_summary",
    }
)
#: A place where a formula could start: the start of the value or of a line
#: (after CR or LF), followed by ``= + - @``, a tab or a CR.
_FORMULA_START = re.compile(r"(?:^|(?<=[\r\n]))(?=[=+\-@\t\r])")

FORMATS = ("jsonl", "csv")


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json_line(row: dict[str, Any]) -> str:
    """One record as a line of JSON (with the trailing newline)."""
    record = {name: row.get(name) for name in FIELDS}
    return json.dumps(record, ensure_ascii=False, default=_default, separators=(",", ":")) + "\n"


def _csv_cell(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if name in JSON_FIELDS:
        return json.dumps(value, ensure_ascii=False, default=_default)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if name in _TEXT_FIELDS and isinstance(value, str):
        return _FORMULA_START.sub("'", value)
    return value


def csv_header() -> str:
    """The CSV header line."""
    return _csv_lines([list(FIELDS)])


def _csv_lines(rows: Iterable[list[Any]]) -> str:
    """Rows as CSV lines ending in ``\n``.

    Before Python 3.13 the ``csv`` module quotes a field with a line break
    only if the break is one of the line terminator's characters: with
    ``"\n"`` a bare ``\r`` went out unquoted and split the record in two
    for any reader (the second half could start a formula). A row with a
    ``\r`` in a field is written with every field quoted.
    """
    buffer = io.StringIO()
    minimal = csv.writer(buffer, lineterminator="\n")
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        bare_cr = any(isinstance(cell, str) and "\r" in cell for cell in row)
        (quoted if bare_cr else minimal).writerow(row)
    return buffer.getvalue()


def to_csv_lines(rows: Iterable[dict[str, Any]]) -> str:
    """Records as CSV lines (no header)."""
    return _csv_lines([_csv_cell(name, row.get(name)) for name in FIELDS] for row in rows)


def render_pages(pages: Iterable[list[dict[str, Any]]], fmt: str) -> Iterator[tuple[str, int]]:
    """``(text, rows)`` for each page of rows in ``fmt`` (``jsonl`` or ``csv``).

    The CSV header is emitted first, with zero rows.
    """
    if fmt == "csv":
        yield csv_header(), 0
        for page in pages:
            yield to_csv_lines(page), len(page)
        return
    for page in pages:
        yield "".join(to_json_line(row) for row in page), len(page)
