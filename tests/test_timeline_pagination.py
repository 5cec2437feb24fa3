"""Cursor pagination of the timeline: complete, stable, tamper-proof, and a
bounded number of queries per page whatever the page size."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.core import signing
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries, Settings

from autoaudit.models import ActivityLog
from autoaudit.views import TimelineView
from autoaudit.web.pagination import Cursor, InvalidCursor, fetch_page
from tests.ui_factories import login, make_logs

pytestmark = pytest.mark.django_db


URL = "/activity/"


def entry_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-aa-entry="(\d+)"', html)]


def next_link(html: str) -> str | None:
    match = re.search(r'<a class="aa-button" href="([^"]+)" rel="next"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def walk(client: Client, url: str) -> list[list[int]]:
    pages = []
    while url:
        response = client.get(url if url.startswith("/") else URL + url)
        assert response.status_code == 200
        pages.append(entry_ids(response.text))
        url = next_link(response.text) or ""
    return pages


def test_pages_of_fifty_cover_everything_once(client: Client, root: User) -> None:
    logs = make_logs(120)
    pages = walk(login(client, root), URL)
    assert [len(page) for page in pages] == [50, 50, 20]
    seen = [pk for page in pages for pk in page]
    assert seen == [log.pk for log in logs]  # newest first, no gaps, no repeats


def test_rows_with_the_same_time_are_ordered_by_id(client: Client, root: User) -> None:
    logs = make_logs(30, step=timedelta(0))  # all at the same instant
    TimelineView.page_size = 7
    try:
        pages = walk(login(client, root), URL)
    finally:
        TimelineView.page_size = None
    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
    assert [pk for page in pages for pk in page] == sorted((log.pk for log in logs), reverse=True)


def test_page_size_setting(client: Client, root: User, settings: Settings) -> None:
    settings.AUTOAUDIT = {"PAGE_SIZE": 10}
    make_logs(25)
    assert [len(page) for page in walk(login(client, root), URL)] == [10, 10, 5]


def test_the_next_link_keeps_the_filters(client: Client, root: User) -> None:
    make_logs(60, action="delete")
    make_logs(60, action="update")
    login(client, root)
    html = client.get(URL + "?action=delete").text
    link = next_link(html)
    assert link is not None
    query = parse_qs(urlsplit(link).query)
    assert query["action"] == ["delete"] and "cursor" in query
    pages = walk(client, URL + "?action=delete")
    assert [len(page) for page in pages] == [50, 10]
    actions = set(
        ActivityLog.objects.filter(pk__in=[pk for page in pages for pk in page]).values_list(
            "action", flat=True
        )
    )
    assert actions == {"delete"}


def test_without_javascript_page_two_links_back_to_the_newest(client: Client, root: User) -> None:
    make_logs(55)
    login(client, root)
    link = next_link(client.get(URL).text)
    assert link is not None
    second = client.get(URL + link).text
    assert "Back to the newest" in second
    assert 'class="aa-stats"' not in second  # the counts are on the first page only


# Named ids: a signed value carries a timestamp, so as an id it would change
# from one run to the next (and so would pytest-randomly's order for a seed).
@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("", id="empty"),  # empty means "first page", checked below
        pytest.param(
            signing.dumps(["2020-01-01T00:00:00+00:00", 5], salt="another.salt"),
            id="other-salt",
        ),
        pytest.param(
            signing.dumps(["not a date", 5], salt="autoaudit.timeline.cursor"),
            id="not-a-date",
        ),
        pytest.param(
            signing.dumps(["2020-01-01T00:00:00", 5], salt="autoaudit.timeline.cursor"),
            id="naive-time",
        ),
        pytest.param(
            signing.dumps(["2020-01-01T00:00:00+00:00", "5"], salt="autoaudit.timeline.cursor"),
            id="id-not-an-int",
        ),
        pytest.param(signing.dumps({"a": 1}, salt="autoaudit.timeline.cursor"), id="not-a-list"),
    ],
)
def test_bad_cursors_are_rejected(client: Client, root: User, cursor: str) -> None:
    make_logs(3)
    response = login(client, root).get(URL, {"cursor": cursor})
    if cursor == "":
        assert response.status_code == 200
    else:
        assert response.status_code == 400


def test_a_tampered_cursor_is_rejected(client: Client, root: User) -> None:
    make_logs(60)
    login(client, root)
    link = next_link(client.get(URL).text)
    assert link is not None
    token = parse_qs(urlsplit(link).query)["cursor"][0]
    value, signature = token.rsplit(":", 1)
    forged = signing.dumps([timezone.now().isoformat(), 10**9], salt="x").rsplit(":", 1)[0]
    for bad in (f"{forged}:{signature}", f"{value}:{signature[:-2]}AA"):
        assert client.get(URL, {"cursor": bad}).status_code == 400


def test_access_rules_apply_on_every_page(client: Client, alice: User, root: User) -> None:
    others = make_logs(80)  # guests, newest
    mine = make_logs(70, user=alice, start=timezone.now() - timedelta(days=1))
    # A cursor taken from a page of everyone's logs, used by alice.
    login(client, root)
    root_cursor = next_link(client.get(URL).text)
    assert root_cursor is not None
    client = login(Client(), alice)
    pages = walk(client, URL)
    assert sorted(pk for page in pages for pk in page) == sorted(log.pk for log in mine)
    tampered = entry_ids(client.get(URL + root_cursor).text)
    assert tampered and set(tampered) <= {log.pk for log in mine}
    assert not set(tampered) & {log.pk for log in others}


def test_cursor_round_trip() -> None:
    moment = timezone.now()
    cursor = Cursor(moment, 42)
    assert Cursor.decode(cursor.encode()) == cursor
    with pytest.raises(InvalidCursor):
        Cursor.decode(cursor.encode() + "x")


def test_fetch_page_is_one_query(django_assert_num_queries: DjangoAssertNumQueries) -> None:
    make_logs(30)
    with django_assert_num_queries(1):
        page = fetch_page(ActivityLog.objects.select_related("user"), None, 10)
    assert len(page.rows) == 10 and page.next_cursor is not None
    with django_assert_num_queries(1):
        last = fetch_page(ActivityLog.objects.all(), Cursor.after(page.rows[-1]), 50)
    assert len(last.rows) == 20 and last.next_cursor is None


def _get(client: Client, url: str, size: int, **headers: str) -> str:
    TimelineView.page_size = size
    try:
        response = client.get(url, headers=headers)
    finally:
        TimelineView.page_size = None
    assert response.status_code == 200
    assert len(entry_ids(response.text)) == size
    return response.text


# Queries per request: the session and the user (2), the permissions of a
# user without "see all" (2: user and group permissions), the page (1); on
# the first page of who sees all the dashboard counts (1), the heatmap (1),
# guest conversion (1) and the entity list of the filter (1), all cached
# (here the cache is off to count them);
# the entity list again on the next pages, but not for the infinite scroll.
@pytest.mark.parametrize(
    ("who", "first", "following", "scroll"),
    [("root", 7, 4, 3), ("alice", 5, 5, 5)],
)
@pytest.mark.parametrize("size", [10, 50])
def test_queries_per_page_do_not_depend_on_page_size(
    client: Client,
    root: User,
    alice: User,
    settings: Settings,
    django_assert_num_queries: DjangoAssertNumQueries,
    who: str,
    first: int,
    following: int,
    scroll: int,
    size: int,
) -> None:
    settings.AUTOAUDIT = {"DASHBOARD_CACHE_TIMEOUT": 0}
    user = root if who == "root" else alice
    make_logs(120, user=user)
    login(client, user)
    cursor = next_link(client.get(URL).text)
    assert cursor is not None
    with django_assert_num_queries(first):
        _get(client, URL, size)
    with django_assert_num_queries(following):
        _get(client, URL + cursor, size)
    with django_assert_num_queries(scroll):
        _get(client, URL + cursor, size, **{"X-Autoaudit-Partial": "1"})


def test_cached_dashboard_and_entities_cost_nothing(
    client: Client, root: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    make_logs(60)
    login(client, root)
    client.get(URL)  # fills the cache
    with django_assert_num_queries(3):
        _get(client, URL, 50)
