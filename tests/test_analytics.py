"""``autoaudit.analytics``: the activity heatmap and guest conversion."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.forms.models import model_to_dict
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries, Settings

import autoaudit
from autoaudit import analytics
from autoaudit.models import ActivityLog
from tests.test_privacy_support import make_log
from tests.testapp.models import ContactMessage
from tests.typing_support import Track

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 18, 12, 0, tzinfo=dt.UTC)  # a Wednesday
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


def log_at(when: dt.datetime, **fields: Any) -> ActivityLog:
    log = make_log(**fields)
    ActivityLog.objects.filter(pk=log.pk).update(created_at=when)
    return log


def cells(heatmap: analytics.Heatmap) -> dict[tuple[int, int], int]:
    return {
        (day, hour): n for day, row in enumerate(heatmap.counts) for hour, n in enumerate(row) if n
    }


# -- heatmap -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        # 2026-03-16 is a Monday. 23:50 UTC on Monday is ...
        ("UTC", {(0, 23): 1, (1, 0): 1}),
        ("Asia/Jakarta", {(1, 6): 1, (1, 7): 1}),  # +7: Tuesday 06:50, 07:10
        ("Asia/Kolkata", {(1, 5): 2}),  # +5:30: Tuesday 05:20 and 05:40
        ("Asia/Kathmandu", {(1, 5): 2}),  # +5:45: Tuesday 05:35 and 05:55
        ("America/New_York", {(0, 19): 1, (0, 20): 1}),  # -4 (DST since March 8)
    ],
)
def test_cells_are_in_the_current_time_zone(zone: str, expected: dict[Any, int]) -> None:
    log_at(dt.datetime(2026, 3, 16, 23, 50, tzinfo=dt.UTC))
    log_at(dt.datetime(2026, 3, 17, 0, 10, tzinfo=dt.UTC))
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        heatmap = analytics.heatmap(now=NOW)
    assert cells(heatmap) == expected
    assert heatmap.time_zone == zone
    assert heatmap.total == 2


def test_daylight_saving_time_is_applied_per_row() -> None:
    # New York: -5 before 2026-03-08 07:00 UTC, -4 after. Both rows are
    # 14:30 local on a Saturday and on the next Saturday.
    log_at(dt.datetime(2026, 3, 7, 19, 30, tzinfo=dt.UTC))
    log_at(dt.datetime(2026, 3, 14, 18, 30, tzinfo=dt.UTC))
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        heatmap = analytics.heatmap(now=NOW)
    assert cells(heatmap) == {(5, 14): 2}


def test_only_the_period_counts() -> None:
    log_at(NOW - dt.timedelta(days=31))
    log_at(NOW - dt.timedelta(days=29))
    log_at(NOW + dt.timedelta(minutes=1))  # not yet
    assert analytics.heatmap(now=NOW).total == 1
    cache.clear()
    assert analytics.heatmap(now=NOW, days=40).total == 2
    assert analytics.heatmap(now=NOW, days=30).total == 1  # its own cache entry


def test_a_queryset_narrows_the_rows() -> None:
    log_at(NOW - dt.timedelta(hours=1), actor_type="guest")
    log_at(NOW - dt.timedelta(hours=1), actor_type="system")
    assert analytics.heatmap(now=NOW, queryset=ActivityLog.objects.system()).total == 1
    assert analytics.heatmap(now=NOW).total == 2


def test_one_query_then_the_cache(
    django_assert_num_queries: DjangoAssertNumQueries, settings: Settings
) -> None:
    for hours in range(50):
        log_at(NOW - dt.timedelta(hours=hours))
    with django_assert_num_queries(1):
        first = analytics.heatmap(now=NOW)
    with django_assert_num_queries(0):
        assert analytics.heatmap(now=NOW) == first
    settings.AUTOAUDIT = {"DASHBOARD_CACHE_TIMEOUT": 0}
    with django_assert_num_queries(1):
        analytics.heatmap(now=NOW)


def test_the_chart_scales_to_the_peak() -> None:
    for _ in range(4):
        log_at(dt.datetime(2026, 3, 16, 9, 5, tzinfo=dt.UTC))
    log_at(dt.datetime(2026, 3, 16, 10, 5, tzinfo=dt.UTC))
    with timezone.override(dt.UTC):
        chart = analytics.heatmap(now=NOW).chart()
    assert len(chart.cells) == 7 * 24
    by_count = {cell.count: cell for cell in chart.cells}
    assert by_count[4].opacity == 1.0
    assert 0.15 < by_count[1].opacity < 1.0
    assert by_count[0].opacity == 0.0
    assert by_count[4].title == "Mon 09:00 · 4"
    assert [label for label, _x in chart.hours] == ["00", "03", "06", "09", "12", "15", "18", "21"]


def test_without_time_zone_support(settings: Settings) -> None:
    settings.USE_TZ = False
    log = make_log()
    ActivityLog.objects.filter(pk=log.pk).update(created_at=dt.datetime(2026, 3, 16, 9, 5))
    heatmap = analytics.heatmap(now=dt.datetime(2026, 3, 18, 12, 0))
    assert cells(heatmap) == {(0, 9): 1}


@pytest.mark.parametrize("days", [0, -1, 1.5, "30", True])
def test_bad_days(days: Any) -> None:
    with pytest.raises(ValueError, match="days must be a positive integer"):
        analytics.heatmap(days=days)
    with pytest.raises(ValueError, match="days must be a positive integer"):
        analytics.guest_conversion(days=days)


# -- guest conversion ---------------------------------------------------------
@pytest.fixture
def user() -> User:
    return get_user_model()._default_manager.create_user("john", "john@example.com", PASSWORD)


@pytest.fixture(autouse=True)
def _tracked(track: Track) -> None:
    track(ContactMessage)


def guest_visit(client: Client, name: str) -> str:
    """A guest with a session leaves a log; returns the raw session key."""
    key = client.session.session_key  # creates the session and its cookie
    assert key
    response = client.post("/actors/contact/", {"name": name, "message": "hi"})
    assert response.status_code == 201
    return key


def log_in(client: Client) -> None:
    response = client.post("/actors/login/", {"username": "john", "password": PASSWORD})
    assert response.status_code == 200


def test_a_guest_who_logs_in_is_converted(user: User) -> None:
    converted, stays = Client(), Client()
    raw_key = guest_visit(converted, "Ann")
    guest_visit(stays, "Bob")
    log_in(converted)
    result = analytics.guest_conversion()
    assert (result.guests, result.converted, result.rate, result.percent) == (2, 1, 0.5, 50.0)
    # The login log links the guest's session by its keyed hash only.
    login = ActivityLog.objects.get(action="login")
    ann = ActivityLog.objects.guests().get(entity_name__contains="Ann")
    assert login.actor_metadata is not None
    assert login.actor_metadata["guest_session_id"] == ann.actor_metadata["session_id"]
    every_row = json.dumps([model_to_dict(log) for log in ActivityLog.objects.all()], default=str)
    assert raw_key not in every_row


def test_a_login_without_a_guest_session_links_nothing(user: User) -> None:
    client = Client()
    log_in(client)  # no session cookie before the login
    login = ActivityLog.objects.get(action="login")
    assert not (login.actor_metadata or {}).get("guest_session_id")
    assert analytics.guest_conversion().guests == 0
    assert analytics.guest_conversion().rate is None


def test_an_opted_out_guest_is_not_linked(user: User) -> None:
    client = Client(HTTP_SEC_GPC="1")
    client.session.save()
    log_in(client)
    login = ActivityLog.objects.get(action="login")
    assert not (login.actor_metadata or {}).get("guest_session_id")


def test_conversion_counts_only_the_period(user: User) -> None:
    client = Client()
    guest_visit(client, "Ann")
    log_in(client)
    later = timezone.now() + dt.timedelta(days=31)
    assert analytics.guest_conversion(now=later).guests == 0
    assert analytics.guest_conversion(now=later, days=40).converted == 1


def test_conversion_queries_then_the_cache(
    user: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = Client()
    guest_visit(client, "Ann")
    log_in(client)
    with django_assert_num_queries(1):
        analytics.guest_conversion()
    with django_assert_num_queries(0):
        analytics.guest_conversion()


# -- on the dashboard -----------------------------------------------------------
def staff(name: str = "boss") -> User:
    member = get_user_model()._default_manager.create_user(name, f"{name}@example.com", PASSWORD)
    member.is_staff = True
    member.save()
    member.user_permissions.add(Permission.objects.get(codename="view_activitylog"))
    return member


def test_staff_see_the_heatmap_and_conversion() -> None:
    make_log()
    client = Client()
    client.force_login(staff())
    page = client.get("/activity/").content.decode()
    assert 'class="aa-heatmap-svg"' in page
    assert page.count('class="aa-heat') >= 7 * 24
    assert "Guest conversion, last 30 days" in page


def test_other_users_do_not() -> None:
    make_log()
    member = get_user_model()._default_manager.create_user("ann", "ann@example.com", PASSWORD)
    client = Client()
    client.force_login(member)
    page = client.get("/activity/").content.decode()
    assert "aa-heatmap" not in page
    assert "Guest conversion" not in page


def test_the_facade() -> None:
    assert autoaudit.analytics.heatmap is analytics.heatmap
    assert autoaudit.analytics.guest_conversion is analytics.guest_conversion
