"""``log.changes_display()`` and its batch form ``readable_changes()``:
verbose names, choice labels, related objects, yes/no, localized values,
JSON paths, masked values, and one query per related model per page."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from autoaudit.models import ActivityLog
from autoaudit.values.masking import REDACTED
from autoaudit.versions.display import readable_changes, triples
from tests.testapp.models import Category, Order, Product, Tag
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(track: Track) -> type[Order]:
    return track(Order, m2m_fields=["tags"], mask_fields={"coupon": "redact"})


def _latest(obj: Any) -> ActivityLog:
    return ActivityLog.objects.for_instance(obj).first()  # type: ignore[return-value]


def test_an_update_reads_as_words(orders: type[Order], settings: Any) -> None:
    settings.USE_TZ = True
    laptop, mouse = Product.objects.create(name="Laptop"), Product.objects.create(name="Mouse")
    order = orders.objects.create(number="A-1", product=laptop, total=Decimal("15000000.00"))
    order.status = Order.Status.SHIPPED
    order.priority = 2
    order.product = mouse
    order.gift = True
    order.total = Decimal("14500000.50")
    order.quantity = 12000
    order.ship_on = datetime.date(2026, 3, 9)
    order.shipped_at = datetime.datetime(2026, 3, 9, 14, 30, tzinfo=datetime.UTC)
    order.save()
    log = _latest(order)
    with translation.override("en"), timezone.override("UTC"):
        shown = dict((label, (old, new)) for label, old, new in log.changes_display())
    assert shown == {
        "status": ("Pending payment", "Shipped"),
        "priority": ("Low", "High"),
        "ordered product": ("Laptop", "Mouse"),
        "gift wrapped": ("no", "yes"),
        "total": ("15000000.00", "14500000.50"),
        "quantity": ("1", "12000"),
        "ship on": (None, "March 9, 2026"),
        "shipped at": (None, "March 9, 2026, 2:30 p.m."),
    }


def test_values_are_localized_and_translated(orders: type[Order], settings: Any) -> None:
    settings.USE_THOUSAND_SEPARATOR = True
    order = orders.objects.create(number="A-2", total=Decimal("1500.25"), quantity=2)
    order.total, order.quantity, order.gift = Decimal("14500000.50"), 12000, True
    order.ship_on = datetime.date(2026, 3, 9)
    order.save()
    log = _latest(order)
    with translation.override("id"):
        shown = {label: (old, new) for label, old, new in log.changes_display()}
    assert shown["total"] == ("1.500,25", "14.500.000,50")
    assert shown["quantity"] == ("2", "12.000")
    assert shown["gift wrapped"] == ("tidak", "ya")
    assert shown["ship on"] == (None, "9 Maret 2026")


def test_a_create_and_a_delete_show_their_values(orders: type[Order]) -> None:
    books = Category.objects.create(name="Books")
    order = orders.objects.create(number="A-3", category=books, status="paid")
    created = _latest(order)
    pk = order.pk
    order.delete()
    deleted = ActivityLog.objects.filter(action="delete", entity_pk=str(pk)).get()
    with translation.override("en"):
        [create_rows, delete_rows] = readable_changes([created, deleted])
    assert {c.label: c.new for c in create_rows}["category"] == "Books"
    assert {c.label: c.new for c in create_rows}["status"] == "Paid"
    assert {c.kind for c in create_rows} == {"added"}
    assert {c.label: c.old for c in delete_rows}["category"] == "Books"
    assert {c.kind for c in delete_rows} == {"removed"}
    assert all(c.new is None for c in delete_rows)


def test_json_changes_name_their_paths(orders: type[Order]) -> None:
    order = orders.objects.create(number="A-4", details={"specs": {"ram": "32GB", "cpu": "i7"}})
    order.details = {"specs": {"ram": "64GB", "cpu": "i7"}, "note": "rush"}
    order.save()
    log = _latest(order)
    rows = readable_changes([log])[0]
    assert [(c.path, c.old, c.new, c.kind) for c in rows] == [
        ("details.note", None, "rush", "added"),
        ("details.specs.ram", "32GB", "64GB", "changed"),
    ]
    # The description names the paths instead of a cut-off dump of the JSON.
    description = log.description or ""
    assert "details.specs.ram 32GB → 64GB" in description
    assert "details.note ∅ → rush" in description
    assert "{" not in description


def test_many_to_many_values_are_named(orders: type[Order]) -> None:
    red, blue, gone = (Tag.objects.create(name=n) for n in ("red", "blue", "gone"))
    order = orders.objects.create(number="A-5")
    order.tags.set([red, gone])
    order.tags.add(blue)
    log = _latest(order)
    gone_pk = gone.pk
    gone.delete()
    assert log.changed_fields == ["tags"]
    [(label, old, new)] = log.changes_display()
    assert label == "tags"
    assert old == f"red, #{gone_pk} (deleted)"
    assert new == f"red, blue, #{gone_pk} (deleted)"  # stored in pk order
    # A many-to-many change is described whole, not item by item.
    assert "tags[" not in (log.description or "")


def test_masked_values_stay_masked_and_are_never_resolved(
    track: Track, django_assert_num_queries: Any
) -> None:
    track(Order, mask_fields={"coupon": "redact", "product": "redact"})
    laptop = Product.objects.create(name="Laptop")
    order = Order.objects.create(number="A-6", coupon="SECRET-10", product=laptop)
    order.coupon, order.product = "SECRET-20", None
    order.save()
    log = _latest(order)
    with django_assert_num_queries(0):  # the masked product is not looked up
        rows = {c.path: c for c in readable_changes([log])[0]}
    assert rows["coupon"].old == REDACTED and rows["coupon"].new == REDACTED
    assert rows["coupon"].masked
    assert rows["product"].old == REDACTED and rows["product"].masked
    assert "SECRET" not in str(log.changes_display())


def test_gone_models_fields_and_objects_read_from_the_stored_values() -> None:
    unknown = ActivityLog.objects.create(
        action="update",
        entity="widget",
        computed_entity="nowhere.Widget",
        old_values={"size": 1, "spec": {"a": 1}},
        new_values={"size": 2, "spec": {"a": 2}},
        changed_fields=["size", "spec"],
        actor_type="system",
    )
    removed_field = ActivityLog.objects.create(
        action="update",
        entity="product",
        computed_entity="testapp.Product",
        old_values={"colour": "red", "category": 999_999},
        new_values={"colour": "blue", "category": None},
        changed_fields=["colour", "category"],
        actor_type="system",
    )
    no_values = ActivityLog.objects.create(
        action="login", entity="user", computed_entity="auth.User", actor_type="system"
    )
    [first, second, third] = [
        triples(rows) for rows in readable_changes([unknown, removed_field, no_values])
    ]
    assert first == [("size", "1", "2"), ("spec.a", "1", "2")]
    assert second == [("colour", "red", "blue"), ("category", "#999999 (deleted)", None)]
    assert third == []


def test_a_page_costs_one_query_per_related_model(
    orders: type[Order], django_assert_num_queries: Any
) -> None:
    categories = [Category.objects.create(name=f"C{i}") for i in range(3)]
    products = [Product.objects.create(name=f"P{i}") for i in range(3)]
    tags = [Tag.objects.create(name=f"T{i}") for i in range(3)]
    for i in range(10):
        order = orders.objects.create(
            number=f"B-{i}", category=categories[i % 3], product=products[i % 3]
        )
        order.category = categories[(i + 1) % 3]
        order.product = products[(i + 1) % 3]
        order.save()
        order.tags.set(tags[: i % 3 + 1])
    logs = list(ActivityLog.objects.for_model(Order))
    assert len(logs) == 30
    with django_assert_num_queries(3):  # categories, products, tags: once each
        pages = readable_changes(logs)
    assert sum(len(rows) for rows in pages) > 30
    names = {c.new for rows in pages for c in rows if c.path == "category"}
    assert names == {"C0", "C1", "C2"}
    # With nothing to look up, no query at all.
    untouched = [log for log in logs if not log.changed_fields or "tags" not in log.changed_fields]
    plain = [
        ActivityLog(
            computed_entity=log.computed_entity,
            action="update",
            old_values={"quantity": 1},
            new_values={"quantity": 2},
            changed_fields=["quantity"],
        )
        for log in untouched
    ]
    with django_assert_num_queries(0):
        assert readable_changes(plain)[0] == readable_changes(plain)[-1]


def test_the_timeline_reads_related_objects_once_per_page(
    orders: type[Order], client: Any, root: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(root)

    def page_queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            html = client.get("/activity/").content.decode()
        return len(queries), html

    def add_orders(count: int) -> None:
        for i in range(count):
            category = Category.objects.create(name=f"Shelf {i}")
            order = orders.objects.create(number=f"N-{i}")
            order.category = category
            order.status = "paid"
            order.save()

    add_orders(2)
    page_queries()  # the session, the dashboard's cached counts
    few, _html = page_queries()
    add_orders(10)
    many, html = page_queries()
    assert many == few
    assert "Shelf 9" in html and "Pending payment" in html and "Paid" in html
