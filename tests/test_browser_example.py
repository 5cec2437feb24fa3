"""The example shop, served for real, driven in Debian's headless Chromium.

The project runs in its own process (``manage.py runserver``) on a
throw-away SQLite file with its demo data, exactly as a visitor would meet
it; the tests log in through the login form and read the activity timeline.
Screenshots land in ``artifacts/screenshots/example-*.png``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, needs_chromium

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "example_project" / "manage.py"

if TYPE_CHECKING:
    # imported where needed at run time: collecting needs no Playwright
    from playwright.sync_api import Browser, Page

pytestmark = needs_chromium


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example project with its demo data, served on a free port."""
    env = {
        **os.environ,
        "EXAMPLE_DB_PATH": str(tmp_path_factory.mktemp("shop") / "shop.sqlite3"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    for command in (["migrate", "--noinput"], ["demo"]):
        subprocess.run(
            [sys.executable, str(MANAGE), *command],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the example project did not start serving")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _logged_in(browser: Browser, shop: str, username: str, width: int = 1280) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=shop)
    page = context.new_page()
    page.goto("/accounts/login/?next=/activity/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", username)
    page.click("button[type=submit]")
    page.wait_for_url("**/activity/")
    return page


def test_staff_timeline_of_the_demo(browser: Browser, shop: str) -> None:
    page = _logged_in(browser, shop, "admin")
    headings = page.locator(".aa-day-heading").all_inner_texts()
    assert len(headings) >= 3, headings  # the demo spreads over ten days
    assert headings[0].strip().lower() == "today"
    badges = {text.strip() for text in page.locator(".aa-entry .aa-badge").all_inner_texts()}
    assert {"User", "Guest", "System"} <= badges
    assert page.get_by_text("Jane Smith").count() >= 1  # the guest's contact form
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "example-timeline-desktop.png"), full_page=True)
    # A filter narrows the list to deletions only.
    before = page.locator("li.aa-entry").count()
    page.goto("/activity/?action=delete")
    after = page.locator("li.aa-entry").count()
    assert 0 < after < before
    page.context.close()


def test_phone_width_and_a_customer_sees_only_their_own(browser: Browser, shop: str) -> None:
    page = _logged_in(browser, shop, "john", width=390)
    names = {text.strip() for text in page.locator(".aa-actor-name").all_inner_texts()}
    assert names == {"John Doe"}, names
    page.screenshot(path=str(SCREENSHOTS / "example-timeline-phone.png"), full_page=True)
    # Asking for someone else's entries by URL shows nothing of theirs.
    page.goto("/activity/?actor=staff@example.com")
    assert page.get_by_text("Siti Rahma").count() == 0
    page.context.close()


def _page(browser: Browser, shop: str, width: int, dark: bool = False) -> Page:
    context = browser.new_context(
        viewport={"width": width, "height": 900},
        base_url=shop,
        color_scheme="dark" if dark else "light",
    )
    return context.new_page()


def _fits(page: Page, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url}: {scroll_width} px wide at {width} px"


# Words (of up to 20 characters; a hyphen may end a line) split over two lines.
_SPLIT_WORDS = """(selector) => {
  const split = [];
  for (const cell of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.textContent.matchAll(/[^\\s-]{2,20}/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (tops.size > 1) split.push(match[0]);
      }
    }
  }
  return split;
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_the_shop_fits_and_links_to_the_timeline_and_privacy(
    browser: Browser, shop: str, width: int
) -> None:
    page = _page(browser, shop, width)
    page.goto("/")
    _fits(page, width)
    assert page.locator("header a[href='/activity/']").count() == 1
    assert page.locator("footer a[href='/privacy/']").count() == 1
    select = page.locator("footer select#language").bounding_box()
    assert select is not None and select["width"] < 200, select
    page.close()
    # Staff: the product page with its history, and the longer header.
    page = _logged_in(browser, shop, "staff", width=width)
    page.goto("/products/1/")
    _fits(page, width)
    page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("dark", [False, True])
def test_the_privacy_page_is_styled_with_a_way_back(
    browser: Browser, shop: str, width: int, dark: bool
) -> None:
    page = _page(browser, shop, width, dark)
    page.goto("/privacy/")
    _fits(page, width)
    assert page.locator("link[href$='autoaudit/autoaudit.css']").count() == 1
    button = page.get_by_role("button", name="Opt out")
    background = button.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "rgb(239, 239, 239)"), background
    back = page.get_by_role("link", name="Back to the site")
    assert back.get_attribute("href") == "/"
    back.click()
    page.wait_for_url(f"{shop}/")
    page.context.close()


def test_the_timeline_and_history_link_back_and_the_filter_fits(
    browser: Browser, shop: str
) -> None:
    for width in (1280, 390):
        page = _logged_in(browser, shop, "admin", width=width)
        assert page.get_by_role("link", name="Back to the site").get_attribute("href") == "/"
        page.locator(".aa-filters > summary").click()
        actor = page.locator("#id_actor")
        # The whole placeholder is visible: its text is narrower than the box.
        room = actor.evaluate(
            """el => {
              const style = getComputedStyle(el);
              const canvas = document.createElement("canvas").getContext("2d");
              canvas.font = style.font;
              const text = canvas.measureText(el.placeholder).width;
              const inner = el.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight);
              return inner - text;
            }"""
        )
        assert room >= 0, f"the placeholder is cut by {-room:.0f} px at {width} px"
        page.goto("/activity/core.Product/1/")
        assert page.get_by_role("link", name="Back to the site").is_visible()
        assert page.locator("h1.aa-title").inner_text() == "Laptop ASUS ROG"
        _fits(page, width)
        page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_admin_activity_page_and_changelist(browser: Browser, shop: str, width: int) -> None:
    page = _logged_in(browser, shop, "admin", width=width)
    page.goto("/admin/core/product/1/activity/")
    _fits(page, width)
    assert page.evaluate(_SPLIT_WORDS, ".aa-activity-table td") == []
    # Breadcrumbs read as a trail, not as a numbered list (Django 5.2).
    styles = page.eval_on_selector_all(
        ".breadcrumbs li", "els => els.map(el => getComputedStyle(el).display)"
    )
    assert "list-item" not in styles, styles
    assert "Activity" in page.locator(".breadcrumbs").inner_text()
    if width == 1280:
        page.goto("/admin/autoaudit/activitylog/")
        header = page.locator("th.column-short_description").bounding_box()
        assert header is not None and header["x"] + header["width"] <= width
        assert page.evaluate(_SPLIT_WORDS, "td.field-short_description") == []
        # The log's own page: no "History" (a log row has no edit history).
        page.locator("th.field-created_column a").first.click()
        page.wait_for_url("**/change/")
        assert page.locator(".object-tools").count() == 0
    page.context.close()
