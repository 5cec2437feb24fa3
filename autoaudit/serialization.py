"""Turn model values into JSON that every supported database accepts.

Rules (API.md): int/float/bool/str/None as is; Decimal as string; dates and
times as ISO 8601; UUID as string; a foreign key as the related pk; files as
their name; containers recursively; anything else as ``str()``. Strings longer
than ``MAX_VALUE_LENGTH`` are cut with a visible marker. Nothing here raises:
a value we cannot render becomes a placeholder rather than failing a save.
"""

from __future__ import annotations

import datetime
import decimal
import math
import uuid
from collections.abc import Mapping
from typing import Any

from django.db.models.fields.files import FieldFile
from django.utils.duration import duration_iso_string
from django.utils.functional import Promise

TRUNCATION_MARKER = "…[truncated {count} chars]"
ENTITY_NAME_LENGTH = 255


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters and say how much was dropped."""
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATION_MARKER.format(count=len(text) - limit)


def _clean_str(text: str, limit: int) -> str:
    # PostgreSQL's jsonb rejects NUL; MySQL and SQLite keep it. Replace it
    # everywhere so the same value is stored on every backend.
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return truncate(text, limit)


def safe_str(value: Any, fallback: str = "") -> str:
    """``str(value)`` that never raises."""
    try:
        return str(value)
    except Exception:
        return fallback or f"<unprintable {type(value).__name__}>"


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
    if isinstance(value, Promise):
        return _clean_str(safe_str(value), limit)
    return _clean_str(safe_str(value), limit)


def _key(key: Any, limit: int) -> str:
    return _clean_str(key if isinstance(key, str) else safe_str(key), limit)


def field_value(instance: Any, field: Any) -> Any:
    """The raw Python value of a concrete field (FKs as their id)."""
    return instance.__dict__.get(field.attname)
