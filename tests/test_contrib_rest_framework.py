"""``autoaudit.contrib.rest_framework``: the serializer and the read-only
viewset (Django REST framework is in the ``drf`` and ``dev`` extras, so CI
runs these; they skip only where it is not installed)."""

from __future__ import annotations

import importlib
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import include, path
from pytest_django import DjangoAssertNumQueries, Settings

import autoaudit
from tests.testapp.models import Account, Product
from tests.typing_support import Track
from tests.ui_factories import login, make_logs


def test_importing_it_without_rest_framework_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "rest_framework", None)  # an import of it fails
    monkeypatch.delitem(sys.modules, "autoaudit.contrib.rest_framework", raising=False)
    with pytest.raises(
        ImportError, match=r'needs Django REST framework: pip install "autoaudit\[drf\]"'
    ):
        importlib.import_module("autoaudit.contrib.rest_framework")


pytest.importorskip("rest_framework")

from rest_framework.routers import SimpleRouter  # noqa: E402

from autoaudit.contrib.rest_framework import ActivityLogViewSet  # noqa: E402

router = SimpleRouter()
router.register("logs", ActivityLogViewSet, basename="activity-log")
urlpatterns = [
    path("api/", include(router.urls)),
    path("activity/", include("autoaudit.urls")),
]
URL = "/api/logs/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _urls(settings: Settings) -> None:
    settings.ROOT_URLCONF = __name__


def ids(response: Any) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def staff() -> User:
    return User.objects.create_user("stan", "stan@example.com", "x", is_staff=True)


@pytest.fixture
def manager() -> User:
    user = User.objects.create_user("mia", "mia@example.com", "x")
    user.user_permissions.add(Permission.objects.get(codename="view_activitylog"))
    return user


def test_signed_out_is_a_403(client: Client) -> None:
    make_logs(2)
    response = client.get(URL)
    assert response.status_code == 403
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("alice", {"alice"}),
        ("staff", {"staff"}),
        ("manager", {"alice", "staff", "guest"}),
        ("root", {"alice", "staff", "guest"}),
    ],
)
def test_access_rules_are_the_timelines(
    client: Client, request: pytest.FixtureRequest, alice: User, staff: User, who: str, sees: Any
) -> None:
    made = {
        "alice": make_logs(2, user=alice),
        "staff": make_logs(2, user=staff),
        "guest": make_logs(2),
    }
    response = login(client, request.getfixturevalue(who)).get(URL)
    assert response.status_code == 200
    assert sorted(ids(response)) == sorted(log.pk for name in sees for log in made[name])


def test_retrieve_hides_what_the_user_may_not_read(client: Client, alice: User, bob: User) -> None:
    (mine,) = make_logs(1, user=alice)
    (theirs,) = make_logs(1, user=bob)
    login(client, alice)
    assert client.get(f"{URL}{mine.pk}/").json()["id"] == mine.pk
    assert client.get(f"{URL}{theirs.pk}/").status_code == 404


def test_rows_have_the_json_endpoints_shape(client: Client, track: Track, root: User) -> None:
    track(Product)
    with autoaudit.actor(user=root):
        product = Product.objects.create(name="Laptop", price="10.00")
    login(client, root)
    (row,) = client.get(URL).json()["results"]
    (same,) = client.get("/activity/api/").json()["results"]
    assert row == same
    assert row["target"]["history_url"] == f"/activity/testapp.Product/{product.pk}/"


def test_masked_values_stay_masked(client: Client, track: Track, root: User) -> None:
    track(Account)
    with autoaudit.actor(user=root):
        Account.objects.create(username="carol", password="hunter2", api_key="sk-123")
    text = login(client, root).get(URL).text
    assert "hunter2" not in text and "sk-123" not in text and "********" in text


def test_signed_cursor_pages(client: Client, settings: Settings, root: User) -> None:
    settings.AUTOAUDIT = {"PAGE_SIZE": 4}
    made = make_logs(10, user=root)
    login(client, root)
    seen: list[int] = []
    url: str | None = URL
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        if url:
            assert parse_qs(urlsplit(url).query)["cursor"] == [body["next_cursor"]]
    assert seen == [log.pk for log in made]


@pytest.mark.parametrize("cursor", ["garbage", "WyIyMDI1Il0:1tXYZ:bad"])
def test_a_tampered_cursor_is_a_400(client: Client, root: User, cursor: str) -> None:
    response = login(client, root).get(URL, {"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid cursor."}


def test_filters_are_the_timelines(client: Client, root: User, alice: User) -> None:
    (created,) = make_logs(1, user=alice, action="create")
    make_logs(2, user=root)
    login(client, root)
    assert ids(client.get(URL, {"action": "create"})) == [created.pk]
    assert ids(client.get(URL, {"actor": "alice@example.com"})) == [created.pk]
    response = client.get(URL, {"since": "soon"})
    assert response.status_code == 400
    assert list(response.json()) == ["since"]


def test_it_is_read_only(client: Client, root: User) -> None:
    login(client, root)
    assert client.post(URL, {}).status_code == 405
    (log,) = make_logs(1, user=root)
    assert client.delete(f"{URL}{log.pk}/").status_code == 405


@pytest.mark.parametrize("size", [5, 30])
def test_queries_per_page_do_not_depend_on_page_size(
    client: Client,
    settings: Settings,
    django_assert_num_queries: DjangoAssertNumQueries,
    alice: User,
    size: int,
) -> None:
    settings.AUTOAUDIT = {"PAGE_SIZE": size}
    make_logs(60, user=alice)
    login(client, alice)
    # The session, the user, her permissions (two queries) and the page.
    with django_assert_num_queries(5):
        assert len(ids(client.get(URL))) == size
