"""``log.revert()`` and ``autoaudit.restore()``: undoing one logged change."""

from __future__ import annotations

import decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.tracking.registry import registry
from tests.testapp.models import (
    Account,
    Category,
    Enrollment,
    Product,
    Restaurant,
    StringKeyItem,
    Tag,
    UUIDItem,
)
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


def _last(obj: models.Model) -> ActivityLog:
    log = ActivityLog.objects.for_instance(obj).first()
    assert log is not None
    return log


def test_revert_an_update_sets_the_changed_fields_back(track: Track, alice: User) -> None:
    track(Product)
    category = Category.objects.create(name="c")
    product = Product.objects.create(name="a", price=decimal.Decimal("10.00"), stock=5)
    product.name, product.price, product.category = "b", decimal.Decimal("9.50"), category
    product.save()
    log = _last(product)
    with autoaudit.actor(user=alice):
        undo = log.revert()
    product.refresh_from_db()
    assert (product.name, product.price, product.category_id) == ("a", decimal.Decimal("10"), None)
    assert product.stock == 5
    assert undo is not None
    assert undo.action == "update"
    assert undo.extra_data == {"reverts": log.pk}
    assert undo.user == alice
    assert undo.old_values == {"name": "b", "price": "9.50", "category": category.pk}
    assert undo.new_values == {"name": "a", "price": "10.00", "category": None}
    # Reverting the revert gives the change back.
    again = undo.revert()
    product.refresh_from_db()
    assert (product.name, product.price) == ("b", decimal.Decimal("9.5"))
    assert product.category_id == category.pk
    assert again is not None
    assert again.extra_data == {"reverts": undo.pk}


def test_conflict_names_the_fields_changed_since(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="a", stock=1)
    product.name, product.stock = "b", 2
    product.save()
    log = _last(product)
    product.stock = 3
    product.save()
    with pytest.raises(autoaudit.RevertConflict, match="stock") as raised:
        log.revert()
    assert raised.value.fields == ("stock",)
    assert isinstance(raised.value, autoaudit.RevertError)
    product.refresh_from_db()
    assert (product.name, product.stock) == ("b", 3)
    log.revert(force=True)
    product.refresh_from_db()
    assert (product.name, product.stock) == ("a", 1)
    with pytest.raises(autoaudit.RevertError, match="nothing to revert"):
        log.revert(force=True)


def test_revert_a_bulk_update_and_an_m2m_change(track: Track) -> None:
    track(Product, m2m_fields=["tags"])
    product = Product.objects.create(name="a", stock=1)
    Product.objects.filter(pk=product.pk).update(stock=7)
    bulk = _last(product)
    bulk.revert()
    product.refresh_from_db()
    assert product.stock == 1
    red, blue = Tag.objects.create(name="red"), Tag.objects.create(name="blue")
    product.tags.add(red)
    product.tags.add(blue)
    added = _last(product)
    assert added.new_values == {"tags": sorted([red.pk, blue.pk])}
    undo = added.revert()
    assert list(product.tags.values_list("pk", flat=True)) == [red.pk]
    assert undo is not None
    assert undo.new_values == {"tags": [red.pk]}
    assert undo.extra_data == {"reverts": added.pk}


def test_revert_a_create_deletes_the_object(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="a")
    created = _last(product)
    product.name = "b"
    product.save()
    with pytest.raises(autoaudit.RevertConflict, match="name"):
        created.revert()
    undo = created.revert(force=True)
    assert not Product.objects.filter(pk=product.pk).exists()
    assert undo is not None
    assert undo.action == "delete"
    assert undo.extra_data == {"reverts": created.pk}
    with pytest.raises(autoaudit.RevertError, match="no longer exists"):
        created.revert(force=True)
    # Reverting that delete brings it back as it was deleted.
    restored = undo.revert()
    product = Product.objects.get(pk=product.pk)
    assert product.name == "b"
    assert restored is not None
    assert restored.action == "create"


def test_restore_recreates_the_same_pk_with_its_links(
    track: Track, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    track(Product, m2m_fields=["tags"])
    category = Category.objects.create(name="c")
    red, blue, gone = (Tag.objects.create(name=n) for n in ("red", "blue", "gone"))
    product = Product.objects.create(
        name="a",
        price=decimal.Decimal("3.25"),
        category=category,
        metadata={"a": [1, 2]},
        released_on=timezone.now().date(),
    )
    product.tags.set([red, blue, gone])
    pk = product.pk
    product.delete()
    gone.delete()  # a link to an object that is gone is not restored
    log = autoaudit.restore(Product, pk)
    restored = Product.objects.get(pk=pk)
    assert restored.name == "a"
    assert restored.price == decimal.Decimal("3.25")
    assert restored.category_id == category.pk
    assert restored.metadata == {"a": [1, 2]}
    assert sorted(restored.tags.values_list("pk", flat=True)) == sorted([red.pk, blue.pk])
    assert log is not None
    assert log.action == "create"
    delete_log = ActivityLog.objects.filter(action="delete", entity_pk=str(pk)).get()
    assert log.extra_data == {"reverts": delete_log.pk}
    with pytest.raises(autoaudit.RevertError, match="exists again"):
        autoaudit.restore(Product, pk)
    with pytest.raises(autoaudit.RevertError, match="No delete"):
        autoaudit.restore(Product, pk + 100)


@pytest.mark.parametrize("model", [UUIDItem, StringKeyItem, Enrollment, Restaurant])
def test_restore_keys_of_every_shape(
    track: Track, model: type[UUIDItem | StringKeyItem | Enrollment | Restaurant]
) -> None:
    track(model)
    obj: UUIDItem | StringKeyItem | Enrollment | Restaurant
    if model is UUIDItem:
        obj = UUIDItem.objects.create(name="a")
    elif model is StringKeyItem:
        obj = StringKeyItem.objects.create(code="k é/1", name="a")
    elif model is Enrollment:
        obj = Enrollment.objects.create(course=1, student="s", grade=2)
    else:
        obj = Restaurant.objects.create(name="r", address="x", serves_pizza=True)
    pk: Any = obj.pk
    obj.delete()
    autoaudit.restore(model, pk)
    again = model._default_manager.get(pk=pk)
    if isinstance(again, Enrollment):
        assert again.grade == 2
    elif isinstance(again, Restaurant):
        assert (again.name, again.address, again.serves_pizza) == ("r", "x", True)
    else:
        assert again.name == "a"


def test_masked_and_excluded_fields_cannot_be_set_back(track: Track) -> None:
    track(Account, exclude_fields=["phone"])
    account = Account.objects.create(username="u", password="pw-1", phone="123")
    account.password = "pw-2"
    account.username = "v"
    account.save()
    with pytest.raises(autoaudit.RevertError, match="password") as raised:
        _last(account).revert()
    assert raised.value.fields == ("password",)
    pk = account.pk
    account.delete()
    with pytest.raises(autoaudit.RevertError, match="not tracked") as raised:
        autoaudit.restore(Account, pk)
    assert "phone" in raised.value.fields


def test_clear_errors_for_what_cannot_be_reverted(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="a")
    view = ActivityLog.create_for_instance(product, "view")
    with pytest.raises(autoaudit.RevertError, match="'view'"):
        view.revert()
    manual = autoaudit.log_activity(None, "update", "report", old_values={"a": 1})
    with pytest.raises(autoaudit.RevertError, match="not an installed model"):
        manual.revert()
    created = ActivityLog.objects.get(action="create")
    registry.unregister(Product)
    try:
        with pytest.raises(autoaudit.RevertError, match="not registered"):
            created.revert()
    finally:
        registry.register(Product)
    with autoaudit.disabled(), pytest.raises(autoaudit.RevertError, match="disabled"):
        created.revert()


def test_restore_is_the_function() -> None:
    import autoaudit.lifecycle.restore
    import autoaudit.management.commands.autoaudit_restore

    assert callable(autoaudit.restore)
    assert autoaudit.restore.__module__ == "autoaudit"
