"""``AuditMiddleware`` (WSGI paths, the optional POST log) and end-to-end actors."""

from __future__ import annotations

import asyncio
from typing import Any

import crum
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings

from autoaudit.actors.request import current_request
from autoaudit.conf import parse_settings
from autoaudit.middleware import AuditMiddleware
from autoaudit.models import ActivityLog
from tests.asgi_support import run_async
from tests.testapp.models import ContactMessage, Product
from tests.typing_support import Track

FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def _user(username: str = "john", email: str = "john@example.com", **extra: Any) -> Any:
    return get_user_model()._default_manager.create_user(username, email, "pw", **extra)


# -- the request is current inside, and only inside --------------------------
def test_request_is_current_for_autoaudit_and_crum_and_then_cleared() -> None:
    seen: list[Any] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.extend([current_request(), crum.get_current_request()])
        return HttpResponse()

    request = RequestFactory().get("/")
    AuditMiddleware(view)(request)
    assert seen == [request, request]
    assert current_request() is None
    assert crum.get_current_request() is None


def test_state_is_restored_when_the_view_raises() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        crum.set_current_user("impersonated")  # any crum state set inside
        raise ValueError("boom")

    with pytest.raises(ValueError):
        AuditMiddleware(view)(RequestFactory().get("/"))
    assert current_request() is None
    assert crum.get_current_request() is None
    assert crum.get_current_user() is None


def test_outer_crum_request_is_put_back() -> None:
    outer = RequestFactory().get("/outer/")
    crum.set_current_request(outer)
    try:
        AuditMiddleware(lambda request: HttpResponse())(RequestFactory().get("/inner/"))
        assert crum.get_current_request() is outer
    finally:
        crum.set_current_request(None)


def test_async_middleware_chain() -> None:
    async def view(request: HttpRequest) -> HttpResponse:
        await asyncio.sleep(0)
        assert current_request() is request
        assert crum.get_current_request() is request
        return HttpResponse("async")

    middleware = AuditMiddleware(view)
    assert asyncio.iscoroutinefunction(middleware)
    response = asyncio.run(middleware(RequestFactory().get("/")))
    assert response.content == b"async"
    assert current_request() is None


def test_async_middleware_restores_state_on_error() -> None:
    async def view(request: HttpRequest) -> HttpResponse:
        raise ValueError("boom")

    with pytest.raises(ValueError):
        asyncio.run(AuditMiddleware(view)(RequestFactory().get("/")))
    assert current_request() is None


@pytest.mark.django_db
def test_no_state_leaks_to_the_next_request_after_a_view_raised(track: Track) -> None:
    track(Product)
    client = Client(raise_request_exception=False)
    assert client.get("/actors/raise/").status_code == 500
    assert current_request() is None
    assert crum.get_current_request() is None
    assert client.get("/actors/whoami/").json() == {"crum_ok": True}


# -- end-to-end attribution ------------------------------------------------------
@pytest.mark.django_db
def test_logged_in_user_is_the_actor(track: Track) -> None:
    track(Product)
    user = _user(first_name="John", last_name="Doe")
    client = Client(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="198.51.100.4")
    client.force_login(user)
    client.post("/actors/sync-create/", {"name": "laptop"})
    log = ActivityLog.objects.get(computed_entity="testapp.Product")
    assert (log.actor_type, log.user_id, log.actor_identifier, log.actor_name) == (
        "user",
        user.pk,
        "john@example.com",
        "John Doe",
    )
    assert (log.ip_address, log.user_agent) == ("198.51.100.4", FIREFOX)


@pytest.mark.django_db
def test_user_authenticated_inside_the_view_is_named(track: Track) -> None:
    track(Product)
    user = _user("tokenuser", "token@example.com")
    response = Client().post("/actors/token-create/", HTTP_X_TOKEN="tokenuser")
    assert response.status_code == 200
    log = ActivityLog.objects.get(computed_entity="testapp.Product")
    assert (log.actor_type, log.user_id, log.actor_identifier) == (
        "user",
        user.pk,
        "token@example.com",
    )


@pytest.mark.django_db
def test_contact_form_guest_is_identified_by_guest_fields(track: Track) -> None:
    track(
        ContactMessage,
        include_fields=["name", "email", "message"],
        guest_fields={"email": "email", "phone": "phone", "name": "name"},
    )
    client = Client(
        HTTP_USER_AGENT=FIREFOX, HTTP_REFERER="https://google.com/", REMOTE_ADDR="203.0.113.50"
    )
    response = client.post(
        "/actors/contact/",
        {
            "name": "Jane Smith",
            "email": "guest@example.com",
            "phone": "+6281234567890",
            "message": "Interested in your product",
        },
    )
    assert response.status_code == 201
    log = ActivityLog.objects.get(computed_entity="testapp.ContactMessage")
    assert log.actor_type == "guest"
    assert log.user_id is None
    assert log.actor_identifier == "guest@example.com"
    assert log.actor_name == "Jane Smith"
    assert log.actor_metadata == {
        "email": "guest@example.com",
        "phone": "+6281234567890",
        "device": "desktop",
        "browser": "Firefox 121",
        "os": "Ubuntu",
        "referrer": "https://google.com/",
    }
    assert log.ip_address == "203.0.113.50"


@pytest.mark.django_db
def test_guest_without_session_falls_back_to_ip_and_no_session_is_created(
    track: Track,
) -> None:
    track(Product)
    client = Client(REMOTE_ADDR="203.0.113.200")
    response = client.post("/actors/sync-create/", {"name": "cart"})
    log = ActivityLog.objects.get()
    assert (log.actor_type, log.actor_identifier, log.actor_name) == (
        "guest",
        "203.0.113.200",
        "Anonymous Guest",
    )
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert Session.objects.count() == 0


@pytest.mark.django_db
def test_spoofed_forwarded_for_is_not_stored(track: Track) -> None:
    track(Product)
    Client(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="6.6.6.6").post(
        "/actors/sync-create/", {"name": "x"}
    )
    assert ActivityLog.objects.get().ip_address == "203.0.113.7"


@pytest.mark.django_db
def test_garbage_remote_addr_stores_no_ip(track: Track) -> None:
    track(Product)
    Client(REMOTE_ADDR="not-an-address").post("/actors/sync-create/", {"name": "x"})
    log = ActivityLog.objects.get()
    assert log.ip_address is None
    assert (log.actor_type, log.actor_identifier) == ("guest", None)


@pytest.mark.django_db
def test_ten_kilobyte_user_agent_is_stored_capped(track: Track) -> None:
    track(Product)
    Client(HTTP_USER_AGENT=FIREFOX + "X" * 10_240).post("/actors/sync-create/", {"name": "x"})
    log = ActivityLog.objects.get()
    assert log.user_agent is not None and len(log.user_agent) == 1000
    assert log.actor_metadata["browser"] == "Firefox 121"


@pytest.mark.django_db
def test_deleted_user_keeps_name_and_identifier(track: Track) -> None:
    track(Product)
    user = _user("gone", "gone@example.com", first_name="Gone", last_name="User")
    client = Client()
    client.force_login(user)
    client.post("/actors/sync-create/", {"name": "x"})
    user.delete()
    log = ActivityLog.objects.get(computed_entity="testapp.Product")
    assert log.user_id is None
    assert (log.actor_type, log.actor_name, log.actor_identifier) == (
        "user",
        "Gone User",
        "gone@example.com",
    )
    assert log.get_actor_display_name() == "Gone User"


@pytest.mark.django_db(transaction=True)
def test_async_client_attribution(track: Track) -> None:
    track(Product)
    user = _user("asyncuser", "async@example.com")

    async def run() -> None:
        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.post("/actors/async-create/", {"name": "a"})
        assert response.json()["crum_ok"] is True

    run_async(run())
    log = ActivityLog.objects.get(computed_entity="testapp.Product")
    assert (log.actor_type, log.user_id) == ("user", user.pk)


# -- optional POST logging ---------------------------------------------------------
@pytest.mark.django_db
def test_post_logging_is_off_by_default() -> None:
    Client().post("/forms/post/")
    assert not ActivityLog.objects.exists()


@pytest.mark.django_db
@override_settings(AUTOAUDIT={"LOG_POST_REQUESTS": True})
def test_successful_post_is_logged() -> None:
    user = _user()
    client = Client()
    client.force_login(user)
    client.post("/forms/post/")
    log = ActivityLog.objects.get(entity="request")
    assert (log.action, log.entity, log.computed_entity, log.entity_name) == (
        "create",
        "request",
        "http.Request",
        "/forms/post/",
    )
    assert log.extra_data == {
        "method": "POST",
        "path": "/forms/post/",
        "status_code": 200,
        "view": "tests.testapp.views.plain_post",
    }
    assert (log.actor_type, log.user_id) == ("user", user.pk)
    assert log.description == "POST /forms/post/"


@pytest.mark.django_db
@override_settings(AUTOAUDIT={"LOG_POST_REQUESTS": True, "LOG_POST_ACTION": "update"})
def test_post_logging_skips_failures_gets_and_admin() -> None:
    client = Client()
    client.post("/forms/fail/")
    client.get("/forms/post/")
    client.post("/admin/login/", {"username": "x", "password": "y"})
    assert not ActivityLog.objects.exclude(action="login_failed").exists()
    client.post("/forms/post/")
    assert ActivityLog.objects.get(entity="request").action == "update"


@pytest.mark.django_db
@override_settings(
    AUTOAUDIT={"LOG_POST_REQUESTS": True, "LOG_POST_SKIP_PREFIXES": ["/admin-like/"]}
)
def test_post_logging_custom_skip_prefixes() -> None:
    client = Client()
    client.post("/admin-like/post/")
    assert not ActivityLog.objects.exists()
    client.post("/forms/post/")
    assert ActivityLog.objects.count() == 1


@pytest.mark.django_db
@override_settings(AUTOAUDIT={"LOG_POST_REQUESTS": True, "GUEST_TRACKING": False})
def test_post_of_opted_out_guest_is_not_logged() -> None:
    Client().post("/forms/post/")
    assert not ActivityLog.objects.exists()


@pytest.mark.django_db(transaction=True)
@override_settings(AUTOAUDIT={"LOG_POST_REQUESTS": True})
def test_post_logging_under_async() -> None:
    async def run() -> int:
        response = await AsyncClient().post("/forms/post/")
        return response.status_code

    assert run_async(run()) == 200
    assert ActivityLog.objects.get().entity == "request"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"LOG_POST_REQUESTS": "yes"}, "LOG_POST_REQUESTS"),
        ({"LOG_POST_SKIP_PREFIXES": "/admin/"}, "LOG_POST_SKIP_PREFIXES"),
        ({"LOG_POST_SKIP_PREFIXES": ["admin/"]}, "LOG_POST_SKIP_PREFIXES"),
        ({"LOG_POST_SKIP_PREFIXES": [1]}, "LOG_POST_SKIP_PREFIXES"),
        ({"LOG_POST_ACTION": "submit"}, "LOG_POST_ACTION"),
        ({"LOG_POST_ACTION": None}, "LOG_POST_ACTION"),
    ],
)
def test_bad_post_logging_settings_name_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=key):
        parse_settings(raw)


def test_post_logging_defaults() -> None:
    parsed = parse_settings({})
    assert parsed.LOG_POST_REQUESTS is False
    assert parsed.LOG_POST_SKIP_PREFIXES == ("/admin/", "/static/", "/media/")
    assert parsed.LOG_POST_ACTION == "create"
