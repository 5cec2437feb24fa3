"""Request ids: set per request by the middleware, echoed, on every log of it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.asgi import get_asgi_application
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from pytest_django import Settings

import autoaudit
from autoaudit.actors.requestid import request_id_for
from autoaudit.actors.scopes import current_request_id, is_valid_request_id
from autoaudit.middleware import AuditMiddleware
from autoaudit.models import ActivityLog
from tests.asgi_support import asgi_request, run_async
from tests.testapp.models import Product
from tests.typing_support import Track
from tests.ui_factories import login, make_logs

NEW_ID = re.compile(r"[0-9a-f]{32}")
PROXY = {"TRUSTED_PROXIES": ["10.0.0.0/8"]}


def _user(username: str, **extra: Any) -> Any:
    return get_user_model()._default_manager.create_user(
        username, f"{username}@example.com", "pw", **extra
    )


# -- which id a request gets -------------------------------------------------
def test_a_trusted_proxys_header_is_used(settings: Settings) -> None:
    settings.AUTOAUDIT = PROXY
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_REQUEST_ID="abc-123")
    assert request_id_for(request) == "abc-123"


def test_the_header_of_an_untrusted_client_is_ignored(settings: Settings) -> None:
    settings.AUTOAUDIT = PROXY
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_REQUEST_ID="abc-123")
    assert NEW_ID.fullmatch(request_id_for(request))


def test_without_trusted_proxies_every_header_is_ignored() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_REQUEST_ID="abc-123")
    assert NEW_ID.fullmatch(request_id_for(request))


@pytest.mark.parametrize(
    "header",
    ["x" * 65, "", "   ", "a b", "id;drop", "<script>", "é", "a\x00b", "line\nbreak"],
)
def test_a_bad_header_from_a_trusted_proxy_gets_a_new_id(settings: Settings, header: str) -> None:
    settings.AUTOAUDIT = PROXY
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_REQUEST_ID=header)
    assert NEW_ID.fullmatch(request_id_for(request))


def test_ids_are_new_for_every_request() -> None:
    ids = {request_id_for(RequestFactory().get("/")) for _ in range(20)}
    assert len(ids) == 20


def test_valid_ids() -> None:
    assert is_valid_request_id("x" * 64)
    assert is_valid_request_id("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1") is False
    assert is_valid_request_id("req_01HV.AB:c+d=/e@f-g")
    assert not is_valid_request_id(42)


# -- the middleware -------------------------------------------------------------
@pytest.mark.django_db
def test_every_log_of_a_request_has_its_id_and_the_response_echoes_it(track: Track) -> None:
    track(Product)
    seen: list[str | None] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(current_request_id())
        product = Product.objects.create(name="one")
        product.name = "two"
        product.save()
        autoaudit.log_activity(request, "download", "report")
        return HttpResponse()

    response = AuditMiddleware(view)(RequestFactory().get("/"))
    request_id = response["X-Request-ID"]
    assert NEW_ID.fullmatch(request_id)
    assert seen == [request_id]
    assert current_request_id() is None
    logs = ActivityLog.objects.for_request(request_id)
    assert sorted(log.action for log in logs) == ["create", "download", "update"]
    assert ActivityLog.objects.count() == 3


@pytest.mark.django_db
def test_two_requests_have_two_ids(track: Track, client: Client) -> None:
    track(Product)
    first = client.post("/actors/sync-create/", {"name": "a"})
    second = client.post("/actors/sync-create/", {"name": "b"})
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert ActivityLog.objects.for_request(first["X-Request-ID"]).get().entity_name == "a"
    assert ActivityLog.objects.for_request(second["X-Request-ID"]).get().entity_name == "b"


@pytest.mark.django_db
def test_the_proxys_id_is_on_the_logs(track: Track, client: Client, settings: Settings) -> None:
    settings.AUTOAUDIT = PROXY
    track(Product)
    response = client.post(
        "/actors/sync-create/", {"name": "p"}, REMOTE_ADDR="10.0.0.5", HTTP_X_REQUEST_ID="lb-42"
    )
    assert response["X-Request-ID"] == "lb-42"
    assert ActivityLog.objects.for_request("lb-42").get().entity_name == "p"


@pytest.mark.django_db
def test_a_forged_header_never_breaks_the_request(track: Track, client: Client) -> None:
    track(Product)
    response = client.post(
        "/actors/sync-create/", {"name": "f"}, HTTP_X_REQUEST_ID="x" * 5000 + "'; --"
    )
    assert response.status_code == 200
    assert NEW_ID.fullmatch(response["X-Request-ID"])
    assert ActivityLog.objects.get().request_id == response["X-Request-ID"]


@pytest.mark.django_db
def test_the_id_is_set_when_the_view_raises_into_a_500(client: Client) -> None:
    client.raise_request_exception = False
    response = client.get("/actors/raise/")
    assert response.status_code == 500
    assert NEW_ID.fullmatch(response["X-Request-ID"])
    assert current_request_id() is None


@pytest.mark.django_db
def test_auth_events_carry_the_request_id(client: Client) -> None:
    _user("ann")
    response = client.post("/actors/login/", {"username": "ann", "password": "pw"})
    login_log = ActivityLog.objects.get(action="login")
    assert login_log.request_id == response["X-Request-ID"]
    client.post("/actors/login/", {"username": "ann", "password": "wrong"})
    failed = ActivityLog.objects.get(action="login_failed")
    assert failed.request_id and failed.request_id != login_log.request_id


@pytest.mark.django_db
def test_view_events_carry_the_request_id(track: Track, client: Client) -> None:
    track(Product)
    with autoaudit.disabled():
        product = Product.objects.create(name="viewed")
    response = client.get(f"/products/{product.pk}/")
    assert ActivityLog.objects.get(action="view").request_id == response["X-Request-ID"]


@pytest.mark.django_db(transaction=True)
def test_asgi_requests_get_their_own_ids(track: Track, settings: Settings) -> None:
    track(Product)
    settings.AUTOAUDIT = PROXY
    app = get_asgi_application()

    async def run() -> list[Any]:
        import asyncio

        return list(
            await asyncio.gather(
                *(
                    asgi_request(
                        app,
                        "POST",
                        "/actors/async-create/",
                        form={"name": f"n{i}"},
                        headers={"x-request-id": f"async-{i}"},
                        client=("10.0.0.9", 5000),
                    )
                    for i in range(6)
                )
            )
        )

    responses = run_async(run())
    assert [response.headers["x-request-id"] for response in responses] == [
        f"async-{i}" for i in range(6)
    ]
    assert all(response.status_code == 200 for response in responses)
    for i in range(6):
        assert ActivityLog.objects.for_request(f"async-{i}").get().entity_name == f"n{i}"
    untrusted = run_async(
        asgi_request(app, "GET", "/actors/whoami/", headers={"x-request-id": "forged"})
    )
    assert NEW_ID.fullmatch(untrusted.headers["x-request-id"])


# -- context(request_id=...) and for_request ---------------------------------
@pytest.mark.django_db
def test_context_sets_the_request_id_and_nests(track: Track) -> None:
    track(Product)
    with autoaudit.context(request_id="job-1", source="import"):
        Product.objects.create(name="outer")
        with autoaudit.context(request_id="job-2"):
            Product.objects.create(name="inner")
        with autoaudit.context(batch="b"):
            Product.objects.create(name="extra only")
    Product.objects.create(name="none")
    assert [log.entity_name for log in ActivityLog.objects.for_request("job-1")] == [
        "extra only",
        "outer",
    ]
    inner = ActivityLog.objects.for_request("job-2").get()
    assert inner.extra_data == {"source": "import"}  # the id is not extra data
    assert ActivityLog.objects.get(entity_name="none").request_id is None


@pytest.mark.parametrize(
    ("value", "error"),
    [(42, TypeError), (b"bytes", TypeError), ("", ValueError), ("x" * 65, ValueError)],
)
def test_context_rejects_a_bad_request_id(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="request_id"):
        autoaudit.context(request_id=value)


def test_for_request_needs_a_string() -> None:
    with pytest.raises(TypeError, match="request_id"):
        ActivityLog.objects.for_request(42)  # type: ignore[arg-type]


@pytest.mark.django_db
def test_for_request_is_one_indexed_query(django_assert_num_queries: Any) -> None:
    make_logs(3, request_id="r-1")
    make_logs(2, request_id="r-2")
    with django_assert_num_queries(1):
        assert len(list(ActivityLog.objects.for_request("r-1"))) == 3


# -- the timeline ---------------------------------------------------------------
@pytest.mark.django_db
def test_timeline_links_an_entry_to_its_request_and_filters_by_it(client: Client) -> None:
    staff = _user("staff")
    staff.user_permissions.add(Permission.objects.get(codename="view_activitylog"))
    make_logs(2, user=staff, request_id="req-a")
    make_logs(1, user=staff, request_id="req-b")
    make_logs(1, user=staff)
    login(client, staff)
    page = client.get("/activity/").content.decode()
    assert page.count('href="/activity/?request=req-a"') == 2
    assert 'href="/activity/?request=req-b"' in page
    filtered = client.get("/activity/?request=req-a")
    assert len(filtered.context["entries"]) == 2
    assert {entry.log.request_id for entry in filtered.context["entries"]} == {"req-a"}
    bad = client.get("/activity/?request=no%20spaces")
    assert bad.context["filter_form"].errors["request"]


@pytest.mark.django_db
def test_a_request_filter_shows_a_plain_user_only_their_own_logs(client: Client) -> None:
    ann, bob = _user("ann"), _user("bob")
    make_logs(2, user=ann, request_id="shared")
    make_logs(3, user=bob, request_id="shared")
    make_logs(1, request_id="shared")  # a guest
    login(client, ann)
    response = client.get("/activity/?request=shared")
    assert len(response.context["entries"]) == 2
    assert {entry.log.user_id for entry in response.context["entries"]} == {ann.pk}


@pytest.mark.django_db
def test_the_json_endpoint_shows_and_filters_by_the_request_id(client: Client) -> None:
    ann = _user("ann")
    make_logs(2, user=ann, request_id="req-j")
    make_logs(1, user=ann)
    login(client, ann)
    data = client.get("/activity/api/?request=req-j").json()
    assert [row["request_id"] for row in data["results"]] == ["req-j", "req-j"]
    assert client.get("/activity/api/?request=bad%20id").status_code == 400
