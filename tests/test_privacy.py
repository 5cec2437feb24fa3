"""Guest opt-out: GUEST_TRACKING, Sec-GPC, DNT, the opt-out cookie and its views."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory, override_settings
from django.urls import include, path, reverse
from pytest_django import Settings

from autoaudit.actors.request import using_request
from autoaudit.events import log_event
from autoaudit.models import ActivityLog
from autoaudit.privacy import guest_opted_out, opt_out_reason
from autoaudit.web.privacy import OPT_OUT_COOKIE_MAX_AGE
from tests.testapp.models import ContactMessage, Product
from tests.typing_support import Track

# The views are tested through this module's own URLconf.
pytestmark = pytest.mark.urls(__name__)
urlpatterns = [
    path("privacy/", include("autoaudit.privacy_urls")),
    # Nested in another namespace, as inside the app's own URLs.
    path("activity/", include(([path("privacy/", include("autoaudit.privacy_urls"))], "outer"))),
]

COOKIE = "autoaudit_opt_out"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def _request(cookies: dict[str, str] | None = None, /, user: Any = None, **meta: Any) -> Any:
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT=FIREFOX, **meta)
    request.COOKIES.update(cookies or {})
    request.user = user if user is not None else AnonymousUser()
    return request


# -- who is opted out -------------------------------------------------------------
def test_a_plain_guest_is_not_opted_out() -> None:
    assert guest_opted_out(_request()) is False
    assert opt_out_reason(_request()) is None


def test_no_request_is_not_opted_out_unless_tracking_is_off(settings: Settings) -> None:
    assert guest_opted_out(None) is False
    settings.AUTOAUDIT = {"GUEST_TRACKING": False}
    assert opt_out_reason(None) == "setting"


@override_settings(AUTOAUDIT={"GUEST_TRACKING": False})
def test_guest_tracking_off_opts_everyone_out() -> None:
    assert opt_out_reason(_request()) == "setting"


@pytest.mark.parametrize(
    ("meta", "reason"),
    [
        ({"HTTP_SEC_GPC": "1"}, "gpc"),
        ({"HTTP_SEC_GPC": " 1 "}, "gpc"),
        ({"HTTP_DNT": "1"}, "dnt"),
        ({"HTTP_SEC_GPC": "1", "HTTP_DNT": "1"}, "gpc"),
        ({"HTTP_SEC_GPC": "0"}, None),
        ({"HTTP_DNT": "0"}, None),
        ({"HTTP_DNT": "null"}, None),
    ],
)
def test_browser_signals_are_honoured_by_default(meta: dict[str, str], reason: str | None) -> None:
    assert opt_out_reason(_request(**meta)) == reason


def test_each_signal_can_be_switched_off(settings: Settings) -> None:
    settings.AUTOAUDIT = {"HONOR_GPC": False}
    assert guest_opted_out(_request(HTTP_SEC_GPC="1")) is False
    assert opt_out_reason(_request(HTTP_DNT="1")) == "dnt"
    settings.AUTOAUDIT = {"HONOR_DNT": False}
    assert guest_opted_out(_request(HTTP_DNT="1")) is False
    assert opt_out_reason(_request(HTTP_SEC_GPC="1")) == "gpc"


@pytest.mark.parametrize(
    ("value", "opted_out"),
    [("1", True), ("yes", True), ("0", False), ("", False), ("false", False), ("off", False)],
)
def test_the_opt_out_cookie(value: str, opted_out: bool) -> None:
    assert guest_opted_out(_request({COOKIE: value})) is opted_out


def test_the_cookie_name_is_a_setting(settings: Settings) -> None:
    settings.AUTOAUDIT = {"OPT_OUT_COOKIE": "no_tracking"}
    assert guest_opted_out(_request({COOKIE: "1"})) is False
    assert opt_out_reason(_request({"no_tracking": "1"})) == "cookie"


def test_a_wrapped_request_is_unwrapped() -> None:
    wrapper = SimpleNamespace(_request=_request(HTTP_SEC_GPC="1"))
    assert opt_out_reason(wrapper) == "gpc"


def test_an_object_without_meta_or_cookies_is_not_opted_out() -> None:
    assert guest_opted_out(object()) is False


# -- what is logged for an opted-out guest -----------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cookies", "meta"),
    [({}, {"HTTP_SEC_GPC": "1"}), ({}, {"HTTP_DNT": "1"}), ({COOKIE: "1"}, {})],
)
def test_opted_out_guest_changes_are_logged_without_identifying_data(
    track: Track, cookies: dict[str, str], meta: dict[str, str]
) -> None:
    track(
        ContactMessage,
        include_fields=["name", "email", "message"],
        guest_fields={"email": "email", "name": "name"},
    )
    with using_request(_request(cookies, **meta)):
        ContactMessage.objects.create(name="Jane", email="jane@example.com", message="Hi")
    log = ActivityLog.objects.get(computed_entity="testapp.ContactMessage")
    assert (log.action, log.actor_type, log.user_id) == ("create", "guest", None)
    for column in ("actor_identifier", "actor_name", "actor_metadata", "ip_address", "user_agent"):
        assert getattr(log, column) is None, column
    # The data change itself is complete.
    assert log.new_values == {"name": "Jane", "email": "jane@example.com", "message": "Hi"}


@pytest.mark.django_db
def test_a_guest_who_did_not_opt_out_is_identified(track: Track) -> None:
    track(ContactMessage, guest_fields={"email": "email"})
    with using_request(_request()):
        ContactMessage.objects.create(name="Jane", email="jane@example.com", message="Hi")
    log = ActivityLog.objects.get()
    assert (log.actor_identifier, log.ip_address) == ("jane@example.com", "203.0.113.5")


@pytest.mark.django_db
def test_opted_out_guest_views_are_not_logged() -> None:
    product = Product.objects.create(name="Laptop")
    assert log_event(_request(HTTP_SEC_GPC="1"), "view", product) is None
    assert log_event(_request({COOKIE: "1"}), "view", product) is None
    assert not ActivityLog.objects.filter(action="view").exists()
    assert log_event(_request(), "view", product) is not None
    assert ActivityLog.objects.filter(action="view").count() == 1


@pytest.mark.django_db
def test_signed_in_users_are_not_affected_by_guest_opt_out(track: Track) -> None:
    track(Product)
    user = get_user_model()._default_manager.create_user("ann", "ann@example.com", "x")
    with using_request(_request({COOKIE: "1"}, user=user, HTTP_SEC_GPC="1")):
        Product.objects.create(name="Laptop")
    log = ActivityLog.objects.get(computed_entity="testapp.Product")
    assert (log.actor_type, log.actor_identifier, log.user_id) == (
        "user",
        "ann@example.com",
        user.pk,
    )


# -- the views --------------------------------------------------------------------
def test_urls_are_named() -> None:
    assert reverse("autoaudit_privacy:status") == "/privacy/"
    assert reverse("autoaudit_privacy:opt_out") == "/privacy/opt-out/"
    assert reverse("autoaudit_privacy:opt_in") == "/privacy/opt-in/"


def test_opt_out_link_sets_the_cookie_and_shows_the_status() -> None:
    client = Client()
    response = client.get("/privacy/opt-out/")
    assert response.status_code == 200
    morsel = response.cookies[COOKIE]
    assert morsel.value == "1"
    assert morsel["max-age"] == OPT_OUT_COOKIE_MAX_AGE
    assert morsel["samesite"] == "Lax"
    assert response.context["opted_out"] is True
    assert b'data-opted-out="true"' in response.content
    # The browser now sends the cookie: the status page agrees.
    status = client.get("/privacy/")
    assert status.context["opted_out"] is True
    assert status.context["reason"] == "cookie"
    assert b"/privacy/opt-in/" in status.content


def test_views_work_inside_another_namespace() -> None:
    response = Client().get("/activity/privacy/")
    assert response.status_code == 200
    assert b'action="/activity/privacy/opt-out/"' in response.content
    assert Client().get("/activity/privacy/opt-out/").context["opt_in_url"] == (
        "/activity/privacy/opt-in/"
    )


def test_responses_are_not_cached() -> None:
    for response in (Client().get("/privacy/"), Client().get("/privacy/opt-out/")):
        assert "no-store" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]


def test_opt_out_cookie_is_secure_over_https() -> None:
    response = Client().get("/privacy/opt-out/", secure=True)
    assert response.cookies[COOKIE]["secure"] is True


def test_opt_out_by_form_redirects_to_a_safe_next_url(settings: Settings) -> None:
    settings.AUTOAUDIT = {"OPT_OUT_COOKIE": "tracking_off"}
    response = Client().post("/privacy/opt-out/", {"next": "/shop/?page=2"})
    assert response.status_code == 302
    assert response["Location"] == "/shop/?page=2"
    assert response.cookies["tracking_off"].value == "1"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "javascript:x"])
def test_an_unsafe_next_url_is_ignored(target: str) -> None:
    response = Client().get("/privacy/opt-out/", {"next": target})
    assert response.status_code == 200
    assert response.cookies[COOKIE].value == "1"


def test_opt_in_needs_post() -> None:
    assert Client().get("/privacy/opt-in/").status_code == 405


def test_opt_in_needs_a_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    client.cookies[COOKIE] = "1"
    assert client.post("/privacy/opt-in/").status_code == 403


def test_opt_in_removes_the_cookie() -> None:
    client = Client()
    client.cookies[COOKIE] = "1"
    response = client.post("/privacy/opt-in/")
    assert response.status_code == 200
    assert response.cookies[COOKIE].value == ""
    assert response.cookies[COOKIE]["max-age"] == 0
    assert response.context["opted_out"] is False
    assert client.get("/privacy/").context["opted_out"] is False


def test_opt_in_cannot_override_a_browser_signal() -> None:
    client = Client(HTTP_SEC_GPC="1")
    client.cookies[COOKIE] = "1"
    response = client.post("/privacy/opt-in/", {"next": "/"})
    assert response.status_code == 302
    status = client.get("/privacy/")
    assert status.context["reason"] == "gpc"
    assert b"/privacy/opt-in/" not in status.content


def test_status_page_explains_a_site_wide_opt_out(settings: Settings) -> None:
    settings.AUTOAUDIT = {"GUEST_TRACKING": False}
    response = Client().get("/privacy/")
    assert response.context["reason"] == "setting"
    assert b"does not identify visitors" in response.content


def test_status_page_offers_opting_out() -> None:
    response = Client().get("/privacy/", {"next": "/back/"})
    assert response.context["opted_out"] is False
    assert b"/privacy/opt-out/" in response.content
    assert b'value="/back/"' in response.content
    assert Client().post("/privacy/").status_code == 405
