"""Turn model values into JSON that every supported database accepts, and
text into what fits a column.

Rules (API.md): int/float/bool/str/None as is; Decimal as string; dates and
times as ISO 8601; UUID as string; a foreign key as the related pk; files as
their name; containers recursively; anything else as ``str()``.

Every stored value is bounded, each cut with a visible marker: strings
longer than ``MAX_VALUE_LENGTH``, containers longer than ``MAX_ITEMS``,
containers nested deeper than :data:`MAX_DEPTH`, and a value whose JSON is
still over ``MAX_VALUE_BYTES`` after those cuts. Text bound for a log column
has no lone surrogates (no driver can encode one). Nothing here raises: a
value we cannot render becomes a placeholder rather than failing a save, and
nothing recurses deeper than :data:`MAX_DEPTH`, however deep the value.

This module is pure: it imports nothing of autoaudit's.
"""

from __future__ import annotations

import datetime
import decimal
import heapq
import itertools
import json
import math
import re
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from django.db.models.fields.files import FieldFile
from django.utils.duration import duration_iso_string

TRUNCATION_MARKER = "…[truncated {count} chars]"
#: The last item of a list (or set) cut to ``MAX_ITEMS`` items.
ITEMS_MARKER = "…[truncated {count} items]"
#: The last key of a dict cut to ``MAX_ITEMS`` keys (its value is ``None``).
KEYS_MARKER = "…[truncated {count} keys]"
#: What stands for a container nested deeper than :data:`MAX_DEPTH`.
DEPTH_MARKER = "…[nested deeper than {depth} levels]"
#: What stands for a value whose JSON is over ``MAX_VALUE_BYTES``.
BYTES_MARKER = "…[value of {size} bytes not stored]"
ELLIPSIS = "…"
#: ``MAX_ITEMS`` and ``MAX_VALUE_BYTES`` when the caller gives none.
DEFAULT_MAX_ITEMS = 1000
DEFAULT_MAX_VALUE_BYTES = 64 * 1024
#: Containers nest at most this deep in a stored value. MariaDB's
#: ``JSON_VALID`` (the check on its JSON columns) refuses documents nested
#: 32 levels deep, and a value sits inside its column's object; one depth
#: for every backend stores the same value everywhere.
MAX_DEPTH = 30
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
    if not isinstance(text, str):
        return fallback or f"<{type(value).__name__}>"
    return encodable(text)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def encodable(text: str) -> str:
    """``text`` with each lone surrogate (``"\\ud800"``, what
    ``surrogateescape`` leaves of undecodable bytes) replaced by U+FFFD:
    no database driver can encode one, so it would fail the log insert."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


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
    return truncate(encodable(text), limit)


# -- values ---------------------------------------------------------------------
def to_json(
    value: Any,
    limit: int,
    *,
    max_items: int = DEFAULT_MAX_ITEMS,
    max_bytes: int = DEFAULT_MAX_VALUE_BYTES,
) -> Any:
    """A JSON-safe rendering of ``value``, bounded.

    Strings are cut at ``limit`` characters, lists, sets and dicts at
    ``max_items`` items (:data:`ITEMS_MARKER`, :data:`KEYS_MARKER`),
    containers deeper than :data:`MAX_DEPTH` become :data:`DEPTH_MARKER`;
    if the result's JSON is then still over ``max_bytes`` (UTF-8), the
    whole value is :data:`BYTES_MARKER`. The caller reads the bounds from
    the settings (``MAX_VALUE_LENGTH``, ``MAX_ITEMS``, ``MAX_VALUE_BYTES``).
    """
    rendered = _render(value, limit, max_items, 0)
    bound = _size_bound(rendered)
    if bound is None or bound > max_bytes:
        size = json_size(rendered)
        if size > max_bytes:
            return BYTES_MARKER.format(size=size)
    return rendered


def json_size(value: Any) -> int:
    """Bytes of ``value``'s JSON text in UTF-8 (a JSON-safe value)."""
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def _size_bound(value: Any) -> int | None:
    """A cheap upper bound of :func:`json_size` for a scalar; ``None`` for a
    container (it is measured)."""
    if isinstance(value, str):
        return 6 * len(value) + 2  # every character escaped as \uXXXX at worst
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 2  # digits and a sign
    if isinstance(value, float):
        return 24  # repr() of a double
    return None


def _render(value: Any, limit: int, max_items: int, depth: int) -> Any:
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
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        if depth >= MAX_DEPTH:
            # Also where a value that contains itself ends.
            return DEPTH_MARKER.format(depth=MAX_DEPTH)
        depth += 1
        if isinstance(value, Mapping):
            entries = itertools.islice(value.items(), max_items)
            mapping = {_key(k, limit): _render(v, limit, max_items, depth) for k, v in entries}
            if len(value) > max_items:
                mapping[KEYS_MARKER.format(count=len(value) - max_items)] = None
            return mapping
        if isinstance(value, list | tuple):
            items = [_render(v, limit, max_items, depth) for v in value[:max_items]]
        else:
            items = [_render(v, limit, max_items, depth) for v in value]
            items.sort(key=lambda item: (type(item).__name__, safe_str(item)))
            del items[max_items:]
        if len(value) > max_items:
            items.append(ITEMS_MARKER.format(count=len(value) - max_items))
        return items
    if isinstance(value, memoryview):
        value = value.tobytes()
    return _clean_str(safe_str(value), limit)


def _key(key: Any, limit: int) -> str:
    return _clean_str(key if isinstance(key, str) else safe_str(key), limit)


def _marker_pattern(*markers: str) -> re.Pattern[str]:
    number = "0000000"  # stands for each number in a marker's template
    parts = [re.escape(m.format(count=number, depth=number, size=number)) for m in markers]
    return re.compile("|".join(p.replace(number, r"\d+") for p in parts))


_CUT = _marker_pattern(TRUNCATION_MARKER, ITEMS_MARKER, KEYS_MARKER, DEPTH_MARKER, BYTES_MARKER)


def is_cut(value: Any) -> bool:
    """Whether a stored (JSON) value carries one of the markers :func:`to_json`
    leaves where it cut something: the value as stored is not the value as it
    was. Strings, keys and items at any depth are looked at (without recursion)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if ELLIPSIS + "[" in item and _CUT.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


# -- previews -------------------------------------------------------------------
def json_text(value: Any, limit: int, *, sort_keys: bool = False) -> str:
    """``json.dumps(value, ensure_ascii=False)`` in at most ``limit``
    characters, ending with ``…`` if cut (what a description or the
    timeline shows of a value).

    Only what is shown is rendered, without recursion: a huge or deeply
    nested value (a row written before values were bounded) costs no more
    than a small one. Values that are not JSON are shown as ``str()``.
    """
    parts: list[str] = []
    size = 0
    pending: list[Iterator[tuple[bool, Any]]] = [iter([(False, value)])]
    while pending and size <= limit:
        step = next(pending[-1], None)
        if step is None:
            pending.pop()
            continue
        literal, item = step
        if literal:
            text = item
        elif isinstance(item, dict):
            pending.append(_dict_parts(item, limit, sort_keys))
            continue
        elif isinstance(item, list | tuple):
            pending.append(_list_parts(item))
            continue
        else:
            text = _scalar_text(item, limit)
        parts.append(text)
        size += len(text)
    return shorten("".join(parts), limit)


def _list_parts(items: list[Any] | tuple[Any, ...]) -> Iterator[tuple[bool, Any]]:
    yield True, "["
    for index, item in enumerate(items):
        if index:
            yield True, ", "
        yield False, item
    yield True, "]"


def _dict_parts(mapping: dict[Any, Any], limit: int, sort_keys: bool) -> Iterator[tuple[bool, Any]]:
    keys: Any = mapping
    if sort_keys:
        # Every entry takes a character at least: no more than ``limit``
        # keys can show, and only those need to be in order.
        keys = heapq.nsmallest(limit, mapping, key=safe_str)
    yield True, "{"
    for index, key in enumerate(keys):
        yield True, (", " if index else "") + _key_text(key, limit) + ": "
        yield False, mapping[key]
    yield True, "}"


def _key_text(key: Any, limit: int) -> str:
    if key is None or isinstance(key, bool | int | float):
        key = json.dumps(key)
    return _scalar_text(safe_str(key), limit)


def _scalar_text(value: Any, limit: int) -> str:
    if not (value is None or isinstance(value, str | bool | int | float)):
        value = safe_str(value)
    if isinstance(value, str):
        # The escapes make the text at least as long as the string: the
        # first ``limit`` characters are all that can show.
        value = value[: limit + 1]
    try:
        return encodable(json.dumps(value, ensure_ascii=False))
    except ValueError:  # an int too long for str()
        return f"<{type(value).__name__}>"


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
