"""``autoaudit.as_of`` over imported history gives what the source itself
says the object was at each moment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import reversion
from auditlog.models import LogEntry
from reversion.models import Revision

import autoaudit
from tests.importers.source.models import (
    AuditlogBook,
    Category,
    HistoryBook,
    Label,
    ReversionBook,
)
from tests.importers.support import at, run_import

pytestmark = pytest.mark.django_db

#: The fields compared (all the tracked ones that are not masked).
FIELDS = ("title", "price", "published", "in_stock", "category", "metadata")
SECOND = dt.timedelta(seconds=1)


def _edit(book: HistoryBook | AuditlogBook | ReversionBook, step: int, sf: Category) -> None:
    if step == 1:
        book.price = Decimal("4.20")
        book.category = sf
    elif step == 2:
        book.title = "Kindred (2nd ed.)"
        book.metadata = {"specs": {"pages": 264}}
    elif step == 3:
        book.published = dt.date(1979, 6, 1)
        book.in_stock = False


def _expected(book: HistoryBook | AuditlogBook | ReversionBook) -> dict[str, object]:
    book.refresh_from_db()
    return {
        "title": book.title,
        "price": book.price,
        "published": book.published,
        "in_stock": book.in_stock,
        "category": book.category.pk if book.category is not None else None,
        "metadata": book.metadata,
    }


def _compare(model: type, pk: object, states: list[dict[str, object]]) -> None:
    assert autoaudit.as_of(model, pk, at(0) - SECOND) is None
    for day, state in enumerate(states):
        version = autoaudit.as_of(model, pk, at(day) + SECOND)
        assert version is not None
        assert {name: version.values[name] for name in FIELDS} == state, day
        assert "api_key" in version.missing  # masked: the log cannot know it
    assert autoaudit.as_of(model, pk, at(len(states)) + SECOND) is None  # deleted


def test_as_of_over_history_imported_from_simple_history() -> None:
    sf = Category.objects.create(name="SF")
    book = HistoryBook.objects.create(title="Kindred", price=Decimal("3.00"), api_key="abcdefgh")
    states = [_expected(book)]
    for step in (1, 2, 3):
        _edit(book, step, sf)
        book.save()
        states.append(_expected(book))
    pk = book.pk
    book.delete()
    rows = HistoryBook.history.model.objects.order_by("history_id")
    for day, row in enumerate(rows):
        HistoryBook.history.model.objects.filter(pk=row.pk).update(history_date=at(day))
    run_import("simple-history")
    _compare(HistoryBook, pk, states)
    # simple-history's own as_of agrees
    for day in range(4):
        theirs = HistoryBook.history.as_of(at(day) + SECOND).get(pk=pk)
        ours = autoaudit.as_of(HistoryBook, pk, at(day) + SECOND)
        assert ours is not None and ours.values["title"] == theirs.title


def test_as_of_over_history_imported_from_auditlog() -> None:
    sf = Category.objects.create(name="SF")
    book = AuditlogBook.objects.create(title="Kindred", price=Decimal("3.00"), api_key="abcdefgh")
    states = [_expected(book)]
    for step in (1, 2, 3):
        _edit(book, step, sf)
        book.save()
        states.append(_expected(book))
    pk = book.pk
    book.delete()
    rows = LogEntry.objects.filter(object_pk=str(pk), content_type__model="auditlogbook")
    for day, entry in enumerate(rows.order_by("pk")):
        LogEntry.objects.filter(pk=entry.pk).update(timestamp=at(day))
    run_import("auditlog", "--model", "source.AuditlogBook")
    _compare(AuditlogBook, pk, states)


def test_as_of_over_history_imported_from_reversion() -> None:
    sf = Category.objects.create(name="SF")
    novels = Label.objects.create(name="novels")
    with reversion.create_revision():
        book = ReversionBook.objects.create(title="Kindred", price=Decimal("3.00"))
    states = [_expected(book)]
    for step in (1, 2, 3):
        with reversion.create_revision():
            _edit(book, step, sf)
            book.save()
        states.append(_expected(book))
    with reversion.create_revision():
        book.tags.add(novels)
        book.save()
    for day, revision in enumerate(Revision.objects.order_by("pk")):
        Revision.objects.filter(pk=revision.pk).update(date_created=at(day))
    run_import("reversion")
    for day, state in enumerate(states):
        version = autoaudit.as_of(ReversionBook, book.pk, at(day) + SECOND)
        assert version is not None
        assert {name: version.values[name] for name in FIELDS} == state, day
    last = autoaudit.as_of(ReversionBook, book.pk, at(4) + SECOND)
    assert last is not None and last.values["title"] == "Kindred (2nd ed.)"
