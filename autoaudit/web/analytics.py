"""Dashboard analytics: an activity heatmap and guest conversion.

Both read at most the last ``days`` days of logs and are cached like the
dashboard counts (``AUTOAUDIT["DASHBOARD_CACHE_TIMEOUT"]``).

**Heatmap.** The database groups the rows by quarter hour in UTC (at most
96 groups a day), and Python folds the groups into weekday-by-hour cells of
the current time zone. So no database needs its time-zone tables (MariaDB
has none loaded by default), daylight saving time is applied per quarter
hour, and every time zone in use today (whole, half and quarter hour
offsets) lands in the right cell.

**Guest conversion.** A guest is a distinct guest session
(``actor_metadata["session_id"]``, a keyed hash) seen in the period; a guest
converted when a login in the period came from that session: the login log
holds the hashed id of the session the visitor had as a guest
(``actor_metadata["guest_session_id"]``). The raw session key is never
stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.db.models import CharField, Count, Q, Subquery, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, ExtractMinute, Floor, TruncHour
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR

from autoaudit.actors.resolve import GUEST_SESSION_KEY
from autoaudit.enums import ActionType, ActorType
from autoaudit.models import ActivityLog, ActivityLogQuerySet
from autoaudit.web.dashboard import cached

#: Days the analytics look back by default (the design document's 30).
DEFAULT_DAYS = 30
#: Quarter hours: every UTC offset in use is a multiple of 15 minutes.
_STEP = 15


def _period(days: int, now: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a positive integer, not {days!r}")
    end = now or timezone.now()
    return end - dt.timedelta(days=days), end


@dataclass(frozen=True)
class Heatmap:
    """Activity per weekday and hour: ``counts[weekday][hour]``, Monday
    first, in the time zone named ``time_zone``."""

    start: dt.datetime
    end: dt.datetime
    time_zone: str
    counts: tuple[tuple[int, ...], ...]

    @property
    def total(self) -> int:
        return sum(map(sum, self.counts))

    @property
    def peak(self) -> int:
        """The largest cell (0 when there is no activity)."""
        return max(map(max, self.counts))

    def chart(self) -> HeatmapChart:
        """The heatmap laid out for an SVG drawing (the dashboard's)."""
        peak = self.peak or 1
        cells = [
            HeatmapCell(
                x=_LABEL_WIDTH + hour * _CELL,
                y=_HEAD_HEIGHT + day * _CELL,
                count=n,
                # Never fully transparent: a quiet hour still shows a tint.
                opacity=round(0.15 + 0.85 * n / peak, 3) if n else 0.0,
                title=f"{WEEKDAYS_ABBR[day]} {hour:02d}:00 · {n}",
            )
            for day, row in enumerate(self.counts)
            for hour, n in enumerate(row)
        ]
        return HeatmapChart(
            width=_LABEL_WIDTH + 24 * _CELL,
            height=_HEAD_HEIGHT + 7 * _CELL,
            size=_CELL - 2,
            cells=cells,
            days=[
                (str(WEEKDAYS_ABBR[day]), _HEAD_HEIGHT + day * _CELL + _CELL * 3 // 4)
                for day in range(7)
            ],
            hours=[(f"{hour:02d}", _LABEL_WIDTH + hour * _CELL) for hour in range(0, 24, 3)],
        )


#: Drawing sizes, in SVG units: a cell's pitch, the weekday labels' column,
#: the hour labels' row.
_CELL = 16
_LABEL_WIDTH = 36
_HEAD_HEIGHT = 14


@dataclass(frozen=True)
class HeatmapCell:
    x: int
    y: int
    count: int
    opacity: float
    title: str


@dataclass(frozen=True)
class HeatmapChart:
    width: int
    height: int
    size: int
    cells: list[HeatmapCell]
    #: (label, baseline y) per weekday; (label, x) per third hour.
    days: list[tuple[str, int]]
    hours: list[tuple[str, int]]


def _heatmap_groups(
    queryset: ActivityLogQuerySet, start: dt.datetime, end: dt.datetime
) -> list[list[Any]]:
    """``[[utc hour (ISO), quarter, count], ...]``: plain data, so any cache
    backend can keep it."""
    utc = dt.UTC if django_settings.USE_TZ else None
    rows = (
        queryset.filter(created_at__gte=start, created_at__lt=end)
        .order_by()
        .annotate(
            aa_hour=TruncHour("created_at", tzinfo=utc),
            aa_quarter=Floor(ExtractMinute("created_at", tzinfo=utc) / Value(_STEP)),
        )
        .values("aa_hour", "aa_quarter")
        .annotate(aa_count=Count("id"))
        .values_list("aa_hour", "aa_quarter", "aa_count")
    )
    return [[hour.isoformat(), int(quarter), count] for hour, quarter, count in rows]


def heatmap(
    *,
    days: int = DEFAULT_DAYS,
    now: dt.datetime | None = None,
    queryset: ActivityLogQuerySet | None = None,
) -> Heatmap:
    """Activity per weekday and hour over the last ``days`` days, in the
    current time zone (the site's ``TIME_ZONE`` unless one is activated).

    ``queryset`` narrows the rows (default: every log). One grouped query,
    cached like the dashboard counts.
    """
    start, end = _period(days, now)
    if queryset is None:
        queryset = ActivityLog.objects.all()
    groups = cached(
        "heatmap", end, queryset, lambda: _heatmap_groups(queryset, start, end), days=days
    )
    zone = timezone.get_current_timezone()
    cells = [[0] * 24 for _ in range(7)]
    for hour, quarter, count in groups:
        moment = dt.datetime.fromisoformat(hour) + dt.timedelta(minutes=_STEP * quarter)
        if timezone.is_aware(moment):
            moment = moment.astimezone(zone)
        cells[moment.weekday()][moment.hour] += count
    return Heatmap(
        start=start,
        end=end,
        time_zone=timezone.get_current_timezone_name(),
        counts=tuple(tuple(row) for row in cells),
    )


@dataclass(frozen=True)
class GuestConversion:
    """Guests seen in a period and how many of them later logged in."""

    start: dt.datetime
    end: dt.datetime
    guests: int
    converted: int

    @property
    def rate(self) -> float | None:
        """``converted / guests`` (``None`` when there were no guests)."""
        return self.converted / self.guests if self.guests else None

    @property
    def percent(self) -> float | None:
        """The rate in percent, to one decimal."""
        rate = self.rate
        return None if rate is None else round(rate * 100, 1)


def _session(key: str) -> Cast:
    # As text (a plain CharField), so lookups on it are plain SQL ones and
    # not those of a JSON key.
    return Cast(KT(f"actor_metadata__{key}"), CharField())


def _conversion_counts(start: dt.datetime, end: dt.datetime) -> list[int]:
    period = ActivityLog.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
    logins = (
        period.filter(action=ActionType.LOGIN)
        .annotate(aa_session=_session(GUEST_SESSION_KEY))
        .filter(aa_session__isnull=False)
        .values("aa_session")
    )
    counts = (
        period.filter(actor_type=ActorType.GUEST)
        .annotate(aa_session=_session("session_id"))
        .filter(aa_session__isnull=False)
        .aggregate(
            guests=Count("aa_session", distinct=True),
            converted=Count("aa_session", distinct=True, filter=Q(aa_session__in=Subquery(logins))),
        )
    )
    return [counts["guests"], counts["converted"]]


def guest_conversion(
    *, days: int = DEFAULT_DAYS, now: dt.datetime | None = None
) -> GuestConversion:
    """Guests (distinct guest sessions) seen in the last ``days`` days, and
    how many of them logged in during that period from the same session.
    Cached like the dashboard counts."""
    start, end = _period(days, now)
    guests, converted = cached(
        "conversion", end, None, lambda: _conversion_counts(start, end), days=days
    )
    return GuestConversion(start=start, end=end, guests=guests, converted=converted)
