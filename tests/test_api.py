"""The timeline's JSON endpoint (``activity/api/``): access, cursors,
filters, masking and queries."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoAssertNumQueries, Settings

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.web.pagination import Cursor
from tests.testapp.models import Account, Product
from tests.typing_support import Track
from tests.ui_factories import login, make_log, make_logs

pytestmark = pytest.mark.django_db

URL = "/activity/api/"


def ids(response: Any) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def staff() -> User:
    return User.objects.create_user("stan", "stan@example.com", "x", is_staff=True)


@pytest.fixture
def manager() -> User:
    user = User.objects.create_user("mia", "mia@example.com", "x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_activitylog"))
    return user


@pytest.fixture
def logs(alice: User, bob: User, staff: User) -> dict[str, list[int]]:
    """Two logs each of alice, bob, staff and guests, one of the system."""
    return {
        "alice": [log.pk for log in make_logs(2, user=alice)],
        "bob": [log.pk for log in make_logs(2, user=bob)],
        "staff": [log.pk for log in make_logs(2, user=staff)],
        "guest": [log.pk for log in make_logs(2)],
        "system": [make_log(actor_type="system", actor_identifier=None, actor_name=None).pk],
    }


def test_url_names() -> None:
    assert reverse("autoaudit:api") == URL
    assert (
        reverse("autoaudit:api_object_history", kwargs={"label": "testapp.Product", "pk": "7"})
        == "/activity/api/testapp.Product/7/"
    )


@pytest.mark.parametrize("url", [URL, "/activity/api/testapp.Product/1/"])
def test_signed_out_visitors_get_a_json_403_not_a_redirect(
    client: Client, logs: dict[str, list[int]], url: str
) -> None:
    response = client.get(url)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_guest_with_a_session_sees_nothing(client: Client, logs: dict[str, list[int]]) -> None:
    session = client.session
    session["visited"] = True
    session.save()
    assert client.get(URL).status_code == 403


def test_an_inactive_user_sees_nothing(client: Client, alice: User, logs: Any) -> None:
    login(client, alice)
    alice.is_active = False
    alice.save()
    assert client.get(URL).status_code == 403


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("alice", ["alice"]),
        ("staff", ["staff"]),  # is_staff alone does not show everyone's
        ("manager", ["alice", "bob", "staff", "guest", "system"]),
        ("root", ["alice", "bob", "staff", "guest", "system"]),
    ],
)
def test_access_rules_are_the_timelines(
    client: Client, request: pytest.FixtureRequest, logs: dict[str, list[int]], who: str, sees: Any
) -> None:
    user = request.getfixturevalue(who)
    login(client, user)
    response = client.get(URL)
    assert response.status_code == 200
    expected = sorted(pk for name in sees for pk in logs[name])
    assert sorted(ids(response)) == expected
    # The same rows as the HTML timeline shows this user.
    html = client.get("/activity/").text
    assert sorted(int(pk) for pk in re.findall(r'data-aa-entry="(\d+)"', html)) == expected


def test_the_shape_of_a_row(client: Client, track: Track, alice: User) -> None:
    track(Product)
    with autoaudit.actor(user=alice):
        product = Product.objects.create(name="Laptop", price="10.00")
        product.price = "9.50"
        product.save()
    alice.first_name, alice.last_name = "Alice", "Smith"
    alice.save()
    response = login(client, alice).get(URL)
    update, create = response.json()["results"]
    assert update["action"] == "update" and create["action"] == "create"
    assert update == {
        "id": update["id"],
        "created_at": update["created_at"],
        "action": "update",
        "action_label": "Update",
        "description": update["description"],
        "actor": {
            "type": "user",
            "type_label": "User",
            "name": "Alice Smith",
            "identifier": "alice@example.com",
        },
        "target": {
            "entity": "product",
            "model": "testapp.Product",
            "label": "Product",
            "pk": str(product.pk),
            "name": "Laptop",
            "history_url": f"/activity/testapp.Product/{product.pk}/",
        },
        "changed_fields": ["price"],
        "old_values": {"price": "10.00"},
        "new_values": {"price": "9.50"},
        "request_id": None,  # written outside a request
    }
    assert "Laptop" in update["description"]
    assert update["created_at"].endswith("+00:00")
    for hidden in ("ip_address", "user_agent", "actor_metadata", "extra_data"):
        assert hidden not in update
    assert response.json()["next"] is None and response.json()["next_cursor"] is None


def test_masked_values_stay_masked(client: Client, track: Track, root: User) -> None:
    track(Account)
    with autoaudit.actor(user=root):
        account = Account.objects.create(username="carol", password="hunter2", api_key="sk-123")
        account.password = "correct horse"
        account.save()
    for url in (URL, f"/activity/api/testapp.Account/{account.pk}/"):
        text = login(client, root).get(url).text
        assert "hunter2" not in text and "correct horse" not in text and "sk-123" not in text
        assert "********" in text


def test_cursors_walk_every_row_once_newest_first(
    client: Client, settings: Settings, root: User
) -> None:
    settings.AUTOAUDIT = {"PAGE_SIZE": 7}
    made = make_logs(30, user=root)
    # Only these rows (a model another test left tracked may have logged
    # the user's creation).
    ActivityLog.objects.exclude(pk__in=[log.pk for log in made]).delete()
    login(client, root)
    url: str | None = URL
    seen: list[int] = []
    pages = 0
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        if url:
            parts = urlsplit(url)
            assert parts.scheme == "http" and parts.netloc == "testserver"
            assert parts.path == URL
            assert parse_qs(parts.query) == {"cursor": [body["next_cursor"]]}
        pages += 1
    assert seen == [log.pk for log in made]  # make_logs: each older than the last
    assert pages == 5


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        Cursor.after.__name__,
        "WyIyMDI1LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgNV0:1tXYZ:bad-signature",
    ],
)
def test_a_tampered_cursor_is_a_json_400(client: Client, root: User, cursor: str) -> None:
    make_logs(3, user=root)
    response = login(client, root).get(URL, {"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid cursor."}


def test_an_edited_signed_cursor_is_a_400(client: Client, settings: Settings, root: User) -> None:
    settings.AUTOAUDIT = {"PAGE_SIZE": 2}
    make_logs(5, user=root)
    token = login(client, root).get(URL).json()["next_cursor"]
    payload, rest = token.split(":", 1)
    forged = payload[:-1] + ("A" if payload[-1] != "A" else "B") + ":" + rest
    assert client.get(URL, {"cursor": forged}).status_code == 400


def test_someone_elses_cursor_only_says_where_to_continue(
    client: Client, settings: Settings, root: User, alice: User
) -> None:
    settings.AUTOAUDIT = {"PAGE_SIZE": 2}
    make_logs(4, user=root)
    mine = make_logs(3, user=alice, start=None)
    token = login(client, root).get(URL).json()["next_cursor"]
    client.logout()
    rows = login(client, alice).get(URL, {"cursor": token}).json()["results"]
    assert {row["actor"]["identifier"] for row in rows} <= {"alice@example.com"}
    assert {row["id"] for row in rows} <= {log.pk for log in mine}


def test_filters_are_the_timelines(client: Client, root: User, alice: User) -> None:
    created = make_log(user=alice, action="create")
    make_log(user=root, action="update")
    guest = make_log(actor_identifier="jane@example.com")
    other = make_log(user=root, entity="account", computed_entity="testapp.Account")
    login(client, root)
    assert ids(client.get(URL, {"action": "create"})) == [created.pk]
    assert ids(client.get(URL, {"actor": "jane@example.com"})) == [guest.pk]
    assert ids(client.get(URL, {"actor_type": "guest"})) == [guest.pk]
    assert ids(client.get(URL, {"entity": "testapp.Account"})) == [other.pk]
    assert len(ids(client.get(URL, {"since": "2000-01-01", "until": "9999-12-31"}))) == 4
    assert ids(client.get(URL, {"until": "2000-01-01"})) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"action": "explode"}, "action"),
        ({"actor_type": "robot"}, "actor_type"),
        ({"since": "2024-02-01", "until": "2024-01-01"}, "until"),
        ({"actor": "x" * 300}, "actor"),
    ],
)
def test_a_bad_filter_is_a_json_400_naming_the_field(
    client: Client, root: User, query: dict[str, str], field: str
) -> None:
    response = login(client, root).get(URL, query)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Invalid filter."
    assert list(body["errors"]) == [field]
    assert body["errors"][field][0]["message"]


def test_an_unknown_parameter_is_a_json_400(client: Client, root: User) -> None:
    response = login(client, root).get(URL, {"page": "2", "actio": "create"})
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Unknown parameter: actio, page."
    assert "action" in body["allowed"] and "cursor" in body["allowed"]


def test_it_is_read_only(client: Client, root: User) -> None:
    login(client, root)
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)(URL).status_code == 405


def test_object_history(client: Client, track: Track, root: User) -> None:
    track(Product)
    with autoaudit.actor(user=root):
        laptop = Product.objects.create(name="Laptop", price="10.00")
        Product.objects.create(name="Phone", price="5.00")
        pk = laptop.pk
        laptop.delete()
    login(client, root)
    rows = client.get(f"/activity/api/testapp.Product/{pk}/").json()["results"]
    assert [row["action"] for row in rows] == ["delete", "create"]
    assert {row["target"]["name"] for row in rows} == {"Laptop"}
    # A known model with no logs is an empty history; an unknown one a 404.
    assert client.get("/activity/api/testapp.Product/999/").json()["results"] == []
    response = client.get("/activity/api/nosuch.Model/1/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such object history."}


def test_object_history_follows_the_access_rules(client: Client, alice: User, bob: User) -> None:
    mine = make_log(user=alice, entity_pk="5", entity_id=5)
    make_log(user=bob, entity_pk="5", entity_id=5)
    rows = login(client, alice).get("/activity/api/testapp.Product/5/").json()["results"]
    assert [row["id"] for row in rows] == [mine.pk]


# Per page: the session, the user, the page, and for a user who is not a
# superuser their permissions (two queries); never one per row.
@pytest.mark.parametrize(("who", "queries"), [("root", 3), ("alice", 5)])
@pytest.mark.parametrize("size", [5, 40])
def test_queries_per_page_do_not_depend_on_page_size(
    client: Client,
    settings: Settings,
    django_assert_num_queries: DjangoAssertNumQueries,
    request: pytest.FixtureRequest,
    who: str,
    queries: int,
    size: int,
) -> None:
    settings.AUTOAUDIT = {"PAGE_SIZE": size, "DASHBOARD_CACHE_TIMEOUT": 0}
    user = request.getfixturevalue(who)
    make_logs(100, user=user)
    login(client, user)
    cursor = client.get(URL).json()["next_cursor"]
    # root's read was logged by the request above (one INSERT, once a minute).
    with django_assert_num_queries(queries):
        first = client.get(URL)
    with django_assert_num_queries(queries):
        following = client.get(URL, {"cursor": cursor})
    assert len(ids(first)) == len(ids(following)) == size
