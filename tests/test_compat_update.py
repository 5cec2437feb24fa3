"""``QuerySet.update()`` of a tracked model is Django's ``update()``: the same
annotations, aliases, ordering, ``distinct()`` and validation (causes 2, 3).

Every test runs ``untracked`` (Django's own behaviour) and ``tracked`` and
asserts the same outcome.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import FieldDoesNotExist, FieldError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Value
from django.db.models.functions import Concat

from autoaudit.models import ActivityLog
from tests.compat_support import TRACKING, outcome
from tests.testapp.models import Category, Product, Seat, Tag
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


def _products(*stocks: int) -> list[Product]:
    return [
        Product.objects.create(name=f"p{i}", sku=f"sku-{i}", stock=stock)
        for i, stock in enumerate(stocks)
    ]


def _stocks() -> list[int]:
    return list(Product.objects.order_by("pk").values_list("stock", flat=True))


def _update_logs() -> list[ActivityLog]:
    return list(ActivityLog.objects.filter(action="update").order_by("entity_id"))


# -- cause 2: the caller's query shape reaches Django's update() -----------------
@TRACKING
def test_update_from_an_annotation(track: Track, tracked: bool) -> None:
    products = _products(1, 2, 3)
    if tracked:
        track(Product)
    count = Product.objects.annotate(double=F("stock") * 2).update(stock=F("double"))
    assert count == 3
    assert _stocks() == [2, 4, 6]
    if tracked:
        logs = _update_logs()
        assert [log.entity_id for log in logs] == [p.pk for p in products]
        assert [(log.old_values, log.new_values) for log in logs] == [
            ({"stock": 1}, {"stock": 2}),
            ({"stock": 2}, {"stock": 4}),
            ({"stock": 3}, {"stock": 6}),
        ]


@TRACKING
def test_update_from_an_alias(track: Track, tracked: bool) -> None:
    _products(1, 2)
    if tracked:
        track(Product)
    count = Product.objects.alias(plus=F("stock") + 10).filter(plus__gt=11).update(stock=F("plus"))
    assert count == 1
    assert _stocks() == [1, 12]
    if tracked:
        [log] = _update_logs()
        assert (log.old_values, log.new_values) == ({"stock": 2}, {"stock": 12})


@TRACKING
def test_update_from_a_text_annotation(track: Track, tracked: bool) -> None:
    _products(1)
    if tracked:
        track(Product)
    count = Product.objects.annotate(label=Concat("name", Value("!"))).update(name=F("label"))
    assert count == 1
    assert Product.objects.get().name == "p0!"
    if tracked:
        [log] = _update_logs()
        assert (log.old_values, log.new_values) == ({"name": "p0"}, {"name": "p0!"})


@TRACKING
def test_update_ordered_by_an_aggregate_raises_djangos_error(track: Track, tracked: bool) -> None:
    _products(1, 2)
    if tracked:
        track(Product)
    queryset = Product.objects.annotate(tag_count=Count("tags")).order_by("tag_count")
    match = "^Cannot update when ordering by an aggregate: Count"
    with pytest.raises(FieldError, match=match), transaction.atomic():
        queryset.update(stock=9)
    assert _stocks() == [1, 2]
    assert not ActivityLog.objects.filter(action="update").exists()


@TRACKING
def test_update_referencing_an_aggregate_raises_djangos_error(track: Track, tracked: bool) -> None:
    _products(1, 2)
    if tracked:
        track(Product)
    queryset = Product.objects.annotate(most=Max("stock"))
    match = "^Aggregate functions are not allowed in this query"
    with pytest.raises(FieldError, match=match), transaction.atomic():
        queryset.update(stock=F("most"))
    assert _stocks() == [1, 2]


@TRACKING
def test_update_referencing_a_joined_annotation_raises_djangos_error(
    track: Track, tracked: bool
) -> None:
    category = Category.objects.create(name="tools")
    Product.objects.create(name="p", category=category)
    if tracked:
        track(Product)
    queryset = Product.objects.annotate(category_name=F("category__name"))
    match = "^Joined field references are not permitted in this query"
    with pytest.raises(FieldError, match=match), transaction.atomic():
        queryset.update(name=F("category_name"))
    assert Product.objects.get().name == "p"


@TRACKING
def test_update_of_a_queryset_annotated_with_an_aggregate(track: Track, tracked: bool) -> None:
    # On PostgreSQL the aggregate must not reach a SELECT ... FOR UPDATE
    # ("FOR UPDATE is not allowed with GROUP BY clause").
    products = _products(1, 2, 3)
    tag = Tag.objects.create(name="t")
    products[0].tags.add(tag)
    if tracked:
        track(Product)
    annotated = Product.objects.annotate(tag_count=Count("tags"))
    assert annotated.filter(tag_count=0).update(stock=0) == 2
    assert annotated.update(description="seen") == 3
    assert _stocks() == [1, 0, 0]
    if tracked:
        stock_logs = [log for log in _update_logs() if "stock" in log.changed_fields]
        ids = sorted(log.entity_id for log in stock_logs if log.entity_id is not None)
        assert ids == [products[1].pk, products[2].pk]
        assert ActivityLog.objects.filter(action="update").count() == 5


@TRACKING
def test_update_of_a_distinct_queryset(track: Track, tracked: bool) -> None:
    # On PostgreSQL DISTINCT must not reach a SELECT ... FOR UPDATE
    # ("FOR UPDATE is not allowed with DISTINCT clause").
    products = _products(1, 2)
    red, blue = Tag.objects.create(name="red"), Tag.objects.create(name="blue")
    products[0].tags.add(red, blue)
    if tracked:
        track(Product)
    queryset = Product.objects.filter(tags__name__in=["red", "blue"]).distinct()
    assert queryset.update(stock=7) == 1
    assert _stocks() == [7, 2]
    if tracked:
        [log] = _update_logs()
        assert (log.entity_id, log.old_values, log.new_values) == (
            products[0].pk,
            {"stock": 1},
            {"stock": 7},
        )


@TRACKING
def test_update_keeps_the_ordering_on_mysql(track: Track, tracked: bool) -> None:
    """MySQL and MariaDB run ``UPDATE ... ORDER BY``: updating a unique
    column downwards from the top never collides. (Elsewhere Django sends no
    ORDER BY; the shifted numbers collide there, tracked or not.)"""
    for number in (1, 2, 3):
        Seat.objects.create(number=number)
    if tracked:
        track(Seat)

    def shift() -> int:
        with transaction.atomic():
            return Seat.objects.order_by("-number").update(number=F("number") + 1)

    result = outcome(shift)
    if connection.vendor == "mysql":
        assert result == ("ok", 3)
        assert sorted(Seat.objects.values_list("number", flat=True)) == [2, 3, 4]
    else:
        assert result[0] == IntegrityError.__name__


# -- cause 3: an update that matches no rows is still validated by Django ---------
INVALID_UPDATES: dict[str, tuple[dict[str, Any], type[Exception], str]] = {
    "joined-field": (dict(name=F("category__name")), FieldError, "Joined field references"),
    "aggregate": (dict(stock=Max("stock")), FieldError, "Aggregate functions are not allowed"),
    "unknown-field": (
        dict(stock=1, no_such_field=2),
        FieldDoesNotExist,
        "Product has no field named 'no_such_field'",
    ),
    "bad-value": (dict(stock="many"), ValueError, "Field 'stock' expected a number"),
}


@TRACKING
@pytest.mark.parametrize("case", list(INVALID_UPDATES))
def test_update_matching_no_rows_is_validated(track: Track, tracked: bool, case: str) -> None:
    values, error, message = INVALID_UPDATES[case]
    if tracked:
        track(Product)
    # Each in a savepoint: Django marks the transaction for rollback when the
    # UPDATE fails to compile (mark_for_rollback_on_error).
    with pytest.raises(error, match=message), transaction.atomic():
        Product.objects.update(**values)  # an empty table
    Product.objects.create(name="somebody")
    with pytest.raises(error, match=message), transaction.atomic():
        Product.objects.filter(name="nobody").update(**values)  # a filter matching nothing
    assert not ActivityLog.objects.filter(action="update").exists()
