"""What a tracked create, update and delete records."""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path

import pytest
from django.core import serializers
from django.core.management import call_command
from model_bakery import baker
from pytest_django import DjangoAssertNumQueries, Settings

import autoaudit
from autoaudit.models import ActivityLog
from tests.budget import old_values_reads, save_log_statements
from tests.testapp.models import (
    Category,
    Place,
    Product,
    ProductProxy,
    Restaurant,
    Tag,
    Untracked,
)
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


def logs() -> list[ActivityLog]:
    return list(ActivityLog.objects.order_by("id"))


def test_create_records_tracked_fields(track: Track) -> None:
    track(Product)
    category = Category.objects.create(name="Laptops")
    product = Product.objects.create(
        name="Laptop ASUS ROG",
        price=decimal.Decimal("15000000"),
        stock=10,
        category=category,
        metadata={"specs": {"ram": 16}},
        released_on=datetime.date(2024, 3, 15),
    )
    (log,) = logs()
    assert log.action == "create"
    assert log.entity == "product"
    assert log.computed_entity == "testapp.Product"
    assert log.entity_id == product.pk
    assert log.entity_pk == str(product.pk)
    assert log.entity_name == "Laptop ASUS ROG"
    assert log.old_values is None and log.changed_fields is None
    assert log.new_values["name"] == "Laptop ASUS ROG"
    assert log.new_values["price"] == "15000000.00"
    assert log.new_values["stock"] == 10
    assert log.new_values["category"] == category.pk
    assert log.new_values["metadata"] == {"specs": {"ram": 16}}
    assert log.new_values["released_on"] == "2024-03-15"
    assert "id" not in log.new_values and "updated_at" not in log.new_values
    assert log.actor_type == "system"
    assert log.description == 'Created product "Laptop ASUS ROG"'


def test_update_records_only_changed_fields_in_model_order(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="Laptop", price=15000000, stock=10)
    product.stock = 8
    product.price = "14500000"  # a form gives strings
    product.save()
    log = logs()[-1]
    assert log.action == "update"
    assert log.changed_fields == ["price", "stock"]
    assert log.old_values == {"price": "15000000.00", "stock": 10}
    assert log.new_values == {"price": "14500000.00", "stock": 8}
    assert log.description == (
        'Updated product "Laptop": price 15000000.00 → 14500000.00, stock 10 → 8'
    )


def test_nested_json_change_is_found(track: Track) -> None:
    track(Product)
    product = Product.objects.create(
        name="P", metadata={"specs": {"ram": 8, "cpu": "i7"}, "tags": ["a"]}
    )
    product.metadata = {"specs": {"ram": 16, "cpu": "i7"}, "tags": ["a"]}
    product.save()
    log = logs()[-1]
    assert log.changed_fields == ["metadata"]
    assert log.changed_paths == ["metadata.specs.ram"]


def test_json_key_order_is_not_a_change_but_bool_vs_int_is(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="P", metadata={"a": 1, "b": 2})
    product.metadata = {"b": 2, "a": 1}
    product.save()
    assert len(logs()) == 1
    product.metadata = {"b": 2, "a": True}
    product.save()
    assert logs()[-1].changed_paths == ["metadata.a"]


def test_noop_save_logs_nothing(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="P", price="1.5")
    product.price = decimal.Decimal("1.50")
    product.save()
    product.save()
    assert len(logs()) == 1


def test_update_fields_limits_the_comparison(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="P", stock=1)
    product.name = "Q"
    product.stock = 2
    product.save(update_fields=["stock"])
    log = logs()[-1]
    assert log.changed_fields == ["stock"]
    product.refresh_from_db()
    assert product.name == "P"


def test_deferred_fields_are_not_fetched_or_reported(
    track: Track, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    track(Product)
    Product.objects.create(name="P", stock=1, description="long text")
    product = Product.objects.only("name").get()
    product.name = "Q"
    # The model's own UPDATE, one read of old values (none on PostgreSQL:
    # the loaded ones guard it), one log insert (with the UPDATE on
    # PostgreSQL): no per-field fetch of the deferred columns.
    with django_assert_num_queries(1 + old_values_reads() + save_log_statements()):
        product.save()
    log = logs()[-1]
    assert log.changed_fields == ["name"]
    assert "description" not in log.old_values


def test_delete_records_old_values(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="Gone", stock=3)
    pk = product.pk
    product.delete()
    log = logs()[-1]
    assert log.action == "delete"
    assert log.entity_id == pk
    assert log.old_values["name"] == "Gone"
    assert log.old_values["stock"] == 3
    assert log.new_values is None and log.changed_fields is None
    assert log.description == 'Deleted product "Gone"'


def test_queryset_delete_and_cascade_log_each_object(track: Track) -> None:
    track(Product)
    track(Category)
    category = Category.objects.create(name="C")
    for i in range(3):
        Product.objects.create(name=f"P{i}", category=category)
    Product.objects.create(name="other")
    ActivityLog.objects.all().delete()
    Category.objects.filter(pk=category.pk).delete()
    deleted = ActivityLog.objects.filter(action="delete")
    assert sorted(deleted.values_list("entity", flat=True)) == [
        "category",
        "product",
        "product",
        "product",
    ]
    Product.objects.all().delete()
    assert ActivityLog.objects.filter(action="delete", entity_name="other").count() == 1


def test_unregistered_models_are_not_logged() -> None:
    Untracked.objects.create(name="x")
    baker.make(Untracked, _quantity=3)
    Untracked.objects.all().delete()
    assert ActivityLog.objects.count() == 0


def test_actions_option(track: Track) -> None:
    track(Product, actions=["delete"])
    product = Product.objects.create(name="P")
    product.name = "Q"
    product.save()
    product.delete()
    assert [log.action for log in logs()] == ["delete"]


def test_exclude_and_entity_options(track: Track) -> None:
    track(
        Product,
        exclude_fields=["internal_note"],
        entity="item",
        entity_name=lambda p: f"#{p.pk} {p.name}",
    )
    product = Product.objects.create(name="P", internal_note="hidden")
    product.internal_note = "changed"
    product.save()
    (log,) = logs()
    assert log.entity == "item"
    assert log.entity_name == f"#{product.pk} P"
    assert "internal_note" not in log.new_values
    assert ActivityLog.objects.for_instance(product).count() == 1


def test_disabled_logs_nothing(
    track: Track, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    track(Product)
    with autoaudit.disabled():
        with django_assert_num_queries(1):
            product = Product.objects.create(name="P")
        product.name = "Q"
        with django_assert_num_queries(1):
            product.save()
        product.delete()
    assert ActivityLog.objects.count() == 0


def test_fixture_loading_is_not_logged_unless_asked(
    track: Track, tmp_path: Path, settings: Settings
) -> None:
    track(Category)
    fixture = tmp_path / "categories.json"
    fixture.write_text(serializers.serialize("json", [Category(pk=500, name="From fixture")]))
    call_command("loaddata", str(fixture), verbosity=0)
    assert ActivityLog.objects.count() == 0
    settings.AUTOAUDIT = {"LOG_RAW_SAVES": True}
    fixture.write_text(serializers.serialize("json", [Category(pk=501, name="Logged")]))
    call_command("loaddata", str(fixture), verbosity=0)
    (log,) = logs()
    assert log.action == "create" and log.entity_pk == "501"


def test_multi_table_child_logs_once_under_its_name(track: Track) -> None:
    track(Place)
    track(Restaurant)
    restaurant = Restaurant.objects.create(name="Warung", serves_pizza=False)
    restaurant.serves_pizza = True
    restaurant.name = "Warung Baru"
    restaurant.save()
    restaurant.delete()
    entries = [(log.action, log.computed_entity) for log in logs()]
    assert entries == [
        ("create", "testapp.Restaurant"),
        ("update", "testapp.Restaurant"),
        ("delete", "testapp.Restaurant"),
    ]
    update = logs()[1]
    assert update.changed_fields == ["name", "serves_pizza"]
    # A plain Place is still logged under its own name.
    Place.objects.create(name="Plain")
    assert logs()[-1].computed_entity == "testapp.Place"


def test_proxy_registered_on_its_own_logs_under_its_name(track: Track) -> None:
    track(ProductProxy)
    proxy = ProductProxy.objects.create(name="Via proxy")
    Product.objects.create(name="Plain")  # the concrete model is not registered
    (log,) = logs()
    assert log.computed_entity == "testapp.ProductProxy"
    assert log.entity == "productproxy"
    assert ActivityLog.objects.for_instance(proxy).count() == 1


def test_unregistered_proxy_is_tracked_as_the_concrete_model(track: Track) -> None:
    track(Product)
    proxy = ProductProxy.objects.create(name="Through proxy")
    proxy.name = "Changed"
    proxy.save()
    proxy.delete()
    assert [(log.action, log.computed_entity) for log in logs()] == [
        ("create", "testapp.Product"),
        ("update", "testapp.Product"),
        ("delete", "testapp.Product"),
    ]


class TestManyToMany:
    def test_add_remove_set_clear(self, track: Track) -> None:
        track(Product, m2m_fields=["tags"])
        product = Product.objects.create(name="P")
        a, b, c = (Tag.objects.create(name=n) for n in "abc")
        ActivityLog.objects.all().delete()

        product.tags.add(a, b)
        product.tags.remove(a)
        product.tags.set([b, c])
        product.tags.clear()
        entries = [(log.old_values["tags"], log.new_values["tags"]) for log in logs()]
        assert entries == [
            ([], sorted([a.pk, b.pk])),
            (sorted([a.pk, b.pk]), [b.pk]),
            ([b.pk], sorted([b.pk, c.pk])),
            (sorted([b.pk, c.pk]), []),
        ]
        assert all(log.changed_fields == ["tags"] for log in logs())
        assert all(log.action == "update" for log in logs())

    def test_reverse_side_logs_the_tracked_objects(self, track: Track) -> None:
        track(Product, m2m_fields=["tags"])
        p1 = Product.objects.create(name="P1")
        p2 = Product.objects.create(name="P2")
        tag = Tag.objects.create(name="t")
        ActivityLog.objects.all().delete()
        tag.products.add(p1, p2)
        assert sorted(str(log.entity_pk) for log in logs()) == sorted([str(p1.pk), str(p2.pk)])
        assert all(log.new_values == {"tags": [tag.pk]} for log in logs())
        ActivityLog.objects.all().delete()
        tag.products.clear()
        assert sorted(str(log.entity_pk) for log in logs()) == sorted([str(p1.pk), str(p2.pk)])
        assert all(log.new_values == {"tags": []} for log in logs())

    def test_reverse_clear_keeps_the_other_links(self, track: Track) -> None:
        track(Product, m2m_fields=["tags"])
        product = Product.objects.create(name="P")
        kept, cleared = Tag.objects.create(name="kept"), Tag.objects.create(name="gone")
        product.tags.add(kept, cleared)
        ActivityLog.objects.all().delete()
        cleared.products.clear()
        (log,) = logs()
        assert log.old_values == {"tags": sorted([kept.pk, cleared.pk])}
        assert log.new_values == {"tags": [kept.pk]}
        assert list(product.tags.values_list("pk", flat=True)) == [kept.pk]

    def test_create_log_has_no_m2m_values_and_unlisted_m2m_is_ignored(self, track: Track) -> None:
        track(Product)
        product = Product.objects.create(name="P")
        product.tags.add(Tag.objects.create(name="t"))
        (log,) = logs()
        assert "tags" not in log.new_values


def test_parent_deleted_directly_is_logged_even_if_reached_through_a_child(
    track: Track,
) -> None:
    track(Place)
    restaurant = Restaurant.objects.create(name="R")
    # leaves the child in the parent's cache (django-stubs does not add the
    # implicit parent link of multi-table inheritance)
    place = restaurant.place_ptr  # type: ignore[attr-defined]
    place.delete()
    (log,) = ActivityLog.objects.filter(action="delete")
    assert log.computed_entity == "testapp.Place"


def test_deleting_the_parent_of_a_child_logs_both(track: Track) -> None:
    track(Place)
    track(Restaurant)
    track(Category)
    restaurant = Restaurant.objects.create(name="R")
    ActivityLog.objects.all().delete()
    Place.objects.filter(pk=restaurant.pk).delete()
    # The place itself was deleted (and its restaurant with it): one log each.
    assert sorted(log.computed_entity for log in logs()) == [
        "testapp.Place",
        "testapp.Restaurant",
    ]


def test_m2m_lists_sort_keys_by_value_not_by_text(track: Track) -> None:
    track(Product, m2m_fields=["tags"])
    product = Product.objects.create(name="P")
    tags = [Tag.objects.create(pk=pk, name=f"t{pk}") for pk in (100, 9, 10)]
    ActivityLog.objects.all().delete()
    product.tags.add(*tags)
    (log,) = logs()
    assert log.new_values == {"tags": [9, 10, 100]}  # not ["10", "100", "9"]'s order
