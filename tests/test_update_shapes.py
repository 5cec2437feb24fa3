"""Every shape of queryset ``update()`` accepts behaves tracked exactly as
untracked: the same count, or the same error, the same rows changed, and one
update log per changed row (``distinct()``, aggregates, joins, windows,
``extra()``, ``select_for_update()``, ...), on every database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Subquery, Window
from django.db.models.functions import RowNumber

import autoaudit
from autoaudit.models import ActivityLog
from tests.testapp.models import Category, Product, Tag
from tests.typing_support import Track

pytestmark = pytest.mark.django_db

Shape = Callable[[], Any]
products = Product.objects

SHAPES: dict[str, Shape] = {
    "distinct": lambda: products.distinct().update(stock=10),
    "distinct across a join": lambda: (
        products.filter(tags__name__in=["t", "u"]).distinct().update(stock=F("stock") + 10)
    ),
    "distinct(fields)": lambda: products.order_by("name").distinct("name").update(stock=1),
    "aggregate filter": lambda: (
        products.annotate(n=Count("tags")).filter(n__gte=1).update(stock=11)
    ),
    "aggregate annotation": lambda: products.annotate(n=Count("tags")).update(stock=12),
    "aggregate alias filter": lambda: products.alias(n=Count("tags")).filter(n=2).update(stock=13),
    "aggregate or field": lambda: (
        products.annotate(n=Count("tags")).filter(Q(n=0) | Q(stock=0)).update(stock=14)
    ),
    "max filter": lambda: (
        products.annotate(m=Max("tags__id")).filter(m__isnull=False).update(stock=1)
    ),
    "update from an aggregate": lambda: products.annotate(n=Count("tags")).update(stock=F("n")),
    "ordered by an aggregate": lambda: (
        products.annotate(n=Count("tags")).order_by("n").update(stock=1)
    ),
    "grouped values": lambda: (
        products.values("category").annotate(n=Count("id")).filter(n__gte=2).update(stock=15)
    ),
    "window filter": lambda: (
        products.annotate(r=Window(RowNumber(), order_by="id")).filter(r__lte=2).update(stock=16)
    ),
    "slice": lambda: products.order_by("-id")[:1].update(stock=17),
    "union": lambda: products.filter(stock=1).union(products.filter(stock=2)).update(stock=18),
    "select_related": lambda: products.select_related("category").update(stock=19),
    "values": lambda: products.values("name").update(stock=20),
    "values_list": lambda: products.values_list("name", flat=True).update(stock=21),
    "join filter": lambda: products.filter(category__name="c1").update(stock=22),
    "multi-valued join filter": lambda: products.filter(tags__name__in=["t", "u"]).update(
        stock=F("stock") + 100
    ),
    "annotation": lambda: products.annotate(s=F("stock") + 1).update(stock=F("s")),
    "alias": lambda: products.alias(s=F("stock") + 2).update(stock=F("s")),
    "ordered by an annotation": lambda: (
        products.annotate(s=F("stock") * -1).order_by("s").update(stock=F("stock") + 1)
    ),
    "ordered across a join": lambda: products.order_by("category__name").update(stock=23),
    "extra where": lambda: products.extra(where=["stock >= 2"]).update(stock=24),
    "extra select": lambda: products.extra(select={"x": "stock + 1"}).update(stock=25),
    "subquery filter": lambda: products.filter(
        pk__in=Subquery(products.filter(stock__gte=2).values("pk"))
    ).update(stock=26),
    "queryset filter": lambda: products.filter(pk__in=products.filter(stock__lt=2)).update(
        stock=27
    ),
    "exists annotation": lambda: (
        products.annotate(linked=Exists(Tag.objects.filter(products=OuterRef("pk"))))
        .filter(linked=True)
        .update(stock=28)
    ),
    "select_for_update": lambda: products.select_for_update().update(stock=29),
    "prefetch_related": lambda: products.prefetch_related("tags").update(stock=30),
    "only": lambda: products.only("name").update(stock=31),
    "dates": lambda: products.dates("created_at", "day").update(stock=32),
    "none": lambda: products.none().update(stock=33),
}


@dataclass(frozen=True)
class Outcome:
    result: Any  # the count, or (error type, first line of its message)
    changed: dict[str, tuple[int, int]]  # name -> (stock before, stock after)
    logged: dict[str, tuple[int, int]]  # entity_name -> (old stock, new stock)
    logs: int


class _Undo(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def _rows() -> dict[str, int]:
    return dict(Product.objects.values_list("name", "stock"))


def _run(shape: Shape) -> Outcome:
    """Run ``shape`` on fresh rows, in a transaction that is rolled back."""
    try:
        with transaction.atomic():
            c1, c2 = Category.objects.create(name="c1"), Category.objects.create(name="c2")
            t, u = Tag.objects.create(name="t"), Tag.objects.create(name="u")
            for i, category in enumerate([c1, c1, c2, None]):
                product = Product.objects.create(name=f"p{i}", stock=i, category=category)
                product.tags.add(*[[t, u], [t, u], [t], []][i])
            ActivityLog.objects.all().delete()
            before = _rows()
            try:
                with transaction.atomic():
                    result: Any = shape()
            except Exception as exc:
                result = (type(exc), str(exc).splitlines()[0])
            after = _rows()
            changed = {n: (before[n], after[n]) for n in before if before[n] != after[n]}
            logs = list(ActivityLog.objects.filter(action="update"))
            logged = {
                str(log.entity_name): (log.old_values["stock"], log.new_values["stock"])
                for log in logs
            }
            raise _Undo(Outcome(result, changed, logged, len(logs)))
    except _Undo as undo:
        return undo.outcome


@pytest.mark.parametrize("name", list(SHAPES))
def test_update_behaves_as_untracked_and_logs_each_changed_row(track: Track, name: str) -> None:
    with autoaudit.disabled():
        untracked = _run(SHAPES[name])
    track(Product)
    tracked = _run(SHAPES[name])
    assert tracked.result == untracked.result
    assert tracked.changed == untracked.changed
    assert tracked.logged == tracked.changed  # one log per changed row, with its values
    assert tracked.logs == len(tracked.changed)
