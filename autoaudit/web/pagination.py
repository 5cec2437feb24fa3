"""Cursor ("keyset") pagination on ``(created_at, id)``, newest first.

Pages could be read with ``LIMIT + OFFSET`` or with a cursor; OFFSET gets slower
the deeper one scrolls (the database reads and throws away every skipped
row), a cursor does not: each page starts where the last one ended, straight
from an index. The cursor is signed (``django.core.signing``), so a tampered
value is rejected rather than interpreted; and since it only says *where* to
continue, the access rules still decide *what* is shown on every page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core import signing
from django.core.exceptions import BadRequest
from django.db.models import Q
from django.http import HttpRequest

from autoaudit.models import ActivityLog, ActivityLogQuerySet

_SALT = "autoaudit.timeline.cursor"


class InvalidCursor(ValueError):
    """The cursor was not made by this site (tampered, truncated or stale key)."""


@dataclass(frozen=True)
class Cursor:
    """The position after the last row of a page."""

    created_at: datetime
    id: int

    @classmethod
    def after(cls, log: ActivityLog) -> Cursor:
        return cls(log.created_at, log.pk)

    def encode(self) -> str:
        return signing.dumps([self.created_at.isoformat(), self.id], salt=_SALT)

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = signing.loads(token, salt=_SALT)
            stamp, pk = raw
            moment = datetime.fromisoformat(stamp)
        except (signing.BadSignature, TypeError, ValueError) as error:
            raise InvalidCursor(str(error)) from None
        if isinstance(pk, bool) or not isinstance(pk, int) or moment.tzinfo is None:
            raise InvalidCursor("malformed cursor")
        return cls(moment, pk)


def cursor_of(request: HttpRequest) -> Cursor | None:
    """The ``?cursor=`` of a request; a bad one is a 400 (``BadRequest``)."""
    token = request.GET.get("cursor")
    if not token:
        return None
    try:
        return Cursor.decode(token)
    except InvalidCursor:
        raise BadRequest("Invalid cursor.") from None


@dataclass(frozen=True)
class Page:
    """One page of rows and the cursor of the next one (``None`` at the end)."""

    rows: list[ActivityLog]
    next_cursor: Cursor | None


def fetch_page(queryset: ActivityLogQuerySet, cursor: Cursor | None, size: int) -> Page:
    """Rows after ``cursor`` (or the newest), ``size`` of them, in one query."""
    queryset = queryset.order_by("-created_at", "-id")
    if cursor is not None:
        # "(created_at, id) < (c, i)" spelt so every backend can use an index
        # whose leading column is created_at (or user_id/action/... then
        # created_at): the redundant ``<=`` is the range the index scans.
        queryset = queryset.filter(created_at__lte=cursor.created_at).filter(
            Q(created_at__lt=cursor.created_at) | Q(id__lt=cursor.id)
        )
    rows = list(queryset[: size + 1])
    if len(rows) > size:
        rows = rows[:size]
        return Page(rows, Cursor.after(rows[-1]))
    return Page(rows, None)
