"""Signed-out visitors of the timeline: a redirect to a login page that
exists, else a 403 page; the system check ``autoaudit.W003``."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import Client
from django.urls import path
from pytest_django import Settings

from autoaudit.checks import check_login_url
from autoaudit.web.login import login_url_resolves
from tests.testapp import views

pytestmark = pytest.mark.django_db

PAGES = ["/activity/", "/activity/testapp.Product/1/"]


@pytest.mark.parametrize("page", PAGES)
def test_a_login_url_that_resolves_gets_the_redirect(
    client: Client, settings: Settings, page: str
) -> None:
    settings.LOGIN_URL = "/actors/login/"
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"] == f"/actors/login/?next={page}"


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("debug", [True, False])
def test_a_missing_login_url_gets_a_403_page(
    client: Client, settings: Settings, page: str, debug: bool
) -> None:
    settings.LOGIN_URL = "/no/such/login/"
    settings.DEBUG = debug
    response = client.get(page)
    assert response.status_code == 403
    assert "Sign in required" in response.text
    assert "you need to be signed in" in response.text
    # The hint for whoever runs the site shows only in development.
    assert ("LOGIN_URL" in response.text) is debug


def test_a_url_name_that_is_not_mounted_gets_the_403_page(
    client: Client, settings: Settings
) -> None:
    settings.LOGIN_URL = "accounts:login"
    assert client.get("/activity/").status_code == 403


def test_a_login_url_name_that_resolves_is_reversed(client: Client, settings: Settings) -> None:
    settings.LOGIN_URL = "admin:login"
    response = client.get("/activity/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/activity/"


def test_another_site_is_trusted(client: Client, settings: Settings) -> None:
    settings.LOGIN_URL = "https://sso.example.com/login"
    response = client.get("/activity/")
    assert response.status_code == 302
    assert response["Location"].startswith("https://sso.example.com/login?next=")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/accounts/login/", True),
        ("/actors/login/", True),
        ("admin:login", True),
        ("/actors/login/?from=timeline", True),
        ("https://sso.example.com/login", True),
        ("//sso.example.com/login", True),
        ("/no/such/login/", False),
        ("accounts:login", False),
        ("login", False),
        ("relative/login/", False),
        ("", False),
    ],
)
def test_login_url_resolves(url: str, expected: bool) -> None:
    assert login_url_resolves(url) is expected


def test_login_url_resolves_behind_a_script_prefix(settings: Settings) -> None:
    from django.urls import set_script_prefix

    set_script_prefix("/shop/")
    try:
        assert login_url_resolves("/shop/accounts/login/") is True
        assert login_url_resolves("admin:login") is True  # reversed with the prefix
    finally:
        set_script_prefix("/")


def test_check_warns_when_the_timeline_is_mounted_and_login_url_is_missing(
    settings: Settings,
) -> None:
    settings.LOGIN_URL = "/no/such/login/"
    (message,) = check_login_url()
    assert message.id == "autoaudit.W003"
    assert message.level == checks.WARNING
    assert "'/no/such/login/'" in message.msg
    assert message.hint is not None and "LOGIN_URL" in message.hint
    ids = [m.id for m in checks.run_checks(tags=[checks.Tags.urls])]
    assert "autoaudit.W003" in ids


def test_check_is_silent_when_login_url_resolves(settings: Settings) -> None:
    settings.LOGIN_URL = "admin:login"
    assert check_login_url() == []


urlpatterns = [path("actors/login/", views.login_view)]  # no timeline here


def test_check_is_silent_without_the_timeline(settings: Settings) -> None:
    settings.ROOT_URLCONF = __name__
    settings.LOGIN_URL = "/no/such/login/"
    assert check_login_url() == []


def test_the_403_page_and_json_answers_are_translated(client: Client, settings: Settings) -> None:
    from django.utils import translation

    settings.LOGIN_URL = "/no/such/login/"
    with translation.override("id"):
        assert "Perlu masuk" in client.get("/activity/").text
        body = client.get("/activity/api/").json()
    assert body == {"detail": "Kredensial autentikasi tidak diberikan."}
