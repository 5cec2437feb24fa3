"""``register(..., accessor="activity")``: an object's logs from the object (issue 18)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from pytest_django import Settings

import autoaudit
from autoaudit.models import ActivityLog
from tests.testapp.models import Category, Product, ProductProxy, UUIDItem
from tests.typing_support import Track


@pytest.mark.django_db
def test_the_accessor_gives_the_instance_its_logs_newest_first(track: Track) -> None:
    track(Product, accessor="activity")
    product = Product.objects.create(name="Laptop", price=10, stock=1)
    product.stock = 2
    product.save()
    other = Product.objects.create(name="Mouse", price=1, stock=1)
    logs = list(product.activity.all())  # type: ignore[attr-defined]
    assert [log.action for log in logs] == ["update", "create"]
    assert logs == list(ActivityLog.objects.for_instance(product))
    assert product.activity.count() == 2  # type: ignore[attr-defined]
    assert other.activity.get().action == "create"  # type: ignore[attr-defined]
    assert product.activity.filter(action="create").get().new_values["name"] == "Laptop"  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_on_the_class_the_accessor_gives_every_log_of_the_model(track: Track) -> None:
    track(Product, accessor="activity")
    Product.objects.create(name="a", price=1, stock=1)
    Product.objects.create(name="b", price=1, stock=1)
    logs = Product.activity  # type: ignore[attr-defined]
    assert logs.count() == 2
    assert set(logs) == set(ActivityLog.objects.for_model(Product))


@pytest.mark.django_db
def test_a_proxy_instance_sees_the_concrete_models_logs(track: Track) -> None:
    track(Product, accessor="activity")
    proxy = ProductProxy.objects.create(name="p", price=1, stock=1)
    assert proxy.activity.get().computed_entity == "testapp.Product"  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_the_accessor_works_for_uuid_keys(track: Track) -> None:
    track(UUIDItem, accessor="history")
    item = UUIDItem.objects.create(name="u")
    assert item.history.get().entity_pk == str(item.pk)  # type: ignore[attr-defined]


def test_the_accessor_is_read_only(track: Track) -> None:
    track(Product, accessor="activity")
    with pytest.raises(AttributeError, match="read-only accessor"):
        Product().activity = []  # type: ignore[attr-defined]


def test_unregister_removes_the_accessor() -> None:
    autoaudit.register(Product, accessor="activity")
    assert "activity" in vars(Product)
    autoaudit.unregister(Product)
    assert "activity" not in vars(Product)
    assert not hasattr(Product(), "activity")


def test_no_accessor_by_default(track: Track) -> None:
    track(Product)
    assert not hasattr(Product, "activity")


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("name", "DeferredAttribute"),  # a field
        ("save", "function"),  # a method
        ("objects", "ManagerDescriptor"),
        ("pk", "property"),
        ("product_set", "ReverseManyToOneDescriptor"),  # Category's reverse relation
    ],
)
def test_a_name_the_model_already_has_is_refused(name: str, what: str) -> None:
    model = Category if name == "product_set" else Product
    label = model._meta.label
    with pytest.raises(
        ImproperlyConfigured,
        match=rf"register\({label}\): accessor '{name}' clashes with {label}\.{name} "
        rf"\(a {what}\)",
    ):
        autoaudit.register(model, accessor=name)
    assert not autoaudit.is_registered(model)
    assert not isinstance(vars(model).get(name), autoaudit.ActivityAccessor)


@pytest.mark.parametrize("bad", ["", "two words", "class", 42, "__dict__"])
def test_a_name_that_is_not_an_identifier_is_refused(bad: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"register\(testapp\.Product\): accessor"):
        autoaudit.register(Product, accessor=bad)
    assert not autoaudit.is_registered(Product)


def test_the_accessor_from_settings(settings: Settings) -> None:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    settings.AUTOAUDIT = {"MODELS": {"auth.User": {"accessor": "activity"}}}
    try:
        assert isinstance(vars(user_model)["activity"], autoaudit.ActivityAccessor)
        with pytest.raises(ImproperlyConfigured, match=r"clashes with auth\.User\.activity_logs"):
            settings.AUTOAUDIT = {"MODELS": {"auth.User": {"accessor": "activity_logs"}}}
    finally:
        settings.AUTOAUDIT = {}
    assert "activity" not in vars(user_model)


def test_changing_the_name_moves_the_accessor(settings: Settings) -> None:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    settings.AUTOAUDIT = {"MODELS": {"auth.User": {"accessor": "activity"}}}
    try:
        settings.AUTOAUDIT = {"MODELS": {"auth.User": {"accessor": "audit_trail"}}}
        assert "activity" not in vars(user_model)
        assert isinstance(vars(user_model)["audit_trail"], autoaudit.ActivityAccessor)
    finally:
        settings.AUTOAUDIT = {}
    assert "audit_trail" not in vars(user_model)


if TYPE_CHECKING:  # what a project declares for type checkers (mypy runs over the tests)

    class _Typed(models.Model):
        activity: ClassVar[autoaudit.ActivityAccessor]

    def _typed_use(obj: _Typed) -> models.QuerySet[Any]:
        return obj.activity.all()

    def _typed_class_use() -> models.QuerySet[Any]:
        return _Typed.activity.all()
