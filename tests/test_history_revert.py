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


def test_a_revert_that_would_not_be_logged_is_refused(track: Track) -> None:
    track(Product, actions=["create", "update"])
    product = Product.objects.create(name="a")
    with pytest.raises(autoaudit.RevertError, match="without 'delete'"):
        ActivityLog.objects.get(action="create").revert()
    assert Product.objects.filter(pk=product.pk).exists()


def test_restore_and_history_are_the_functions() -> None:
    import autoaudit.lifecycle.restore
    import autoaudit.management.commands.autoaudit_restore
    import autoaudit.versions.asof

    assert callable(autoaudit.restore)
    assert autoaudit.restore.__module__ == "autoaudit"
    # The package of the history tools is not named "history": the function is.
    assert callable(autoaudit.history)
    assert autoaudit.history.__module__ == "autoaudit"


def test_an_m2m_conflict_and_a_gone_object(track: Track) -> None:
    track(Product, m2m_fields=["tags"])
    product = Product.objects.create(name="a")
    red, blue = Tag.objects.create(name="red"), Tag.objects.create(name="blue")
    product.tags.add(red)
    added = _last(product)
    product.tags.add(blue)
    with pytest.raises(autoaudit.RevertConflict, match="tags") as raised:
        added.revert()
    assert raised.value.fields == ("tags",)
    added.revert(force=True)
    assert list(product.tags.all()) == []
    product.name = "b"
    product.save()
    renamed = _last(product)
    product.delete()
    with pytest.raises(autoaudit.RevertError, match="no longer exists"):
        renamed.revert()


def test_a_restore_the_database_refuses_changes_nothing(track: Track) -> None:
    track(Product)
    category = Category.objects.create(name="c")
    product = Product.objects.create(name="a", category=category)
    pk = product.pk
    product.delete()
    Category.objects.filter(pk=category.pk).delete()
    with pytest.raises(autoaudit.RevertError, match="no longer exist") as raised:
        autoaudit.restore(Product, pk)
    assert raised.value.fields == ("category",)
    assert not Product.objects.filter(pk=pk).exists()
    assert not ActivityLog.objects.filter(action="create", extra_data__reverts__isnull=False)


def test_a_to_field_key_and_other_field_types(track: Track) -> None:
    import datetime
    import uuid

    from tests.testapp.models import Code, Specimen

    track(Specimen)
    first, second = Code.objects.create(code="c-1"), Code.objects.create(code="c-2")
    specimen = Specimen.objects.create(
        label="s",
        ref=uuid.uuid4(),
        weight=1.25,
        taken_at=datetime.time(10, 5, 1, 7),
        span=datetime.timedelta(hours=3),
        code=first,
    )
    before = timezone.now()
    specimen.code = second
    specimen.weight = 2.5
    specimen.taken_at = None
    specimen.save()
    version = autoaudit.as_of(Specimen, specimen.pk, before)
    assert version is not None
    assert version.values["code"] == "c-1"
    assert version.values["taken_at"] == datetime.time(10, 5, 1, 7)
    _last(specimen).revert()
    specimen.refresh_from_db()
    assert (specimen.code_id, specimen.weight) == ("c-1", 1.25)
    assert specimen.taken_at == datetime.time(10, 5, 1, 7)
    assert version.instance().code_id == "c-1"  # type: ignore[attr-defined]


def test_preview_says_what_a_revert_would_do(
    track: Track, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    track(Product, m2m_fields=["tags"])
    product = Product.objects.create(name="a", stock=1)
    created = _last(product)
    product.name, product.stock = "b", 2
    product.save()
    updated = _last(product)
    with django_assert_num_queries(1):
        plan = updated.revert_preview()
    assert (plan.action, plan.model, plan.pk) == ("update", Product, product.pk)
    assert plan.changes == (("name", "b", "a"), ("stock", 2, 1))
    assert plan.conflicts == ()
    product.stock = 3
    product.save()
    assert updated.revert_preview().conflicts == ("stock",)
    deleting = created.revert_preview()
    assert deleting.action == "delete"
    assert ("name", "b", None) in deleting.changes
    assert deleting.conflicts == ("name", "stock")
    # Nothing changed by a preview.
    product.refresh_from_db()
    assert (product.name, product.stock) == ("b", 3)
    pk = product.pk
    product.delete()
    restoring = ActivityLog.objects.get(action="delete").revert_preview()
    assert restoring.action == "create"
    assert ("name", None, "b") in restoring.changes
    with pytest.raises(autoaudit.RevertError, match="no longer exists"):
        updated.revert_preview()
    assert not Product.objects.filter(pk=pk).exists()


def test_a_cut_key_names_no_row(track: Track) -> None:
    track(StringKeyItem)
    # What entity_pk holds for a key longer than it keeps.
    log = ActivityLog(
        action="update",
        computed_entity="testapp.StringKeyItem",
        entity_pk="k" * 200 + "…[truncated 4 chars]",
    )
    with pytest.raises(autoaudit.RevertError, match="primary key"):
        log.revert()
