"""``AUTOAUDIT["MODELS"] = "__all__"`` with ``EXCLUDE_MODELS`` (issue 18)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils import timezone
from pytest_django import Settings

import autoaudit
from autoaudit.conf import parse_settings
from autoaudit.models import ActivityLog
from autoaudit.tracking.registry import registry
from tests.testapp.models import Category, DecoratedNote, Product, ProductProxy, Tag

User = get_user_model()


@pytest.fixture
def all_models(settings: Settings) -> Iterator[Settings]:
    yield settings
    settings.AUTOAUDIT = {}


def _testapp_models() -> set[type[models.Model]]:
    return {m for m in apps.get_app_config("testapp").get_models() if not m._meta.proxy}


def test_all_registers_every_concrete_model_but_djangos_bookkeeping(
    all_models: Settings,
) -> None:
    all_models.AUTOAUDIT = {"MODELS": "__all__"}
    registered = set(registry.registered())
    assert _testapp_models() <= registered
    assert {User, Group} <= registered
    for bookkeeping in (Session, ContentType, LogEntry, Permission, ActivityLog):
        assert not autoaudit.is_registered(bookkeeping), bookkeeping
    assert not autoaudit.is_registered(ProductProxy)  # tracked as Product
    assert registry.tracker_for(ProductProxy) is registry.tracker_for(Product)
    all_models.AUTOAUDIT = {}
    assert set(registry.registered()) == {DecoratedNote}  # registered in code


@pytest.mark.django_db
def test_all_logs_changes_of_any_model(all_models: Settings) -> None:
    all_models.AUTOAUDIT = {"MODELS": "__all__"}
    tag = Tag.objects.create(name="new")
    Session.objects.create(session_key="k" * 32, session_data="x", expire_date=timezone.now())
    assert ActivityLog.objects.for_instance(tag).get().action == "create"
    assert not ActivityLog.objects.for_model(Session).exists()


def test_a_model_registered_in_code_keeps_its_options(all_models: Settings) -> None:
    all_models.AUTOAUDIT = {"MODELS": "__all__"}
    tracker = registry.tracker_for(DecoratedNote)
    assert tracker is not None
    assert [f.name for f in tracker.fields] == ["title"]  # its include_fields


def test_an_explicit_register_after_all_takes_the_model_over(all_models: Settings) -> None:
    all_models.AUTOAUDIT = {"MODELS": "__all__"}
    assert autoaudit.is_registered(Product)
    autoaudit.register(Product, include_fields=["name"])  # no "already registered"
    try:
        tracker = registry.tracker_for(Product)
        assert tracker is not None
        assert [f.name for f in tracker.fields] == ["name"]
        all_models.AUTOAUDIT = {"MODELS": "__all__", "EXCLUDE_MODELS": ["testapp"]}
        assert registry.tracker_for(Product) is tracker  # still the code's
    finally:
        autoaudit.unregister(Product)


def test_exclude_models_takes_out_apps_and_models(all_models: Settings) -> None:
    all_models.AUTOAUDIT = {"MODELS": "__all__", "EXCLUDE_MODELS": ["testapp", "auth.Group"]}
    registered = set(registry.registered())
    assert not (_testapp_models() - {DecoratedNote}) & registered
    assert User in registered
    assert Group not in registered


def test_the_dict_form_gives_named_models_their_own_options(all_models: Settings) -> None:
    all_models.AUTOAUDIT = {
        "MODELS": {
            "__all__": {"bulk": False},
            "testapp.Product": {"include_fields": ["name"]},
            "auth.Permission": {},  # named: registered although excluded by default
        },
        "EXCLUDE_MODELS": ["testapp.Tag"],
    }
    product, category = registry.tracker_for(Product), registry.tracker_for(Category)
    assert product is not None and category is not None
    assert [f.name for f in product.fields] == ["name"]
    assert product.options.bulk is True  # its own options, not "__all__"'s
    assert category.options.bulk is False
    assert autoaudit.is_registered(Permission)
    assert not autoaudit.is_registered(Tag)
    # From "__all__" to named and back: the options follow.
    all_models.AUTOAUDIT = {"MODELS": "__all__"}
    product = registry.tracker_for(Product)
    assert product is not None and "price" in [f.name for f in product.fields]
    assert not autoaudit.is_registered(Permission)


@pytest.mark.parametrize(
    ("exclude", "message"),
    [
        (["testapp.Nope"], r"EXCLUDE_MODELS'\] names 'testapp.Nope', which is not an installed"),
        (["testap"], r"'testap', which is not the label of an installed app \(did you mean"),
        (["testapp.Prodcut"], r"\(did you mean 'testapp.Product'\?\)"),
    ],
)
def test_bad_exclude_labels_are_named(
    all_models: Settings, exclude: list[str], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        all_models.AUTOAUDIT = {"MODELS": "__all__", "EXCLUDE_MODELS": exclude}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"EXCLUDE_MODELS": "testapp"}, r"EXCLUDE_MODELS'\] must be a list"),
        ({"MODELS": "__all__", "EXCLUDE_MODELS": ["a.b.C"]}, r"has 'a.b.C', which is not"),
        ({"MODELS": "__all__", "EXCLUDE_MODELS": [3]}, r"has 3, which is not"),
        ({"EXCLUDE_MODELS": ["testapp"]}, r"only applies with MODELS '__all__'"),
        ({"MODELS": "all"}, r"MODELS'\] must be a dict"),
    ],
)
def test_bad_values_fail_at_parse_time(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        parse_settings(raw)


def test_a_model_both_named_and_excluded_fails(all_models: Settings) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"'testapp.Tag' both in MODELS and in"):
        all_models.AUTOAUDIT = {
            "MODELS": {"__all__": {}, "testapp.Tag": {}},
            "EXCLUDE_MODELS": ["testapp.Tag"],
        }


def test_options_of_all_that_fail_name_the_model(all_models: Settings) -> None:
    with pytest.raises(
        ImproperlyConfigured, match=r"AUTOAUDIT\['MODELS'\]\['__all__'\] \(\w+\.\w+\): .*accessor"
    ):
        all_models.AUTOAUDIT = {"MODELS": {"__all__": {"accessor": "save"}}}


def test_an_unknown_model_label_suggests_the_close_one(all_models: Settings) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"\(did you mean 'testapp.Product'\?\)"):
        all_models.AUTOAUDIT = {"MODELS": {"testapp.Produc": {}}}
