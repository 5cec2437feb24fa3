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
