"""``autoaudit_import --from pghistory`` against real trigger-written events
(PostgreSQL only; see ``conftest.py``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pghistory
import pytest
from django.contrib.auth.models import User

import autoaudit
from autoaudit.models import ActivityLog
from tests.importers.pgsource.models import PghistoryBook
from tests.importers.source.models import Category
from tests.importers.support import at, imported, run_import, source_id

# Transactional: pghistory's context lives until the transaction ends (one
# request, one transaction), so a test transaction would spread it.
pytestmark = pytest.mark.django_db(transaction=True)

Event = PghistoryBook.pgh_event_model  # type: ignore[attr-defined]


@pytest.fixture
def history() -> dict[str, object]:
    """Insert, update, a no-op update and delete events of one book by
    dave (through pghistory.context), and a book made outside any context;
    event ``i`` (by pgh_id) is dated ``at(i)``."""
    dave = User.objects.create_user("dave", "dave@example.com")
    sf = Category.objects.create(name="SF")
    with pghistory.context(user=dave.pk, url="/books/1/"):
        book = PghistoryBook.objects.create(title="Hyperion", price=Decimal("11.00"))
        book.title = "Hyperion Cantos"
        book.category = sf
        book.save()
        book.save()  # updated_at only (not tracked): no log
    other = PghistoryBook.objects.create(title="Endymion")
    pk = book.pk
    with pghistory.context(user=dave.pk, reason="duplicate"):
        book.delete()
    for day, event in enumerate(Event.objects.order_by("pgh_id")):
        Event.objects.filter(pgh_id=event.pgh_id).update(pgh_created_at=at(day))
    return {"dave": dave, "sf": sf, "pk": pk, "other": other.pk}


def test_events_become_creates_updates_and_deletes(history: dict[str, object]) -> None:
    out, _err = run_import("pghistory")
    assert "read 5 rows, imported 4 logs (2 create, 1 delete, 1 update)" in out
    logs = imported("pghistory")
    events = list(Event.objects.order_by("pgh_id"))
    pk, other, dave, sf = history["pk"], history["other"], history["dave"], history["sf"]
    assert isinstance(sf, Category)
    assert [(log.action, log.entity_pk, log.created_at, source_id(log)) for log in logs] == [
        ("create", str(pk), at(0), f"pgsource.PghistoryBookEvent:{events[0].pgh_id}"),
        ("update", str(pk), at(1), f"pgsource.PghistoryBookEvent:{events[1].pgh_id}"),
        ("create", str(other), at(3), f"pgsource.PghistoryBookEvent:{events[3].pgh_id}"),
        ("delete", str(pk), at(4), f"pgsource.PghistoryBookEvent:{events[4].pgh_id}"),
    ]
    for log in (logs[0], logs[1], logs[3]):
        assert (log.user, log.actor_type) == (dave, "user")
    assert (logs[2].user, logs[2].actor_type) == (None, "system")
    assert logs[0].extra_data is not None and logs[0].extra_data["url"] == "/books/1/"
    assert logs[3].extra_data is not None
    assert logs[3].extra_data["context"] == {"reason": "duplicate"}
    assert logs[0].new_values is not None and logs[0].new_values["price"] == "11.00"
    assert logs[1].changed_fields == ["title", "category"]
    assert logs[1].old_values == {"title": "Hyperion", "category": None}
    assert logs[1].new_values == {"title": "Hyperion Cantos", "category": sf.pk}
    assert logs[3].old_values is not None and logs[3].old_values["title"] == "Hyperion Cantos"


def test_as_of_over_imported_events(history: dict[str, object]) -> None:
    run_import("pghistory")
    pk, sf = history["pk"], history["sf"]
    assert isinstance(sf, Category)
    second = dt.timedelta(seconds=1)
    assert autoaudit.as_of(PghistoryBook, pk, at(0) - second) is None
    first = autoaudit.as_of(PghistoryBook, pk, at(0) + second)
    assert first is not None
    assert (first.values["title"], first.values["category"]) == ("Hyperion", None)
    assert first.values["price"] == Decimal("11.00")
    later = autoaudit.as_of(PghistoryBook, pk, at(3))
    assert later is not None
    assert (later.values["title"], later.values["category"]) == ("Hyperion Cantos", sf.pk)
    assert autoaudit.as_of(PghistoryBook, pk, at(4)) is None  # deleted


def test_a_user_deleted_since_is_named_by_key(history: dict[str, object]) -> None:
    dave = history["dave"]
    assert isinstance(dave, User)
    key = dave.pk
    dave.delete()  # the context's metadata keeps the key
    run_import("pghistory")
    first = imported("pghistory")[0]
    assert (first.actor_type, first.user, first.actor_name) == ("user", None, f"user #{key}")


def test_idempotent_dry_run_since_and_model_filter(history: dict[str, object]) -> None:
    run_import("pghistory", "--dry-run")
    assert not ActivityLog.objects.exists()
    run_import("pghistory", "--model", "source.Category")
    assert not ActivityLog.objects.exists()
    run_import("pghistory", "--since", at(2).isoformat(), "--model", "pgsource.PghistoryBook")
    assert [log.created_at for log in imported("pghistory")] == [at(3), at(4)]
    out, _err = run_import("pghistory", "--batch-size", "1")
    assert "imported 2 logs (1 create, 1 update), skipped 2 imported before" in out
