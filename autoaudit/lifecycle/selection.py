"""Choosing log rows for the management commands, and walking them in pages.

Every command that reads or deletes many rows goes through here:

* :func:`parse_when` turns ``--since``/``--until`` into aware datetimes;
* :func:`match_actor` finds one person's logs by an identifier;
* :func:`iter_pages` reads rows in primary-key order, one page (``LIMIT``) at
  a time, so memory stays flat however many rows match;
* :func:`delete_in_batches` deletes rows a batch at a time, each batch in its
  own short transaction, so no statement holds locks on the table for long.

Pages are taken by key ("``id > last``"), not with ``QuerySet.iterator()``:
mysqlclient buffers a whole result set in client memory, so only separate
``LIMIT`` queries keep memory flat on every supported database, and walking
by key never rescans rows already read (or deleted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, router
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from autoaudit.models import ActivityLog

    LogQuerySet = QuerySet[ActivityLog]

#: Rows per page when reading.
DEFAULT_CHUNK_SIZE = 2000
#: Parameters kept free for the filters of a batched ``IN (...)`` query.
_PARAM_HEADROOM = 100


class SelectionError(ValueError):
    """A filter value the commands cannot use (the message says why)."""


def log_alias() -> str:
    """The database that holds ``activity_logs`` (for writes): ``DATABASE``,
    else the routers' choice."""
    from autoaudit.models import ActivityLog, configured_write_alias

    return configured_write_alias() or router.db_for_write(ActivityLog)


def read_alias() -> str:
    """The database the commands read logs from: ``READ_DATABASE``, else
    ``DATABASE``, else the routers' choice."""
    from autoaudit.models import ActivityLog, configured_read_alias

    return configured_read_alias() or router.db_for_read(ActivityLog)


def parse_when(value: str, option: str, *, end_of_day: bool = False) -> dt.datetime:
    """An aware datetime from ``YYYY-MM-DD`` or an ISO 8601 datetime.

    A bare date means the start of that day in the current time zone, or,
    with ``end_of_day``, the start of the next day (so ``--until 2024-03-15``
    includes the 15th). Naive datetimes are taken in the current time zone.
    """
    text = (value or "").strip()
    parsed: dt.datetime | None
    try:
        # A bare date first: parse_datetime() would take it as midnight.
        day = parse_date(text)
        parsed = parse_datetime(text) if day is None else None
    except ValueError:
        parsed = day = None
    if day is not None:
        if end_of_day:
            day += dt.timedelta(days=1)
        parsed = dt.datetime.combine(day, dt.time.min)
    if parsed is None:
        raise SelectionError(
            f"{option}: {value!r} is not a date (YYYY-MM-DD) or an ISO 8601 datetime "
            "(YYYY-MM-DDTHH:MM[:SS][+HH:MM])."
        )
    if settings.USE_TZ and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    elif not settings.USE_TZ and timezone.is_aware(parsed):
        parsed = timezone.make_naive(parsed)
    return parsed


@dataclass
class ActorMatch:
    """The logs of one person, found by an identifier."""

    identifier: str
    #: Primary keys of user accounts whose username or email is the identifier.
    user_ids: list[Any] = field(default_factory=list)
    #: ``identifier`` plus those accounts' usernames and emails.
    identifiers: set[str] = field(default_factory=set)

    @property
    def q(self) -> Q:
        condition = Q(actor_identifier__in=sorted({self.identifier, *self.identifiers}))
        if self.user_ids:
            condition |= Q(user_id__in=self.user_ids)
        return condition


def match_actor(identifier: str) -> ActorMatch:
    """Find one person's logs by a username, an email or a guest identifier.

    The logs matched are those whose ``actor_identifier`` is ``identifier``
    (users, guests, or a named system actor) and, if user accounts have it
    as their username or email (exact match), every log linked to those
    accounts plus the logs written under their usernames and emails.
    """
    user_model = get_user_model()
    username_field = user_model.USERNAME_FIELD
    fields = [username_field]
    condition = Q(**{username_field: identifier})
    email_field = user_model.get_email_field_name()
    try:
        user_model._meta.get_field(email_field)
    except FieldDoesNotExist:
        pass
    else:
        condition |= Q(**{email_field: identifier})
        fields.append(email_field)
    match = ActorMatch(identifier=identifier, identifiers={identifier})
    for row in user_model._default_manager.filter(condition).values("pk", *fields):
        match.user_ids.append(row["pk"])
        match.identifiers.update(str(row[name]) for name in fields if row[name])
    return match


def filter_logs(
    queryset: LogQuerySet,
    *,
    actor: ActorMatch | None = None,
    entity: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    actor_type: str | None = None,
) -> LogQuerySet:
    """Apply the commands' common filters (``since`` inclusive, ``until`` exclusive).

    ``entity`` is a short entity name (``product``) or, with a dot, the
    ``app_label.Model`` of ``computed_entity`` (case-sensitive).
    """
    if actor is not None:
        queryset = queryset.filter(actor.q)
    if entity:
        if "." in entity:
            queryset = queryset.filter(computed_entity=entity)
        else:
            queryset = queryset.filter(entity=entity.lower())
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    if actor_type:
        queryset = queryset.filter(actor_type=actor_type)
    return queryset


def counts_by_actor_type(queryset: LogQuerySet) -> dict[str, int]:
    """``{actor_type: rows}`` for the rows of ``queryset`` (no zero entries)."""
    rows = queryset.order_by().values("actor_type").annotate(rows=Count("id"))
    return {row["actor_type"]: row["rows"] for row in rows}


def iter_pages(
    queryset: LogQuerySet, fields: tuple[str, ...], chunk_size: int
) -> Iterator[list[dict[str, Any]]]:
    """Rows of ``queryset`` as dicts of ``fields``, in ``id`` order, a page at a time.

    Each page is one ``... WHERE id > last ORDER BY id LIMIT chunk_size``
    query; a page shorter than ``chunk_size`` ends the walk.
    """
    if chunk_size < 1:
        raise SelectionError(f"the chunk size must be at least 1, not {chunk_size}.")
    values = queryset.order_by("id").values(*fields)
    last: Any = None
    while True:
        page_qs = values if last is None else values.filter(id__gt=last)
        page = list(page_qs[:chunk_size])
        if page:
            yield page
        if len(page) < chunk_size:
            return
        last = page[-1]["id"]


def effective_batch_size(batch_size: int, alias: str) -> int:
    """``batch_size`` capped so an ``IN (...)`` of that many ids fits the backend."""
    limit = connections[alias].features.max_query_params
    if limit:
        return max(1, min(batch_size, limit - _PARAM_HEADROOM))
    return batch_size


def delete_ids(queryset: LogQuerySet, ids: list[int], alias: str, *, kind: str) -> int:
    """Delete the rows of ``queryset`` whose id is in ``ids``, in one
    maintenance transaction on ``alias`` (whichever database ``queryset``
    was read from) that records the sealed ones as ``kind``
    (a :class:`~autoaudit.models.SealEvent` kind: pruned, archived, erased)."""
    from autoaudit.lifecycle.maintenance import maintenance

    with maintenance(alias) as ledger:
        before = ledger.snapshot(ids)
        deleted, _detail = queryset.using(alias).filter(id__in=ids).delete()
        ledger.record(kind, before)
    return deleted


def delete_in_batches(
    queryset: LogQuerySet, batch_size: int, alias: str | None = None, *, kind: str
) -> int:
    """Delete every row of ``queryset``, ``batch_size`` rows per transaction.

    The ids of a batch are read first (a plain ``SELECT``), then deleted with
    the filters applied again, so a row that stopped matching in between is
    left alone. Rows inserted meanwhile that do not match are never touched.
    Sealed rows are recorded as ``kind`` (see :func:`delete_ids`).
    Returns the number of rows deleted.
    """
    alias = alias or log_alias()
    queryset = queryset.using(alias)
    batch = effective_batch_size(batch_size, alias)
    total = 0
    for page in iter_pages(queryset, ("id",), batch):
        total += delete_ids(queryset, [row["id"] for row in page], alias, kind=kind)
    return total


def _whole_number(text: str, minimum: int, what: str) -> int:
    import argparse

    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number{what}.") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {number}.")
    return number


def positive_int(text: str) -> int:
    """``argparse`` type for options that take a count of at least 1."""
    return _whole_number(text, 1, "")


def non_negative_int(text: str) -> int:
    """``argparse`` type for a number of days (0 or more)."""
    return _whole_number(text, 0, " of days")


def plain_style(text: str) -> str:
    """No colour: the commands' stderr carries a summary, not an error."""
    return text
