"""``autoaudit_import --from simple-history`` against real historical tables."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from simple_history.utils import update_change_reason

from autoaudit.models import ActivityLog
from tests.importers.source.models import Category, HistoryBook
from tests.importers.support import at, imported, run_import, source_id
from tests.typing_support import Track

pytestmark = pytest.mark.django_db

Historical = HistoryBook.history.model


@pytest.fixture
def history() -> dict[str, object]:
    """Two books: one created, updated twice (once with no change to a
    tracked field) and deleted by bob; one created by no one. Historical
    row ``i`` (by history_id) is dated ``at(i)``."""
    bob = User.objects.create_user("bob", first_name="Bob", last_name="Stone")
    sf = Category.objects.create(name="SF")
    book = HistoryBook(title="Solaris", price=Decimal("5.00"), category=sf, api_key="k-123456789")
    book._history_user = bob  # type: ignore[attr-defined]
    book.save()
    book.price = Decimal("6.50")
    book.published = dt.date(1961, 1, 1)
    book.metadata = {"specs": {"pages": 204}}
    book.save()
    update_change_reason(book, "price rise")
    book.save()  # only updated_at (not tracked) moves: no log
    other = HistoryBook.objects.create(title="Ubik")
    pk = book.pk
    book.delete()
    for day, row in enumerate(Historical.objects.order_by("history_id")):
        Historical.objects.filter(pk=row.pk).update(history_date=at(day))
    return {"bob": bob, "sf": sf, "pk": pk, "other": other.pk}


def test_consecutive_snapshots_become_creates_updates_and_deletes(
    history: dict[str, object],
) -> None:
    out, _err = run_import("simple-history")
    logs = imported("simple-history")
    pk, other = history["pk"], history["other"]
    assert [(log.entity_pk, log.action, log.created_at) for log in logs] == [
        (str(pk), "create", at(0)),
        (str(pk), "update", at(1)),
        (str(other), "create", at(3)),
        (str(pk), "delete", at(4)),
    ]
    assert "read 5 rows, imported 4 logs (2 create, 1 delete, 1 update)" in out
    rows = list(Historical.objects.order_by("history_id"))
    assert [source_id(log) for log in logs] == [
        f"source.HistoricalHistoryBook:{rows[i].history_id}" for i in (0, 1, 3, 4)
    ]
    bob, sf = history["bob"], history["sf"]
    assert isinstance(sf, Category)
    for log in (logs[0], logs[1], logs[3]):
        assert (log.actor_type, log.user, log.actor_name) == ("user", bob, "Bob Stone")
    assert (logs[2].actor_type, logs[2].user) == ("system", None)

    create = logs[0]
    assert create.new_values is not None
    assert create.new_values["title"] == "Solaris"
    assert create.new_values["price"] == "5.00"
    assert create.new_values["category"] == sf.pk
    assert create.new_values["api_key"] != "k-123456789"  # masked
    assert "updated_at" not in create.new_values  # auto_now: not tracked
    assert create.entity_name == "Solaris"

    update = logs[1]
    assert update.changed_fields == ["price", "published", "metadata"]
    assert update.old_values == {"price": "5.00", "published": None, "metadata": {}}
    assert update.new_values == {
        "price": "6.50",
        "published": "1961-01-01",
        "metadata": {"specs": {"pages": 204}},
    }
    assert update.extra_data is not None and update.extra_data["change_reason"] == "price rise"

    delete = logs[3]
    assert delete.old_values is not None and delete.new_values is None
    assert delete.old_values["price"] == "6.50"
    for log in logs:
        assert "k-123456789" not in json.dumps([log.old_values, log.new_values, log.entity_name])


def test_idempotent_dry_run_since_and_model_filter(history: dict[str, object]) -> None:
    out, _err = run_import("simple-history", "--dry-run")
    assert "would import 4 logs" in out and not ActivityLog.objects.exists()
    run_import("simple-history", "--since", at(2).isoformat(), "--batch-size", "2")
    # the snapshots before --since are read (the update at(1) is diffed
    # against the create at(0)) but only later changes are imported
    assert [log.created_at for log in imported("simple-history")] == [at(3), at(4)]
    out, _err = run_import("simple-history", "--batch-size", "2")
    assert "imported 2 logs (1 create, 1 update), skipped 2 imported before" in out
    out, _err = run_import("simple-history")
    assert "imported 0 logs, skipped 4" in out
    assert ActivityLog.objects.count() == 4
    out, _err = run_import("simple-history", "--model", "source.Category")
    assert "read 0 rows" in out


def test_pages_of_one_row_give_the_same_rows(history: dict[str, object]) -> None:
    run_import("simple-history", "--batch-size", "1")
    paged = [
        (log.action, log.entity_pk, log.old_values, log.new_values, log.created_at)
        for log in imported("simple-history")
    ]
    ActivityLog.objects.all().delete()
    run_import("simple-history")
    assert paged == [
        (log.action, log.entity_pk, log.old_values, log.new_values, log.created_at)
        for log in imported("simple-history")
    ]


def test_a_user_deleted_since_is_not_known(history: dict[str, object]) -> None:
    bob = history["bob"]
    assert isinstance(bob, User)
    bob.delete()  # history_user is SET_NULL: simple-history forgets who it was
    run_import("simple-history")
    assert imported("simple-history")[0].actor_type == "system"


def test_the_registered_options_of_the_model_apply(
    history: dict[str, object], track: Track
) -> None:
    track(HistoryBook, exclude_fields=["metadata"], mask_fields={"title": "partial"})
    run_import("simple-history")
    update = imported("simple-history")[1]
    assert update.changed_fields == ["price", "published"]
    create = imported("simple-history")[0]
    assert create.new_values is not None and create.new_values["title"] == "S***s"
    assert create.entity_name != "Solaris"
