"""Timeline filters and the per-object history view."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from pytest_django import Settings

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.web.forms import ActivityFilterForm
from tests.testapp.models import Product, StringKeyItem, UUIDItem
from tests.typing_support import TextResponse, Track
from tests.ui_factories import login, make_log, make_logs

pytestmark = pytest.mark.django_db


URL = "/activity/"
Mix = dict[str, list[ActivityLog]]
Named = Product | UUIDItem | StringKeyItem


def ids(response: TextResponse) -> set[int]:
    assert response.status_code == 200
    return {int(pk) for pk in re.findall(r'data-aa-entry="(\d+)"', response.text)}


def pks(logs: list[ActivityLog]) -> set[int]:
    return {log.pk for log in logs}


@pytest.fixture
def mix(alice: User, bob: User) -> Mix:
    return {
        "alice": make_logs(3, user=alice, action="create"),
        "bob": make_logs(2, user=bob, action="delete"),
        "guest": make_logs(2, actor_identifier="jane@example.com", action="view"),
        "system": make_logs(
            1,
            actor_type="system",
            actor_identifier=None,
            actor_name=None,
            entity="order",
            computed_entity="orders.Order",
        ),
        "manual": make_logs(1, user=alice, entity="contact_form", computed_entity="contact_form"),
    }


def test_actor_type(client: Client, root: User, mix: Mix) -> None:
    login(client, root)
    assert ids(client.get(URL, {"actor_type": "guest"})) == pks(mix["guest"])
    assert ids(client.get(URL, {"actor_type": "system"})) == pks(mix["system"])
    users = pks(mix["alice"] + mix["bob"] + mix["manual"])
    assert ids(client.get(URL, {"actor_type": "user"})) == users


def test_action(client: Client, root: User, mix: Mix) -> None:
    login(client, root)
    assert ids(client.get(URL, {"action": "delete"})) == pks(mix["bob"])
    assert ids(client.get(URL, {"action": "create"})) == pks(mix["alice"])


def test_entity(client: Client, root: User, mix: Mix) -> None:
    login(client, root)
    assert ids(client.get(URL, {"entity": "orders.Order"})) == pks(mix["system"])
    assert ids(client.get(URL, {"entity": "contact_form"})) == pks(mix["manual"])
    product = pks(mix["alice"] + mix["bob"] + mix["guest"])
    assert ids(client.get(URL, {"entity": "testapp.Product"})) == product
    html = client.get(URL).text
    assert '<option value="orders.Order">orders.Order</option>' in html
    assert '<option value="testapp.Product">Product (testapp.Product)</option>' in html


def test_actor(client: Client, root: User, mix: Mix) -> None:
    login(client, root)
    assert ids(client.get(URL, {"actor": "jane@example.com"})) == pks(mix["guest"])
    alice_logs = pks(mix["alice"] + mix["manual"])
    assert ids(client.get(URL, {"actor": " alice@example.com "})) == alice_logs


def test_date_range(client: Client, root: User, midday: None) -> None:
    now = timezone.localtime()
    recent = make_logs(2, start=now - timedelta(minutes=1))
    week_old = make_logs(2, start=now - timedelta(days=7))
    ancient = make_logs(2, start=now - timedelta(days=60))
    login(client, root)
    day = (now - timedelta(days=7)).date().isoformat()
    assert ids(client.get(URL, {"since": day, "until": day})) == pks(week_old)
    assert ids(client.get(URL, {"since": now.date().isoformat()})) == pks(recent)
    until = (now - timedelta(days=30)).date().isoformat()
    assert ids(client.get(URL, {"until": until})) == pks(ancient)


@pytest.mark.parametrize("zone", ["UTC", "Etc/GMT-14", "Etc/GMT+12"])  # UTC+14, UTC-12
def test_the_ends_of_the_calendar_filter_without_failing(
    client: Client, root: User, settings: Settings, zone: str
) -> None:
    settings.TIME_ZONE = zone
    every = pks(make_logs(3, start=timezone.now(), step=timedelta(days=400)))
    login(client, root)
    for query, expected in (
        ({"until": "9999-12-31"}, every),
        ({"since": "0001-01-01"}, every),
        ({"since": "0001-01-01", "until": "9999-12-31"}, every),
        ({"until": "0001-01-01"}, set()),
        ({"since": "9999-12-31"}, set()),
        ({"since": "9999-12-31", "until": "9999-12-31"}, set()),
        ({"since": "0001-01-01", "until": "0001-01-01"}, set()),
    ):
        assert ids(client.get(URL, query)) == expected, query


@pytest.mark.parametrize(
    "value", ["10000-01-01", "0000-01-01", "9999-12-32", "-1", "1e9", "9" * 300, "\x00"]
)
def test_absurd_dates_are_reported_and_ignored(client: Client, root: User, value: str) -> None:
    every = pks(make_logs(2))
    login(client, root)
    for name in ("since", "until"):
        response = client.get(URL, {name: value})
        assert ids(response) == every
        assert response.text.count('class="aa-error"') == 1


def test_filters_combine(client: Client, root: User, mix: Mix) -> None:
    login(client, root)
    query = {"actor_type": "user", "action": "delete", "actor": "bob@example.com"}
    assert ids(client.get(URL, query)) == pks(mix["bob"])
    assert ids(client.get(URL, {**query, "action": "create"})) == set()


def test_invalid_values_are_reported_and_ignored(client: Client, root: User, mix: Mix) -> None:
    login(client, root)
    response = client.get(
        URL, {"action": "drop_table", "since": "yesterday-ish", "actor_type": "user"}
    )
    users = pks(mix["alice"] + mix["bob"] + mix["manual"])
    assert ids(response) == users  # only the valid filter applies
    assert response.text.count('class="aa-error"') == 2
    response = client.get(URL, {"since": "2024-03-10", "until": "2024-03-01"})
    assert "The end date is before the start date." in response.text


def test_filters_never_widen_a_users_view(client: Client, alice: User, mix: Mix) -> None:
    login(client, alice)
    mine = pks(mix["alice"] + mix["manual"])
    assert ids(client.get(URL)) == mine
    for query in (
        {"actor": "bob@example.com"},
        {"actor_type": "guest"},
        {"actor_type": "system"},
        {"action": "delete"},
        {"entity": "orders.Order"},
        {"user": "2", "user_id": "2", "all": "1", "actor_type": ["guest", "user"]},
    ):
        assert ids(client.get(URL, query)) <= mine, query


def test_form_without_data_is_inactive() -> None:
    form = ActivityFilterForm()
    assert not form.active
    assert form.valid_values() == {}


# Per-object history -----------------------------------------------------------


def history_url(label: str, pk: object) -> str:
    return reverse("autoaudit:object_history", kwargs={"label": label, "pk": str(pk)})


@pytest.mark.parametrize(
    ("model", "make"),
    [
        (Product, lambda: Product.objects.create(name="Laptop")),
        (UUIDItem, lambda: UUIDItem.objects.create(name="Widget")),
        (
            StringKeyItem,
            lambda: StringKeyItem.objects.create(code="key/with spaces é?#%&", name="Odd"),
        ),
    ],
)
def test_object_history(
    client: Client, root: User, track: Track, model: type[Named], make: Callable[[], Named]
) -> None:
    track(model)
    with autoaudit.actor(user=root):
        obj = make()
        obj.name = "Renamed"
        obj.save()
        extra = {"code": "other"} if model is StringKeyItem else {}
        other = model.objects.create(name="Other", **extra)
    login(client, root)
    url = history_url(model._meta.label, obj.pk)
    response = client.get(url)
    logs = list(ActivityLog.objects.for_instance(obj))
    assert len(logs) == 2
    assert ids(response) == pks(logs)
    assert "Renamed" in response.text
    assert 'class="aa-stats"' not in response.text  # the counts are the timeline's
    assert ActivityLog.objects.for_instance(other).exists()
    # The timeline links to it.
    assert f'href="{escape(url)}"' in client.get(URL).text


def test_object_history_of_a_deleted_object(client: Client, root: User, track: Track) -> None:
    track(Product)
    with autoaudit.actor(user=root):
        product = Product.objects.create(name="Gone soon")
        pk = product.pk
        product.delete()
    login(client, root)
    response = client.get(history_url("testapp.Product", pk))
    assert len(ids(response)) == 2


def test_object_history_follows_the_access_rules(client: Client, alice: User, bob: User) -> None:
    mine = make_log(user=alice, entity_pk="7", computed_entity="testapp.Product")
    make_log(user=bob, entity_pk="7", computed_entity="testapp.Product")
    login(client, alice)
    assert ids(client.get(history_url("testapp.Product", 7))) == {mine.pk}


def test_object_history_unknown(client: Client, root: User) -> None:
    login(client, root)
    assert client.get("/activity/nosuch.Model/1/").status_code == 404
    assert client.get("/activity/not-a-label/1/").status_code == 404
    # A known model with no logs: an empty history, not an error.
    response = client.get(history_url("testapp.Product", 999))
    assert response.status_code == 200 and ids(response) == set()
    # Logs of a model that no longer exists still show.
    gone = make_log(computed_entity="legacy.Thing", entity="thing", entity_pk="a-1")
    assert ids(client.get(history_url("legacy.Thing", "a-1"))) == {gone.pk}


def test_object_history_of_uuid_keys_by_text(client: Client, root: User) -> None:
    key = uuid.uuid4()
    log = make_log(computed_entity="testapp.UUIDItem", entity="uuiditem", entity_pk=str(key))
    login(client, root)
    assert ids(client.get(history_url("testapp.UUIDItem", key))) == {log.pk}


def _title(response: TextResponse) -> str:
    match = re.search(r'<h1 class="aa-title">([^<]*)</h1>', response.text)
    assert match is not None
    return match.group(1)


def test_object_history_names_the_object(
    client: Client, root: User, alice: User, track: Track
) -> None:
    track(Product)
    with autoaudit.actor(user=root):
        product = Product.objects.create(name="Laptop")
    Product.objects.filter(pk=product.pk).update(name="Laptop Pro")  # untracked rename
    url = history_url("testapp.Product", product.pk)
    # Who sees every log: the object's name now, not the one logged.
    response = login(client, root).get(url)
    assert _title(response) == "Laptop Pro"
    assert "<title>History of Laptop Pro</title>" in response.text
    # A user who sees none of its entries and may not view products: its
    # kind and key only, so the page does not reveal names; and an honest
    # empty state that does not count what is hidden.
    response = login(client, alice).get(url)
    assert _title(response) == f"Product #{product.pk}"
    assert "Laptop" not in response.text
    assert "No activity you can see" in response.text
    assert "No activity yet." not in response.text
    # ... with the model's view permission, the name.
    alice.user_permissions.add(Permission.objects.get(codename="view_product"))
    alice = User.objects.get(pk=alice.pk)  # a fresh permission cache
    assert _title(login(client, alice).get(url)) == "Laptop Pro"


def test_object_history_of_a_deleted_object_is_named_by_its_last_log(
    client: Client, root: User, alice: User, track: Track
) -> None:
    track(Product)
    with autoaudit.actor(user=root):
        product = Product.objects.create(name="Mug")
        product.name = "Big mug"
        product.save()
        pk = product.pk
        product.delete()
    url = history_url("testapp.Product", pk)
    assert _title(login(client, root).get(url)) == "Big mug"
    assert _title(login(client, alice).get(url)) == f"Product #{pk}"


def test_object_history_of_an_object_without_any_log(client: Client, alice: User) -> None:
    response = login(client, alice).get(history_url("testapp.Product", 12345))
    assert _title(response) == "Product #12345"
    assert "No activity yet." in response.text
    assert "you can see" not in response.text


def test_object_history_with_a_key_the_model_cannot_read(client: Client, root: User) -> None:
    response = login(client, root).get(history_url("testapp.Product", "not-a-number"))
    assert _title(response) == "Product #not-a-number"
    response = login(client, root).get(history_url("testapp.UUIDItem", "not-a-uuid"))
    assert _title(response).endswith("#not-a-uuid")
