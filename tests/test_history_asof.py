"""``autoaudit.as_of``: an object as its logs say it was at a moment."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import pytest
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries, Settings

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.tracking.registry import registry
from tests.testapp.models import (
    Account,
    Category,
    Enrollment,
    Gadget,
    Product,
    Restaurant,
    StringKeyItem,
    Tag,
    UUIDItem,
)
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


def _moment(obj: Any) -> datetime.datetime:
    """When the newest log of ``obj`` was written."""
    log = ActivityLog.objects.for_instance(obj).first()
    assert log is not None
    return log.created_at


def test_replays_create_and_updates_with_python_values(track: Track) -> None:
    track(Product, m2m_fields=["tags"])
    category = Category.objects.create(name="c")
    product = Product.objects.create(
        name="a",
        price=decimal.Decimal("10.50"),
        metadata={"specs": {"ram": "32GB"}},
        category=category,
        released_on=datetime.date(2024, 5, 1),
        published_at=datetime.datetime(2024, 5, 1, 10, 30, 15, 123456, tzinfo=datetime.UTC),
    )
    created = _moment(product)
    product.name = "b"
    product.price = decimal.Decimal("9.99")
    product.save()
    renamed = _moment(product)
    tag = Tag.objects.create(name="t")
    product.tags.add(tag)
    tagged = _moment(product)

    first = autoaudit.as_of(Product, product.pk, created)
    assert first is not None
    assert first.values["name"] == "a"
    assert first.values["price"] == decimal.Decimal("10.50")
    assert isinstance(first.values["price"], decimal.Decimal)
    assert first.values["metadata"] == {"specs": {"ram": "32GB"}}
    assert first.values["category"] == category.pk
    assert first.values["released_on"] == datetime.date(2024, 5, 1)
    assert first.values["published_at"] == product.published_at
    assert first.values["published_at"].tzinfo is not None
    assert first.values["tags"] == []
    assert first.values["id"] == product.pk
    assert first.missing == {"created_at", "updated_at"}

    second = autoaudit.as_of(Product, product.pk, renamed)
    assert second is not None
    assert (second.values["name"], second.values["price"]) == ("b", decimal.Decimal("9.99"))
    assert second.values["tags"] == []
    third = autoaudit.as_of(Product, product.pk, tagged)
    assert third is not None
    assert third.values["tags"] == [tag.pk]
    # The queryset form gives the same.
    same = ActivityLog.objects.for_instance(product).as_of(renamed)
    assert same is not None
    assert same.values == second.values
    assert same.missing == second.missing


def test_none_before_the_create_and_after_the_delete(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="a")
    created = _moment(product)
    pk = product.pk
    product.delete()
    deleted = ActivityLog.objects.filter(action="delete").get().created_at
    assert autoaudit.as_of(Product, pk, created - datetime.timedelta(microseconds=1)) is None
    assert autoaudit.as_of(Product, pk, created) is not None
    assert autoaudit.as_of(Product, pk, deleted) is None
    assert autoaudit.as_of(Product, pk + 1000, deleted) is None
    logs = ActivityLog.objects.filter(computed_entity="testapp.Product", entity_pk=str(pk))
    assert logs.as_of(deleted) is None
    assert ActivityLog.objects.none().as_of(deleted) is None


def test_one_query(track: Track, django_assert_num_queries: DjangoAssertNumQueries) -> None:
    track(Product)
    product = Product.objects.create(name="a")
    for n in range(3):
        product.stock = n + 1
        product.save()
    now = timezone.now()
    with django_assert_num_queries(1):
        version = autoaudit.as_of(Product, product.pk, now)
    assert version is not None
    assert version.values["stock"] == 3


def test_instance_is_unsaved_with_the_values(track: Track) -> None:
    track(Product, m2m_fields=["tags"])
    category = Category.objects.create(name="c")
    product = Product.objects.create(name="a", price=decimal.Decimal("2.00"), category=category)
    version = autoaudit.as_of(Product, product.pk, timezone.now())
    assert version is not None
    instance = version.instance()
    assert isinstance(instance, Product)
    assert instance._state.adding
    assert instance.pk == product.pk
    assert instance.category_id == category.pk
    assert instance.price == decimal.Decimal("2.00")
    assert "Product" in repr(version)


def test_masked_excluded_and_untracked_fields_are_missing(track: Track) -> None:
    track(Account, exclude_fields=["phone"], mask_fields={"email": "partial"})
    account = Account.objects.create(
        username="u",
        email="someone@example.com",
        phone="+6281234567890",
        password="pw-123456",
        settings={"theme": "dark", "api_token": "t-1"},
    )
    version = autoaudit.as_of(Account, account.pk, timezone.now())
    assert version is not None
    assert version.values["username"] == "u"
    # masked by default (password, api_key, ...), masked by the model, excluded,
    # and a JSON value with a masked key inside
    assert {
        "password",
        "api_key",
        "secret_token",
        "card_number",
        "email",
        "phone",
        "settings",
    } <= version.missing
    assert "settings" not in version.values


def test_a_history_that_starts_with_an_update(track: Track) -> None:
    product = Product.objects.create(name="a", stock=1)  # before registration
    track(Product, m2m_fields=["tags"])
    product.stock = 2
    product.save()
    version = autoaudit.as_of(Product, product.pk, timezone.now())
    assert version is not None
    assert version.values == {"id": product.pk, "stock": 2}
    assert "name" in version.missing
    assert "tags" in version.missing


def test_cut_values_are_missing(track: Track, settings: Settings) -> None:
    settings.AUTOAUDIT = {"MAX_VALUE_LENGTH": 100, "MAX_ITEMS": 2}
    track(Product)
    product = Product.objects.create(
        name="a" * 150, description="short", metadata={"k": "b" * 150}, sku="x"
    )
    product.metadata = {"k": [1, 2, 3]}
    product.sku = "y"
    product.save()
    version = autoaudit.as_of(Product, product.pk, timezone.now())
    assert version is not None
    assert {"name", "metadata"} <= version.missing
    assert version.values["description"] == "short"
    assert version.values["sku"] == "y"


def test_binary_and_custom_values(track: Track) -> None:
    from tests.testapp.models import OddValue

    track(Gadget)
    gadget = Gadget.objects.create(
        name="g",
        odd=OddValue("x"),
        blob=b"\x00\x01",
        duration=datetime.timedelta(days=1, seconds=5, microseconds=7),
        when=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    )
    version = autoaudit.as_of(Gadget, gadget.pk, timezone.now())
    assert version is not None
    assert {"odd", "blob"} <= version.missing
    assert version.values["duration"] == datetime.timedelta(days=1, seconds=5, microseconds=7)
    assert version.values["when"] == gadget.when


@pytest.mark.parametrize("model", [UUIDItem, StringKeyItem])
def test_uuid_and_char_keys(track: Track, model: type[UUIDItem | StringKeyItem]) -> None:
    track(model)
    obj: UUIDItem | StringKeyItem
    if model is UUIDItem:
        obj = UUIDItem.objects.create(name="a")
    else:
        obj = StringKeyItem.objects.create(code="key/with spaces é", name="a")
    obj.name = "b"
    obj.save()
    version = autoaudit.as_of(model, obj.pk, timezone.now())
    assert version is not None
    assert version.values["name"] == "b"
    assert version.pk == obj.pk
    if model is UUIDItem:
        assert isinstance(version.values["id"], uuid.UUID)
        # the key as text names the same object
        assert autoaudit.as_of(model, str(obj.pk), timezone.now()) is not None


def test_composite_key(track: Track) -> None:
    track(Enrollment)
    enrollment = Enrollment.objects.create(course=1, student="s", grade=3)
    enrollment.grade = 4
    enrollment.save()
    version = autoaudit.as_of(Enrollment, (1, "s"), timezone.now())
    assert version is not None
    assert version.values == {"course": 1, "student": "s", "grade": 4}
    assert version.missing == frozenset()
    same = ActivityLog.objects.for_instance(enrollment).as_of(timezone.now())
    assert same is not None
    assert same.pk == (1, "s")
    assert version.instance().pk == (1, "s")


def test_multi_table_child(track: Track) -> None:
    track(Restaurant)
    restaurant = Restaurant.objects.create(name="r", address="x", serves_pizza=True)
    restaurant.address = "y"
    restaurant.save()
    version = autoaudit.as_of(Restaurant, restaurant.pk, timezone.now())
    assert version is not None
    assert version.values == {
        "name": "r",
        "address": "y",
        "place_ptr": restaurant.pk,
        "serves_pizza": True,
    }


def test_unregistered_model_replays_what_its_logs_hold(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="a")
    registry.unregister(Product)
    version = autoaudit.as_of(Product, product.pk, timezone.now())
    assert version is not None
    assert version.values["name"] == "a"


def test_other_actions_are_ignored_and_naive_times_are_local(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="a")
    ActivityLog.create_for_instance(product, "view")
    naive = timezone.make_naive(timezone.now())
    version = autoaudit.as_of(Product, product.pk, naive)
    assert version is not None
    assert version.when.tzinfo is not None
    with pytest.raises(TypeError, match="datetime"):
        autoaudit.as_of(Product, product.pk, datetime.date.today())  # type: ignore[arg-type]


def test_queryset_form_needs_one_object(track: Track) -> None:
    track(Product)
    Product.objects.create(name="a")
    Product.objects.create(name="b")
    with pytest.raises(ValueError, match="one object"):
        ActivityLog.objects.all().as_of(timezone.now())
