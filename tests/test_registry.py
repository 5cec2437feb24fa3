from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from pytest_django import Settings

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.tracking.options import ModelOptions
from autoaudit.tracking.registry import registry
from tests.testapp.models import (
    Account,
    DecoratedNote,
    Product,
    ProductProxy,
    Restaurant,
    Untracked,
)
from tests.typing_support import Track


def test_decorator_registers_while_models_load() -> None:
    assert autoaudit.is_registered(DecoratedNote)
    tracker = registry.tracker_for(DecoratedNote)
    assert tracker is not None
    assert [f.name for f in tracker.fields] == ["title"]


def test_register_returns_the_model_and_unregister_undoes_it() -> None:
    assert autoaudit.register(Product) is Product
    try:
        assert autoaudit.is_registered(Product)
        assert Product in registry.registered()
    finally:
        autoaudit.unregister(Product)
    assert not autoaudit.is_registered(Product)
    assert registry.tracker_for(Product) is None


def test_decorator_form_with_options(track: Track) -> None:
    decorator = autoaudit.register(exclude_fields=["internal_note"])
    assert decorator(Product) is Product
    try:
        tracker = registry.tracker_for(Product)
        assert tracker is not None
        assert "internal_note" not in {f.name for f in tracker.fields}
    finally:
        autoaudit.unregister(Product)


def test_default_fields_skip_pk_and_auto_now(track: Track) -> None:
    track(Product)
    tracker = registry.tracker_for(Product)
    assert tracker is not None
    names = [f.name for f in tracker.fields]
    assert "id" not in names
    assert "created_at" not in names and "updated_at" not in names
    # model field order
    assert names[:4] == ["name", "sku", "price", "stock"]
    assert "category" in names


def test_include_fields_limits_tracking(track: Track) -> None:
    track(Product, include_fields=["name", "price", "updated_at"])
    tracker = registry.tracker_for(Product)
    assert tracker is not None
    # An auto_now field named explicitly is tracked.
    assert [f.name for f in tracker.fields] == ["name", "price", "updated_at"]


def test_options_are_a_frozen_dataclass(track: Track) -> None:
    track(Product, mask_fields=["internal_note"], actions=["create"])
    tracker = registry.tracker_for(Product)
    assert tracker is not None
    assert isinstance(tracker.options, ModelOptions)
    assert tracker.options.mask_fields == {"internal_note": "redact"}
    assert tracker.actions == frozenset({"create"})
    with pytest.raises(AttributeError):
        tracker.options.bulk = False  # type: ignore[misc]  # frozen: must fail


def test_registering_twice_fails_naming_the_model(track: Track) -> None:
    track(Product)
    with pytest.raises(ImproperlyConfigured, match=r"testapp\.Product is already registered"):
        autoaudit.register(Product)


@pytest.mark.parametrize("option", ["include_fields", "exclude_fields", "mask_fields"])
def test_unknown_field_names_the_model_and_field(option: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"testapp\.Product.*'nope'"):
        autoaudit.register(Product, **{option: ["nope"]})
    assert not autoaudit.is_registered(Product)


def test_unknown_m2m_and_guest_fields() -> None:
    with pytest.raises(ImproperlyConfigured, match="not a ManyToManyField"):
        autoaudit.register(Product, m2m_fields=["name"])
    with pytest.raises(ImproperlyConfigured, match="'nope'"):
        autoaudit.register(Product, guest_fields={"email": "nope"})
    with pytest.raises(ImproperlyConfigured, match="'fax'"):
        autoaudit.register(Product, guest_fields={"fax": "name"})
    assert not autoaudit.is_registered(Product)


def test_unknown_mask_strategy() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"testapp\.Product.*'name'.*'scramble'"):
        autoaudit.register(Product, mask_fields={"name": "scramble"})


def test_abstract_model_is_refused() -> None:
    class AbstractThing(models.Model):
        class Meta:
            abstract = True
            app_label = "testapp"

    with pytest.raises(ImproperlyConfigured, match="is abstract"):
        autoaudit.register(AbstractThing)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"actions": ["create", "explode"]}, "actions"),
        ({"actions": "create"}, "actions"),
        ({"bulk": "yes"}, "bulk"),
        ({"entity": ""}, "entity"),
        ({"entity": "x" * 51}, "entity"),
        ({"entity_name": "name"}, "entity_name"),
        ({"description": 3}, "description"),
        ({"exclude_fields": "name"}, "exclude_fields"),
        ({"guest_fields": ["email"]}, "guest_fields"),
        ({"mask_fields": "password"}, "mask_fields"),
    ],
)
def test_bad_option_values(options: dict[str, object], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        autoaudit.register(Product, **options)
    assert not autoaudit.is_registered(Product)


def test_unregister_unknown_model_fails() -> None:
    with pytest.raises(ImproperlyConfigured, match="not registered"):
        autoaudit.unregister(Untracked)


@pytest.mark.django_db
def test_models_setting_registers_third_party_models(settings: Settings) -> None:
    user_model = get_user_model()
    settings.AUTOAUDIT = {"MODELS": {"auth.User": {"exclude_fields": ["last_login"]}}}
    try:
        assert autoaudit.is_registered(user_model)
        tracker = registry.tracker_for(user_model)
        assert tracker is not None
        assert "last_login" not in {f.name for f in tracker.fields}
        # password is masked out of the box
        assert tracker.masks["password"] == "redact"
        user = user_model.objects.create_user("ann", "ann@example.com", "pw-123456")
        log = ActivityLog.objects.for_instance(user).get()
        assert log.action == "create"
        assert log.computed_entity == "auth.User"
        assert log.new_values["password"] == "********"
    finally:
        settings.AUTOAUDIT = {}
    assert not autoaudit.is_registered(user_model)


def test_models_setting_with_unknown_model_fails(settings: Settings) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"'nope\.Thing'"):
        settings.AUTOAUDIT = {"MODELS": {"nope.Thing": {}}}
    settings.AUTOAUDIT = {}


def test_proxy_and_child_are_routed(track: Track) -> None:
    track(Product)
    # An unregistered proxy of a tracked model is tracked under the concrete one.
    assert registry.tracker_for(ProductProxy) is registry.tracker_for(Product)
    assert not autoaudit.is_registered(ProductProxy)
    # A multi-table child is logged under its own name only when registered
    # itself; unregistered, its writes are logged as its tracked parent's
    # rows (tests/test_inheritance.py).
    assert registry.tracker_for(Restaurant) is None
    assert registry.route(Restaurant) is None  # Place is not tracked either


def test_patches_follow_the_registry(track: Track) -> None:
    from django.db import models
    from django.db.models.deletion import Collector
    from django.db.models.query import QuerySet

    from autoaudit.tracking import patches

    track(Account)
    assert models.Model.save_base is patches.save_base
    assert QuerySet.update is patches.update
    assert Collector.delete is patches.collector_delete
    assert "save_base" not in Account.__dict__  # nothing per model class
    patches.sync({})  # what the registry says when nothing is tracked
    try:
        assert "save_base" not in vars(patches)["_originals"]
        assert models.Model.save_base is not patches.save_base
        assert QuerySet.update is not patches.update
        assert Collector.delete is not patches.collector_delete
    finally:
        patches.sync(registry.routes())
    assert models.Model.save_base is patches.save_base


@pytest.mark.django_db
def test_history_of_an_unregistered_proxy_object_finds_the_concrete_logs(track: Track) -> None:
    track(Product)
    proxy = ProductProxy.objects.create(name="x")
    assert ActivityLog.objects.for_instance(proxy).count() == 1
    assert autoaudit.history(proxy).get().computed_entity == "testapp.Product"
    assert ActivityLog.objects.for_model(ProductProxy).count() == 1
    assert ActivityLog.objects.for_instance(Product(name="unsaved")).count() == 0


def test_bad_options_from_settings_name_the_settings_key(settings: Settings) -> None:
    with pytest.raises(
        ImproperlyConfigured, match=r"AUTOAUDIT\['MODELS'\]\['auth.User'\].*actions"
    ):
        settings.AUTOAUDIT = {"MODELS": {"auth.User": {"actions": ["explode"]}}}
    settings.AUTOAUDIT = {}
