"""An archived record checked against the columns of ``activity_logs``.

Restore inserts rows as they are (a raw ``INSERT``, the way ``loaddata``
does: ``created_at`` and the id are kept), so nothing on the way checks
them; SQLite would even store a ``max_length`` overrun or ``"not-an-ip"``.
:class:`RecordChecker` checks every column with the model's own field
(Django's ``clean()``: type, null, blank, ``choices``, ``max_length``,
range), after a strict JSON type check (``clean()`` would turn ``5`` into
``"5"``), plus what a field cannot say:

- ``id``: a positive integer, greater than the record before's (archives
  are written in id order);
- ``created_at``: an ISO 8601 datetime, not after now plus
  :data:`CLOCK_SKEW`;
- ``ip_address``: an IP address by Python's ``ipaddress`` (no zone id);
- no NUL character in a text column (PostgreSQL cannot store one).

Whether the ids fit the table and whether the users exist is the
database's part (:mod:`autoaudit.lifecycle.restore`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from autoaudit.lifecycle.export import ADDED_FIELDS, INTERNAL_FIELDS

#: How far in the future a ``created_at`` may be: the clocks of the machine
#: that wrote a row and the one restoring it may differ by this much.
CLOCK_SKEW = dt.timedelta(minutes=5)


class RecordError(ValueError):
    """A record is wrong (the message names the column)."""


def parse_created_at(value: Any) -> dt.datetime | None:
    """An archived ``created_at`` (ISO 8601 text) as the database takes it:
    aware under ``USE_TZ`` (a naive time is in the current time zone), naive
    otherwise; ``None`` if it is not a datetime."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and not settings.USE_TZ and timezone.is_aware(parsed):
        parsed = timezone.make_naive(parsed)
    elif parsed is not None and settings.USE_TZ and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _kind(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    if value is None:
        return "null"
    return kinds.get(type(value)) or ("a list" if isinstance(value, list) else "an object")


def _clean(field: models.Field[Any, Any], name: str, value: Any) -> Any:
    try:
        return field.clean(value, None)
    except ValidationError as exc:
        shown = value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "..."
        raise RecordError(f"{name!r} is {shown!r}: {' '.join(exc.messages)}") from None


_Check = Callable[[Any], Any]

#: Values remembered per column (each at most 255 characters).
_MEMO_SIZE = 4096


def _memo(check: _Check) -> _Check:
    """``check`` remembering its answer for values it has seen: a column's
    values repeat (actions, entities, user agents, addresses), and clean()
    costs more than the rest of reading a row."""
    seen: dict[tuple[type, Any], Any] = {}

    def memo(value: Any) -> Any:
        if type(value) not in (str, int):
            return check(value)
        key = (type(value), value)  # True and 1 are equal, but not the same value
        try:
            return seen[key]
        except KeyError:
            cleaned = check(value)
        if len(seen) < _MEMO_SIZE and (type(value) is int or len(value) <= 255):
            seen[key] = cleaned
        return cleaned

    return memo


def _typed(field: models.Field[Any, Any], name: str, accepts: tuple[type, ...]) -> _Check:
    """``field.clean`` of a value of the JSON type the column stores."""
    what = "an integer" if int in accepts else "a string"

    def check(value: Any) -> Any:
        if value is None and field.null:
            return None
        if value is not None and (not isinstance(value, accepts) or isinstance(value, bool)):
            raise RecordError(f"{name!r} must be {what}, not {_kind(value)}")
        if isinstance(value, str) and "\x00" in value:
            raise RecordError(f"{name!r} holds a NUL character")
        return _clean(field, name, value)

    return check


def _ip_address(field: models.Field[Any, Any], name: str) -> _Check:
    typed = _typed(field, name, (str,))

    def check(value: Any) -> Any:
        if isinstance(value, str):
            try:
                address = ipaddress.ip_address(value)
            except ValueError:
                address = None
            if address is None or getattr(address, "scope_id", None):
                raise RecordError(f"{name!r} is {value[:60]!r}, not an IP address")
        return typed(value)

    return check


def _column_check(field: models.Field[Any, Any]) -> _Check:
    name = field.attname
    if isinstance(field, models.ForeignKey):
        target = field.target_field
        accepts: tuple[type, ...] = (int,) if isinstance(target, models.IntegerField) else (str,)
        clean_target = _typed(target, name, accepts)
        return lambda value: None if value is None and field.null else clean_target(value)
    if isinstance(field, models.JSONField):
        # Any JSON value is a valid value of a JSON column (``null`` too:
        # every one is nullable); clean() would only dump it again.
        return lambda value: value
    if isinstance(field, models.GenericIPAddressField):
        return _ip_address(field, name)
    if isinstance(field, models.IntegerField):
        return _typed(field, name, (int,))
    return _typed(field, name, (str,))


class RecordChecker:
    """Checks the records of one archive, in order; :meth:`check` returns
    the values to insert (``created_at`` as a datetime, IPv6 addresses in
    Django's normal form)."""

    def __init__(self) -> None:
        from autoaudit.models import ActivityLog

        fields = [f for f in ActivityLog._meta.concrete_fields if f.attname not in INTERNAL_FIELDS]
        self.columns = tuple(field.attname for field in fields)
        self._checks = [
            (field.attname, _memo(_column_check(field)))
            for field in fields
            if not field.primary_key and field.attname != "created_at"
        ]
        self._latest = timezone.now() + CLOCK_SKEW
        self._last_id = 0

    def check(self, record: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(record) - set(self.columns))
        if unknown:
            raise RecordError(f"unknown column(s) {', '.join(unknown)}")
        missing = [name for name in self.columns if name not in record and name not in ADDED_FIELDS]
        if missing:
            raise RecordError(f"missing column(s) {', '.join(missing)}")
        pk = self._id(record["id"])
        values: dict[str, Any] = {"id": pk, "created_at": self._created_at(record)}
        values.update((name, check(record.get(name))) for name, check in self._checks)
        self._last_id = pk
        return values

    def _id(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecordError("'id' must be an integer")
        if value < 1 or value >= 2**63:
            raise RecordError(f"'id' is {value}: ids are from 1 to 2**63-1")
        if value <= self._last_id:
            raise RecordError(
                f"'id' {value} is not greater than the id before it ({self._last_id}): "
                "an archive holds each id once, in order"
            )
        return value

    def _created_at(self, record: dict[str, Any]) -> dt.datetime:
        created = parse_created_at(record["created_at"])
        if created is None:
            raise RecordError("'created_at' is not an ISO 8601 datetime")
        if created > self._latest:
            raise RecordError(
                f"'created_at' {record['created_at']} is in the future (more than "
                f"{CLOCK_SKEW.total_seconds() / 60:g} minutes from now)"
            )
        return created
