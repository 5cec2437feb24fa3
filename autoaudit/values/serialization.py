"""Turn model values into JSON that every supported database accepts, and
text into what fits a column.

Rules (API.md): int/float/bool/str/None as is; Decimal as string; dates and
times as ISO 8601; UUID as string; a foreign key as the related pk; files as
their name; containers recursively; anything else as ``str()``. Strings longer
than ``MAX_VALUE_LENGTH`` are cut with a visible marker. Nothing here raises:
a value we cannot render becomes a placeholder rather than failing a save.

This module is pure: it imports nothing of autoaudit's.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from django.db.models.fields.files import FieldFile
from django.utils.duration import duration_iso_string

TRUNCATION_MARKER = "…[truncated {count} chars]"
ELLIPSIS = "…"
#: ``entity_name`` and the other short text columns hold this many characters.
NAME_LENGTH = 255
#: ``entity_pk`` keeps this much of a key before its truncation marker.
PK_TEXT_LENGTH = 200
_BIGINT_MAX = 2**63 - 1


# -- text ---------------------------------------------------------------------
def safe_str(value: Any, fallback: str = "") -> str:
    """``str(value)`` that never raises and always returns a ``str``.

    ``str()`` can raise (a broken ``__str__``) or, for a class whose
    ``__str__`` returns a non-string, raise ``TypeError``; both give
    ``fallback`` (or a placeholder naming the type).
    """
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:
        return fallback or f"<unprintable {type(value).__name__}>"
    return text if isinstance(text, str) else (fallback or f"<{type(value).__name__}>")


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters and say how much was dropped
    (stored values: the reader must see that something is missing)."""
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATION_MARKER.format(count=len(text) - limit)


def shorten(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, ending with ``…`` if cut
    (names, previews and displayed values)."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def column_text(value: Any, limit: int = NAME_LENGTH) -> str | None:
    """Text fit for a short column: no NUL (PostgreSQL rejects it), trimmed,
    at most ``limit`` characters; ``None`` for nothing."""
    if value is None:
        return None
    text = safe_str(value).replace("\x00", "").strip()
    return text[:limit] or None


def _clean_str(text: str, limit: int) -> str:
    # PostgreSQL's jsonb rejects NUL; MySQL and SQLite keep it. Replace it
    # everywhere so the same value is stored on every backend.
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return truncate(text, limit)


# -- values ---------------------------------------------------------------------
def to_json(value: Any, limit: int) -> Any:
    """A JSON-safe rendering of ``value`` with strings cut at ``limit``."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return _clean_str(value, limit)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, Mapping):
        return {_key(k, limit): to_json(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v, limit) for v in value]
    if isinstance(value, set | frozenset):
        items = [to_json(v, limit) for v in value]
        return sorted(items, key=lambda item: (type(item).__name__, safe_str(item)))
    if isinstance(value, memoryview):
        value = value.tobytes()
    return _clean_str(safe_str(value), limit)


def _key(key: Any, limit: int) -> str:
    return _clean_str(key if isinstance(key, str) else safe_str(key), limit)


# -- primary keys -------------------------------------------------------------------
def pk_text(pk: Any) -> str | None:
    """A primary key as ``entity_pk`` stores it (and history looks it up).

    Text as it is, other scalars as ``str()``, a composite key (a tuple) as
    its JSON list (``[1, "a"]``); cut past :data:`PK_TEXT_LENGTH` with the
    truncation marker.
    """
    if pk is None:
        return None
    if isinstance(pk, tuple):
        text = json.dumps(to_json(list(pk), PK_TEXT_LENGTH), ensure_ascii=False)
    else:
        text = safe_str(pk)
    return truncate(text, PK_TEXT_LENGTH)[:NAME_LENGTH]


def pk_integer(pk: Any) -> int | None:
    """``entity_id``: the key itself for integer keys that fit a BIGINT, else ``None``."""
    if isinstance(pk, int) and not isinstance(pk, bool) and -_BIGINT_MAX <= pk <= _BIGINT_MAX:
        return pk
    return None
