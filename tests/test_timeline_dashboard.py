"""Dashboard numbers: counts per action and actor type, cached."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.utils import formats, timezone, translation
from pytest_django import DjangoAssertNumQueries, Settings

import autoaudit
from autoaudit.conf import parse_settings
from autoaudit.web.dashboard import get_counts, get_dashboard, get_entities
from tests.ui_factories import login, make_logs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


@pytest.fixture
def data() -> None:
    now = timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    # Today (after local midnight, and within the last few minutes).
    make_logs(3, start=max(now - timedelta(minutes=1), midnight), step=timedelta(0))
    make_logs(2, start=now - timedelta(days=3), action="delete", actor_type="system")
    make_logs(4, start=now - timedelta(days=20), action="create")
    make_logs(5, start=now - timedelta(days=45))  # outside every window


def test_counts_per_window(data: None) -> None:
    dashboard = get_dashboard()
    assert dashboard.totals == (3, 5, 9)
    actions = {row.value: row.counts for row in dashboard.actions}
    assert actions == {"update": (3, 3, 3), "delete": (0, 2, 2), "create": (0, 0, 4)}
    kinds = {row.value: row.counts for row in dashboard.actor_types}
    assert kinds == {"guest": (3, 3, 7), "system": (0, 2, 2)}
    assert [label for label, _total in dashboard.cards] == ["Today", "7 days", "30 days"]
    assert dashboard.actions[0].label == "Create"  # the biggest 30-day count first


def test_counts_are_cached(data: None, django_assert_num_queries: DjangoAssertNumQueries) -> None:
    with django_assert_num_queries(1):
        first = get_counts()
    make_logs(10)
    with django_assert_num_queries(0):
        assert get_counts() == first


def test_timeout_zero_turns_the_cache_off(
    data: None, settings: Settings, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    settings.AUTOAUDIT = {"DASHBOARD_CACHE_TIMEOUT": 0}
    get_counts()
    make_logs(10, step=timedelta(0))  # all now: today even just after midnight
    with django_assert_num_queries(1):
        assert get_dashboard().totals == (13, 15, 19)
    with django_assert_num_queries(2):
        get_entities()
        get_entities()


def test_timeout_is_passed_to_the_cache(
    data: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.AUTOAUDIT = {"DASHBOARD_CACHE_TIMEOUT": 42}
    calls = []
    monkeypatch.setattr(cache, "set", lambda key, value, timeout: calls.append((key, timeout)))
    get_counts()
    get_entities()
    assert [timeout for _key, timeout in calls] == [42, 42]
    assert calls[0][0].startswith("autoaudit:dashboard:")


def test_entities_cached(data: None, django_assert_num_queries: DjangoAssertNumQueries) -> None:
    with django_assert_num_queries(1):
        assert get_entities() == ["testapp.Product"]
    with django_assert_num_queries(0):
        get_entities()


@pytest.mark.parametrize("value", [-1, 86_401, "300", 1.5, True, None])
def test_bad_timeouts_are_rejected(value: object) -> None:
    with pytest.raises(ImproperlyConfigured, match="DASHBOARD_CACHE_TIMEOUT"):
        parse_settings({"DASHBOARD_CACHE_TIMEOUT": value})


@pytest.mark.parametrize("value", [0, 501, "50", 2.0, False, None])
def test_bad_page_sizes_are_rejected(value: object) -> None:
    with pytest.raises(ImproperlyConfigured, match="PAGE_SIZE"):
        parse_settings({"PAGE_SIZE": value})


def test_defaults() -> None:
    parsed = parse_settings({})
    assert (parsed.PAGE_SIZE, parsed.DASHBOARD_CACHE_TIMEOUT) == (50, 300)
    parsed = parse_settings({"PAGE_SIZE": 1, "DASHBOARD_CACHE_TIMEOUT": 0})
    assert (parsed.PAGE_SIZE, parsed.DASHBOARD_CACHE_TIMEOUT) == (1, 0)


def test_shown_only_to_who_sees_all(client: Client, data: None) -> None:
    root = User.objects.create_superuser("root", "root@example.com", "x")
    alice = User.objects.create_user("alice", "alice@example.com", "x")
    with autoaudit.disabled():
        client.force_login(root)
    html = client.get("/activity/").text
    assert 'class="aa-stats"' in html
    assert '<span class="aa-stat-value">9</span>' in html
    with autoaudit.disabled():
        client.force_login(alice)
    assert 'class="aa-stats"' not in client.get("/activity/").text


def test_counts_follow_the_active_filters(client: Client, root: User, data: None) -> None:
    login(client, root)
    html = client.get("/activity/").text
    assert re.findall(r'<span class="aa-stat-value">(\d+)</span>', html) == ["3", "5", "9"]
    assert "Counts of all activity" in html
    # Deletions only (cached separately from the unfiltered counts).
    html = client.get("/activity/?action=delete").text
    assert re.findall(r'<span class="aa-stat-value">(\d+)</span>', html) == ["0", "2", "2"]
    assert "Counts for these filters" in html
    html = client.get("/activity/?actor_type=guest").text
    assert re.findall(r'<span class="aa-stat-value">(\d+)</span>', html) == ["3", "3", "7"]
    # A date range narrows the windows too.
    since = (timezone.localdate() - timedelta(days=25)).isoformat()
    until = (timezone.localdate() - timedelta(days=2)).isoformat()
    html = client.get(f"/activity/?since={since}&until={until}").text
    assert re.findall(r'<span class="aa-stat-value">(\d+)</span>', html) == ["0", "2", "6"]
    # An invalid filter is left out of the counts as it is of the list.
    html = client.get("/activity/?action=nonsense").text
    assert re.findall(r'<span class="aa-stat-value">(\d+)</span>', html) == ["3", "5", "9"]


def test_counts_say_when_they_were_made(client: Client, root: User, data: None) -> None:
    login(client, root)
    counted = timezone.now()
    with translation.override("en"):
        html = client.get("/activity/").text
    match = re.search(r'<time datetime="([^"]+)" title="[^"]+">as of ([^<]+)</time>', html)
    assert match is not None, html
    as_of = datetime.fromisoformat(match.group(1))
    assert abs((as_of - counted).total_seconds()) < 60
    assert match.group(2) == formats.time_format(timezone.localtime(as_of), "TIME_FORMAT")
    # From the cache later on: the moment of the count, not of the page.
    make_logs(4)
    html = client.get("/activity/").text
    assert f'<time datetime="{match.group(1)}"' in html
    assert re.findall(r'<span class="aa-stat-value">(\d+)</span>', html)[0] == "3"


def test_the_as_of_time_survives_the_cache(data: None) -> None:
    first = get_dashboard()
    assert first.as_of is not None and not first.filtered
    assert get_dashboard().as_of == first.as_of
