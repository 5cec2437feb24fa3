"""The timeline and the admin in a real browser: Playwright driving Debian's
headless Chromium (``/usr/bin/chromium``; CI installs it with apt, nothing is
downloaded) against pytest-django's live server.

Screenshots of the timeline (desktop and phone width, light and dark) and of
the admin's diff are written to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pytest_django.live_server_helper import LiveServer

import autoaudit
from autoaudit.models import ActivityLog
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, needs_chromium
from tests.ui_factories import make_logs, seed_showcase

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]


if TYPE_CHECKING:
    # imported where needed at run time: collecting needs no Playwright
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the tests make between browser steps are still plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def open_as(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Page]]:
    """``open_as(user, path, width=1280, dark=False, javascript=True)``: a
    page logged in as ``user`` (a session cookie, no login form)."""
    contexts = []
    errors: list[str] = []

    def _open(
        user: User,
        path: str = "/activity/",
        *,
        width: int = 1280,
        dark: bool = False,
        javascript: bool = True,
    ) -> Page:
        client = Client()
        with autoaudit.disabled():
            client.force_login(user)
        context = browser.new_context(
            viewport={"width": width, "height": 900},
            color_scheme="dark" if dark else "light",
            java_script_enabled=javascript,
            base_url=live_server.url,
        )
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console",
            lambda message: errors.append(message.text) if message.type == "error" else None,
        )
        page.goto(path)
        return page

    yield _open
    for context in contexts:
        context.close()
    # favicon.ico is not ours to serve
    assert [error for error in errors if "favicon" not in error and "404" not in error] == []


@pytest.fixture
def root() -> User:
    return User.objects.create_superuser(
        "alice", "alice@example.com", "x", first_name="Alice", last_name="Smith"
    )


@pytest.fixture
def bob() -> User:
    return User.objects.create_user(
        "bob", "bob@example.com", "x", first_name="Bob", last_name="Hartono"
    )


def entry_ids(page: Page) -> list[int]:
    ids = page.eval_on_selector_all(
        "[data-aa-entry]", "els => els.map(e => e.getAttribute('data-aa-entry'))"
    )
    return [int(pk) for pk in ids]


def shoot(page: Page, name: str, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=full_page)
    assert target.stat().st_size > 10_000
    return target


def test_timeline_groups_badges_and_screenshots(
    open_as: Callable[..., Page], root: User, bob: User
) -> None:
    seed_showcase(root, bob)
    for width, label in ((1280, "desktop"), (390, "phone")):
        for dark in (False, True):
            page = open_as(root, width=width, dark=dark)
            headings = page.locator(".aa-day-heading").all_inner_texts()
            assert [h.lower() for h in headings[:2]] == ["today", "yesterday"]
            assert page.locator(".aa-badge--user").count() >= 3
            assert page.locator(".aa-entry .aa-badge--guest").count() == 2
            assert page.locator(".aa-entry .aa-badge--system").count() == 1
            assert page.get_by_text("jane@example.com").first.is_visible()
            time = page.locator("time.aa-time").first
            assert time.inner_text().endswith("ago")
            assert time.get_attribute("title")
            # The changed part is highlighted, nested paths included.
            assert page.locator("code", has_text="metadata.specs.ram").is_visible()
            assert page.locator(".aa-new mark", has_text="16GB").is_visible()
            # Nothing sticks out sideways, on a phone either.
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width
            shoot(page, f"timeline-{label}-{'dark' if dark else 'light'}")


def test_infinite_scroll_loads_the_next_pages_without_duplicates(
    open_as: Callable[..., Page], root: User
) -> None:
    logs = make_logs(130, step=timedelta(minutes=20))  # spans several days
    page = open_as(root)
    assert len(entry_ids(page)) == 50
    for expected in (100, 130):
        page.locator("[data-aa-more]").scroll_into_view_if_needed()
        page.wait_for_function(f"document.querySelectorAll('[data-aa-entry]').length >= {expected}")
    ids = entry_ids(page)
    assert ids == [log.pk for log in logs]  # newest first, each once
    assert page.locator("[data-aa-more]").count() == 0  # the end
    groups = page.eval_on_selector_all(
        "[data-aa-group]", "els => els.map(e => e.getAttribute('data-aa-group'))"
    )
    assert len(groups) == len(set(groups))  # a day split by a page is one group


def test_load_more_is_a_plain_link_without_javascript(
    open_as: Callable[..., Page], root: User
) -> None:
    make_logs(70)
    page = open_as(root, javascript=False)
    first = entry_ids(page)
    assert len(first) == 50
    page.get_by_role("link", name="Load more").click()
    page.wait_for_url(re.compile(r"cursor="))
    second = entry_ids(page)
    assert len(second) == 20 and not set(first) & set(second)
    assert page.get_by_role("link", name="Back to the newest").is_visible()


def test_a_filter_narrows_the_results(open_as: Callable[..., Page], root: User) -> None:
    make_logs(6, action="update")
    deletes = make_logs(3, action="delete", start=timezone.now() - timedelta(hours=1))
    page = open_as(root)
    assert len(entry_ids(page)) == 9
    page.select_option("#id_action", "delete")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"action=delete"))
    assert sorted(entry_ids(page)) == sorted(log.pk for log in deletes)
    assert page.locator(".aa-entry .aa-action--delete").count() == 3
    assert "actor_type=" not in page.url  # empty filters are left out of the URL


def test_a_user_cannot_see_other_users_entries(
    open_as: Callable[..., Page], root: User, bob: User, live_server: LiveServer
) -> None:
    theirs = make_logs(80, user=root, entity_name="Secret of Alice")
    theirs += make_logs(10, actor_identifier="jane@example.com", entity_name="Secret of Jane")
    mine = make_logs(60, user=bob, start=timezone.now() - timedelta(days=2))
    # A cursor from a page of everyone's entries.
    cursor = open_as(root).locator("a[rel=next]").get_attribute("href")
    assert cursor and "cursor=" in cursor

    page = open_as(bob)
    page.locator("[data-aa-more]").scroll_into_view_if_needed()
    page.wait_for_function("document.querySelectorAll('[data-aa-entry]').length >= 60")
    assert sorted(entry_ids(page)) == sorted(log.pk for log in mine)
    foreign = {log.pk for log in theirs}
    for path in (
        f"/activity/{cursor}",
        "/activity/?actor=alice%40example.com",
        "/activity/?actor=jane%40example.com&actor_type=guest",
        "/activity/?actor_type=user&user=1",
        f"/activity/{cursor}&actor=alice%40example.com",
        f"/activity/testapp.Product/{theirs[0].entity_pk}/",
    ):
        page.goto(path)
        assert not set(entry_ids(page)) & foreign, path
        assert "Secret of" not in page.content()
    # The infinite-scroll request, by hand, with the foreign cursor.
    response = page.request.get(
        f"{live_server.url}/activity/{cursor}", headers={"X-Autoaudit-Partial": "1"}
    )
    assert response.ok and "Secret of" not in response.text()
    bad = page.request.get(f"{live_server.url}/activity/?cursor=forged")
    assert bad.status == 400


def test_the_admin_renders_the_diff(open_as: Callable[..., Page], root: User, bob: User) -> None:
    seed_showcase(root, bob)
    log = ActivityLog.objects.get(entity_name="Mechanical keyboard")
    for dark in (False, True):
        page = open_as(root, f"/admin/autoaudit/activitylog/{log.pk}/change/", dark=dark)
        table = page.locator("table.aa-changes")
        assert table.is_visible()
        assert table.locator("code").all_inner_texts() == [
            "metadata.specs.ram",
            "metadata.specs.switch",
        ]
        assert table.locator(".aa-old mark").first.inner_text() == "8GB"
        assert table.locator(".aa-new mark").first.inner_text() == "16GB"
        shoot(page, f"admin-diff-{'dark' if dark else 'light'}")
    changelist = open_as(root, "/admin/autoaudit/activitylog/")
    assert changelist.locator("#result_list tbody tr").count() == 8
    shoot(changelist, "admin-changelist", full_page=False)


def test_the_dashboard_heatmap_and_conversion(
    open_as: Callable[..., Page], root: User, bob: User
) -> None:
    seed_showcase(root, bob)
    for dark in (False, True):
        page = open_as(root, dark=dark)
        heatmap = page.locator(".aa-heatmap-svg")
        assert heatmap.is_visible()
        box = heatmap.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 80
        assert page.locator(".aa-heatmap rect").count() == 7 * 24
        assert page.locator(".aa-heatmap rect:not(.aa-heat--none)").count() >= 1
        # The empty and the busy cells are drawn in different colours.
        fills = page.eval_on_selector_all(
            ".aa-heatmap rect",
            "els => [...new Set(els.map(e => getComputedStyle(e).fill))]",
        )
        assert len(fills) == 2
        assert page.locator(".aa-conversion").is_visible()
        target = SCREENSHOTS / f"dashboard-analytics-{'dark' if dark else 'light'}.png"
        page.locator(".aa-analytics").screenshot(path=str(target))
        assert target.stat().st_size > 5_000
