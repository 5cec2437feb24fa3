"""Multi-table children and proxies: which tracker logs a write through a
child, and what a registered child inherits from its registered parents
(docs/tracking.md, "Proxy and multi-table models")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.tracking.registry import registry
from tests.testapp.models import (
    Category,
    Kiosk,
    Pizzeria,
    Place,
    Product,
    ProductProxy,
    Restaurant,
)
from tests.typing_support import Track

pytestmark = pytest.mark.django_db

Entry = tuple[str, str, str | None, dict[str, Any] | None, dict[str, Any] | None]


def logs() -> list[ActivityLog]:
    return list(ActivityLog.objects.order_by("id"))


def entries() -> list[Entry]:
    """(action, computed entity, entity_pk, old values, new values) of every log."""
    return [
        (log.action, log.computed_entity, log.entity_pk, log.old_values, log.new_values)
        for log in logs()
    ]


def queries(operation: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as context:
        operation()
    return len(context)


PLACE = "testapp.Place"


# -- writes through a child that is not registered, under a registered parent ---------
def test_saves_through_the_child_log_the_parents_row(track: Track) -> None:
    track(Place)
    restaurant = Restaurant.objects.create(name="R", address="a", serves_pizza=False)
    restaurant.serves_pizza = True
    restaurant.save()  # only the child's own row changes: no log
    restaurant.name = "R2"
    restaurant.save()
    restaurant.save(update_fields=["serves_pizza"])
    pk = str(restaurant.pk)
    assert entries() == [
        ("create", PLACE, pk, None, {"name": "R", "address": "a"}),
        ("update", PLACE, pk, {"name": "R"}, {"name": "R2"}),
    ]
    assert {(log.entity, log.entity_name) for log in logs()} == {("place", "R2"), ("place", "R")}
    # The child's own name still finds nothing of its own; the parent's history has it all.
    assert not ActivityLog.objects.for_instance(restaurant).exists()
    assert autoaudit.history(Place.objects.get(pk=restaurant.pk)).count() == 2


def test_a_child_made_for_an_existing_parent_logs_the_parents_update(track: Track) -> None:
    """``Restaurant(pk=...)``/``(place_ptr=...)``: Django updates the parent's
    row (with the child's values) and inserts the child's: an update."""
    track(Place)
    first = Place.objects.create(name="P", address="a")
    second = Place.objects.create(name="Q", address="a")
    ActivityLog.objects.all().delete()
    Restaurant(pk=first.pk, name="P", address="b").save()
    Restaurant(place_ptr=second, name="Q2", address="a").save()
    assert entries() == [
        ("update", PLACE, str(first.pk), {"address": "a"}, {"address": "b"}),
        ("update", PLACE, str(second.pk), {"name": "Q"}, {"name": "Q2"}),
    ]
    # force_insert=True forces the child's row only: the parent's is
    # updated if it is there, inserted if not; (Place,) forces the parent's.
    Restaurant.objects.get(pk=first.pk).delete(keep_parents=True)
    Restaurant(pk=first.pk, name="again").save(force_insert=True)
    gone = first.pk
    first.delete()
    Restaurant(pk=gone, name="back").save(force_insert=True)
    Restaurant(pk=gone + 1000, name="new").save(force_insert=(Place,))
    assert [(e[0], e[2], e[4]) for e in entries()[2:]] == [
        ("update", str(gone), {"name": "again", "address": ""}),
        ("delete", str(gone), None),
        ("create", str(gone), {"name": "back", "address": ""}),
        ("create", str(gone + 1000), {"name": "new", "address": ""}),
    ]


def test_raw_saves_of_the_child_do_not_touch_the_parent(track: Track, settings: Settings) -> None:
    """loaddata saves a child's own table only (the parent is its own object
    in the fixture): nothing of the tracked parent changes."""
    track(Place)
    settings.AUTOAUDIT = {"LOG_RAW_SAVES": True}
    place = Place.objects.create(name="P")
    Restaurant(place_ptr=place, name="other", serves_pizza=True).save_base(raw=True)
    assert [e[0] for e in entries()] == ["create"]
    assert Restaurant.objects.get(pk=place.pk).name == "P"


def test_queryset_writes_through_the_child_log_the_parents_rows(track: Track) -> None:
    track(Place)
    a = Restaurant.objects.create(name="a", address="x")
    b = Restaurant.objects.create(name="b", address="y")
    Place.objects.create(name="plain")
    ActivityLog.objects.all().delete()
    assert Restaurant.objects.update(serves_pizza=True) == 2  # the child's rows: no log
    assert Restaurant.objects.filter(name="a").update(address="z") == 1
    assert Restaurant.objects.update(name=F("address")) == 2
    a.refresh_from_db()
    b.refresh_from_db()
    a.name, a.serves_pizza, b.name = "A", False, "y"
    assert Restaurant.objects.bulk_update([a, b], ["name", "serves_pizza"]) == 2
    assert entries() == [
        ("update", PLACE, str(a.pk), {"address": "x"}, {"address": "z"}),
        ("update", PLACE, str(a.pk), {"name": "a"}, {"name": "z"}),
        ("update", PLACE, str(b.pk), {"name": "b"}, {"name": "y"}),
        ("update", PLACE, str(a.pk), {"name": "z"}, {"name": "A"}),
    ]


def test_deletes_through_the_child_log_the_parents_row_once(track: Track) -> None:
    track(Place)
    restaurants = [Restaurant.objects.create(name=n) for n in ("1", "2", "3", "kept")]
    one, two, three, kept = (str(r.pk) for r in restaurants)
    ActivityLog.objects.all().delete()
    restaurants[0].delete()
    Restaurant.objects.filter(name__in=["2", "3"]).delete()
    restaurants[3].delete(keep_parents=True)  # the place stays: nothing of it changes
    assert Place.objects.filter(pk=kept).exists()
    assert entries() == [
        ("delete", PLACE, one, {"name": "1", "address": ""}, None),
        ("delete", PLACE, two, {"name": "2", "address": ""}, None),
        ("delete", PLACE, three, {"name": "3", "address": ""}, None),
    ]


def test_bulk_create_through_the_child_raises_djangos_error(track: Track) -> None:
    track(Place)
    with pytest.raises(ValueError, match="multi-table inherited model"):
        Restaurant.objects.bulk_create([Restaurant(name="r")])
    assert not ActivityLog.objects.exists()


def test_a_child_with_a_key_of_its_own_logs_its_parents_key(track: Track) -> None:
    """``Kiosk.pk`` is not its ``Place``'s: the logs name the place's key."""
    track(Place)
    kiosk = Kiosk.objects.create(number=9001, name="K", stall="s1")
    assert kiosk.place_id != kiosk.pk
    place_pk = str(kiosk.place_id)
    kiosk.name = "K2"
    kiosk.save()
    Kiosk.objects.filter(pk=kiosk.pk).update(address="there")
    # (bulk_update() of a parent field fails in Django itself for such a
    # child: its CASE compares the child's key with the parent's.)
    kiosk.refresh_from_db()
    kiosk.delete(keep_parents=True)
    parent = kiosk.place_id
    Kiosk(number=9002, place_id=parent, name="K3", address="moved").save()
    Kiosk.objects.get(pk=9002).delete()
    assert [(e[0], e[1], e[2]) for e in entries()] == [
        ("create", PLACE, place_pk),
        ("update", PLACE, place_pk),
        ("update", PLACE, place_pk),
        ("update", PLACE, place_pk),
        ("delete", PLACE, place_pk),
    ]
    assert [e[4] for e in entries()[1:4]] == [
        {"name": "K2"},
        {"address": "there"},
        {"name": "K3", "address": "moved"},
    ]


def test_a_grandchild_logs_under_its_nearest_registered_ancestor(track: Track) -> None:
    track(Place)
    pizzeria = Pizzeria.objects.create(name="P", serves_pizza=True, oven="wood")
    pizzeria.name = "P2"
    pizzeria.save()
    track(Restaurant)  # now the nearer one: its log holds the place's fields too
    pizzeria.name, pizzeria.serves_pizza, pizzeria.oven = "P3", False, "gas"
    pizzeria.save()
    Pizzeria.objects.update(serves_pizza=True)
    pizzeria.delete()
    assert [(e[0], e[1], e[4] if e[0] != "delete" else e[3]) for e in entries()] == [
        ("create", PLACE, {"name": "P", "address": ""}),
        ("update", PLACE, {"name": "P2"}),
        ("update", "testapp.Restaurant", {"name": "P3", "serves_pizza": False}),
        ("update", "testapp.Restaurant", {"serves_pizza": True}),
        ("delete", "testapp.Restaurant", {"name": "P3", "address": "", "serves_pizza": True}),
    ]


def test_a_registered_grandchild_logs_once_under_its_own_name(track: Track) -> None:
    track(Place)
    track(Pizzeria)  # Restaurant in between is not registered
    pizzeria = Pizzeria.objects.create(name="P", oven="wood")
    pizzeria.delete()
    restaurant = Restaurant.objects.create(name="R")
    restaurant.delete()
    assert [(e[0], e[1]) for e in entries()] == [
        ("create", "testapp.Pizzeria"),
        ("delete", "testapp.Pizzeria"),
        ("create", PLACE),
        ("delete", PLACE),
    ]


@pytest.mark.parametrize(
    ("registered", "logged"),
    [
        ([Place], [PLACE]),
        ([Place, Restaurant], ["testapp.Restaurant"]),
        ([Place, Pizzeria], ["testapp.Pizzeria"]),
        ([Restaurant, Pizzeria], ["testapp.Pizzeria"]),
    ],
)
def test_a_cascade_to_a_child_logs_it_once(
    track: Track, registered: list[type[Place]], logged: list[str]
) -> None:
    """Deleting a category cascades to its pizzeria, whose parents' rows go
    with it: one delete log, by the nearest registered model."""
    supplier = Category.objects.create(name="flour")
    Pizzeria.objects.create(name="P", supplier=supplier)
    for model in registered:
        track(model)
    supplier.delete()
    assert [(e[0], e[1]) for e in entries()] == [("delete", label) for label in logged]
    assert not Place.objects.exists()


def test_routes(track: Track) -> None:
    place = registry.tracker_for(track(Place))
    assert registry.route(Restaurant) is registry.route(Pizzeria) is place
    # Looked up under its own name: an unregistered child has no logs of its own.
    assert registry.tracker_for(Restaurant) is None
    restaurant = registry.tracker_for(track(Restaurant))
    assert registry.route(Pizzeria) is restaurant and restaurant is not None


def test_the_child_costs_what_the_parent_costs(track: Track) -> None:
    restaurant = Restaurant.objects.create(name="r")
    track(Product)  # nothing of the restaurant's is tracked: no query of ours

    def rename(name: str) -> Callable[[], None]:
        def run() -> None:
            restaurant.name = name
            restaurant.save()

        return run

    def update() -> None:
        Restaurant.objects.update(name="c")

    with autoaudit.disabled():
        own, own_update = queries(rename("a")), queries(update)
    assert queries(rename("b")) == own
    assert queries(update) == own_update
    track(Place)  # a read of the old values and the log's insert
    assert queries(rename("d")) == own + 2


# -- what a registered child inherits -------------------------------------------------
def test_a_child_inherits_its_parents_masks_and_exclusions(track: Track) -> None:
    track(Restaurant)  # registered first: it inherits once the parent is
    track(Place, mask_fields={"address": "redact"}, exclude_fields=["name"])
    restaurant = Restaurant.objects.create(name="R", address="secret street")
    restaurant.address = "other secret"
    restaurant.save()
    restaurant.delete()
    assert [log.new_values or log.old_values for log in logs()] == [
        {"address": "********", "serves_pizza": False},
        {"address": "********"},
        {"address": "********", "serves_pizza": False},
    ]
    assert "secret" not in str([log.old_values for log in logs()])
    autoaudit.unregister(Place)  # nothing to inherit any more
    Restaurant.objects.create(name="R2", address="plain")
    assert logs()[-1].new_values == {"name": "R2", "address": "plain", "serves_pizza": False}


def test_a_childs_own_options_win(track: Track) -> None:
    track(Place, mask_fields={"address": "redact"}, exclude_fields=["name"])
    track(Restaurant, mask_fields={"address": "hash"}, include_fields=["name", "address"])
    Restaurant.objects.create(name="R", address="secret street")
    (log,) = logs()
    assert log.new_values["name"] == "R"  # the inherited exclusion lifted by include_fields
    assert log.new_values["address"] not in ("********", "secret street")  # hashed
    assert set(log.new_values) == {"name", "address"}


def test_a_grandchild_merges_the_masks_of_every_registered_ancestor(track: Track) -> None:
    track(Place, mask_fields={"address": "redact", "name": "redact"})
    track(Restaurant, mask_fields={"name": "partial"})
    track(Pizzeria)
    Pizzeria.objects.create(name="Pizzeria Roma", address="secret street", oven="wood")
    (log,) = logs()
    assert log.new_values["address"] == "********"
    assert log.new_values["name"] not in ("********", "Pizzeria Roma")  # the nearer: partial
    assert log.new_values["oven"] == "wood"


def test_a_registered_proxy_inherits_its_concrete_models_masks(
    track: Track, settings: Settings
) -> None:
    settings.AUTOAUDIT = {"MODELS": {"testapp.Product": {"mask_fields": {"sku": "redact"}}}}
    try:
        track(ProductProxy)
        ProductProxy.objects.create(name="p", sku="SECRET-SKU")
        (log,) = logs()
        assert log.computed_entity == "testapp.ProductProxy"
        assert log.new_values["sku"] == "********"
    finally:
        settings.AUTOAUDIT = {}
