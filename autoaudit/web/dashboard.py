"""Dashboard numbers: activity counts per action and per actor type for
today, the last 7 days and the last 30 days.

Count queries are cached: the counts come from one grouped query over the
last 30 days and are kept in Django's cache (default alias) for
``AUTOAUDIT["DASHBOARD_CACHE_TIMEOUT"]`` seconds (0 turns the cache off),
with the moment they were counted, which the page shows ("as of 14:05").
They count the rows of the queryset they are given, so the timeline's
counts follow its active filters; the key carries that query, and the local
date, so "today" starts afresh at midnight whatever the timeout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from autoaudit.conf import get_settings
from autoaudit.enums import ActionType, ActorType
from autoaudit.models import ActivityLog, ActivityLogQuerySet
from autoaudit.tracking.registry import entity_labels, registered_models
from autoaudit.web.forms import filter_entity

_KEY = "autoaudit:dashboard:v3:{kind}:{day}:{tz}:{query}:{extra}"
WINDOWS = ("today", "week", "month")
T = TypeVar("T")
WINDOW_LABELS = {"today": _("Today"), "week": _("7 days"), "month": _("30 days")}


@dataclass(frozen=True)
class CountRow:
    """One line of the table: a label and its count per window."""

    kind: str  # "action" or "actor_type"
    value: str
    label: str
    counts: tuple[int, int, int]


@dataclass(frozen=True)
class Dashboard:
    windows: tuple[str, ...]
    totals: tuple[int, int, int]
    actions: list[CountRow]
    actor_types: list[CountRow]
    #: When the counts were made (they may come from the cache).
    as_of: datetime | None = None
    #: True when they count only the rows of active filters.
    filtered: bool = False

    @property
    def window_labels(self) -> list[str]:
        return [str(WINDOW_LABELS[window]) for window in self.windows]

    @property
    def cards(self) -> list[tuple[str, int]]:
        """``(label, total)`` per window."""
        return list(zip(self.window_labels, self.totals, strict=True))


def _starts(now: datetime) -> dict[str, datetime]:
    local = timezone.localtime(now) if timezone.is_aware(now) else now
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return {"today": midnight, "week": now - timedelta(days=7), "month": now - timedelta(days=30)}


def compute_counts(now: datetime, queryset: ActivityLogQuerySet | None = None) -> dict[str, Any]:
    """The raw counts of ``queryset`` (default: every log),
    ``{"action": {value: [today, week, month]}, ..., "as_of": iso time}``
    (plain data, so any cache backend can store it). One query."""
    starts = _starts(now)
    if queryset is None:
        queryset = ActivityLog.objects.all()
    rows = (
        queryset.filter(created_at__gte=starts["month"])
        .order_by()
        .values("action", "actor_type")
        .annotate(
            today=Count("id", filter=Q(created_at__gte=starts["today"])),
            week=Count("id", filter=Q(created_at__gte=starts["week"])),
            month=Count("id"),
        )
    )
    counts: dict[str, dict[str, list[int]]] = {"action": {}, "actor_type": {}}
    for row in rows:
        numbers = [row["today"], row["week"], row["month"]]
        for kind in ("action", "actor_type"):
            total = counts[kind].setdefault(row[kind], [0, 0, 0])
            for index, number in enumerate(numbers):
                total[index] += number
    return {**counts, "as_of": now.isoformat()}


def _query_key(queryset: ActivityLogQuerySet | None) -> str:
    """A short, stable name of what ``queryset`` selects (its SQL with the
    parameters), so each combination of filters has its own cache entry."""
    if queryset is None:
        return "all"
    sql, params = queryset.query.sql_with_params()
    text = f"{queryset.db}\n{sql}\n{params!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cached(
    kind: str,
    now: datetime,
    queryset: ActivityLogQuerySet | None,
    compute: Callable[[], T],
    **parameters: Any,
) -> T:
    """``compute()``, kept in the cache for ``DASHBOARD_CACHE_TIMEOUT``
    seconds under a key made of ``kind``, the local date (so a day's
    numbers start afresh at midnight), the time zone, what ``queryset``
    selects and ``parameters``. ``compute`` must return plain data."""
    timeout = get_settings().DASHBOARD_CACHE_TIMEOUT
    if timeout == 0:
        return compute()
    local_day = (timezone.localtime(now) if timezone.is_aware(now) else now).date()
    extra = ",".join(f"{name}={value!r}" for name, value in sorted(parameters.items()))
    key = _KEY.format(
        kind=kind,
        day=local_day.isoformat(),
        tz=timezone.get_current_timezone_name(),
        query=_query_key(queryset),
        extra=extra,
    )
    value: T | None = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout)
    return value


def get_counts(
    now: datetime | None = None, queryset: ActivityLogQuerySet | None = None
) -> dict[str, Any]:
    """The counts of ``queryset`` (default: every log), from the cache when
    they are fresh enough."""
    moment = now or timezone.now()
    return cached("counts", moment, queryset, lambda: compute_counts(moment, queryset))


def _rows(kind: str, raw: dict[str, list[int]], choices: Any) -> list[CountRow]:
    labels = dict(choices)
    rows = [
        CountRow(kind, value, str(labels.get(value, value)), (n[0], n[1], n[2]))
        for value, n in raw.items()
        if any(n)
    ]
    return sorted(rows, key=lambda row: (-row.counts[2], row.label))


def get_dashboard(
    now: datetime | None = None,
    *,
    queryset: ActivityLogQuerySet | None = None,
    filtered: bool = False,
) -> Dashboard:
    """The counts of ``queryset`` (default: every log) arranged for the
    template (labels in the active language); ``filtered`` says the
    queryset is narrowed by filters, which the page then mentions."""
    counts = get_counts(now, queryset)
    actor_types = _rows("actor_type", counts.get("actor_type", {}), ActorType.choices)
    totals = tuple(sum(row.counts[i] for row in actor_types) for i in range(3))
    as_of = counts.get("as_of")
    return Dashboard(
        windows=WINDOWS,
        totals=(totals[0], totals[1], totals[2]),
        actions=_rows("action", counts.get("action", {}), ActionType.choices),
        actor_types=actor_types,
        as_of=datetime.fromisoformat(as_of) if isinstance(as_of, str) else None,
        filtered=filtered,
    )


def entity_filter_labels(*, logged: bool) -> list[str]:
    """The entities a filter offers: every registered model's label and, with
    ``logged``, every entity in the table (:func:`get_entities`)."""
    labels = {entity_labels(model)[1] for model in registered_models()}
    if logged:
        labels.update(get_entities())
    return sorted(labels)


def logged_actions(entity: str | None = None) -> list[str]:
    """The actions that occur in the table (or in ``entity``'s rows, an
    ``app_label.Model``), for filters that should offer only those; cached
    like the counts."""
    timeout = get_settings().DASHBOARD_CACHE_TIMEOUT
    digest = hashlib.sha256((entity or "").encode()).hexdigest()[:32] if entity else "all"
    key = f"autoaudit:actions:v1:{digest}"
    actions: list[str] | None = cache.get(key) if timeout else None
    if actions is None:
        queryset = ActivityLog.objects.all()
        if entity:
            queryset = filter_entity(queryset, entity)
        actions = sorted(queryset.order_by().values_list("action", flat=True).distinct())
        if timeout:
            cache.set(key, actions, timeout)
    return actions


def get_entities() -> list[str]:
    """Every ``computed_entity`` in the table (for the entity filter), cached
    like the counts: a DISTINCT over the whole table is not free."""
    timeout = get_settings().DASHBOARD_CACHE_TIMEOUT
    key = "autoaudit:entities:v1"
    entities: list[str] | None = cache.get(key) if timeout else None
    if entities is None:
        entities = sorted(
            ActivityLog.objects.order_by().values_list("computed_entity", flat=True).distinct()
        )
        if timeout:
            cache.set(key, entities, timeout)
    return entities
