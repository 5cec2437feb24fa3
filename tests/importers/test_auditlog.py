"""``autoaudit_import --from auditlog`` against django-auditlog's own rows."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.contrib.auth.models import User
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from autoaudit.models import ActivityLog
from tests.importers.source.models import AuditlogBook, Category, Label
from tests.importers.support import at, imported, run_import, source_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def history() -> dict[str, object]:
    """Real auditlog history: a create, an update, an M2M add and a delete
    by a user, an update with no actor; entry ``i`` is dated ``at(i)``."""
    alice = User.objects.create_user("alice", "alice@example.com", first_name="Alice")
    novels, classics = Label.objects.create(name="novels"), Label.objects.create(name="classics")
    with set_actor(alice, remote_addr="10.0.0.7"):
        sf = Category.objects.create(name="SF")
        old = Category.objects.create(name="Old")
        book = AuditlogBook.objects.create(
            title="Dune",
            price=Decimal("9.99"),
            published=dt.date(1965, 8, 1),
            category=sf,
            metadata={"pages": 412},
            api_key="sk-live-very-secret",
        )
        book.price = Decimal("12.50")
        book.in_stock = False
        book.category = old
        book.save()
        book.tags.add(novels, classics)
    book.title = "Dune (1965)"
    book.save()
    pk = book.pk
    book.delete()
    for day, entry in enumerate(LogEntry.objects.order_by("pk")):
        LogEntry.objects.filter(pk=entry.pk).update(timestamp=at(day))
    return {"alice": alice, "sf": sf, "old": old, "pk": pk}


def test_every_entry_becomes_a_row_with_its_actor_time_and_values(
    history: dict[str, object],
) -> None:
    out, err = run_import("auditlog")
    logs = imported("auditlog")
    entries = list(LogEntry.objects.order_by("timestamp", "pk"))
    assert [source_id(log) for log in logs] == [str(e.pk) for e in entries]
    assert "read 7 rows, imported 7 logs" in out
    assert "7/7 read" in err  # the progress bar, on stderr
    assert [log.created_at for log in logs] == [at(day) for day in range(7)]
    assert [(log.computed_entity, log.action) for log in logs] == [
        ("source.Category", "create"),
        ("source.Category", "create"),
        ("source.AuditlogBook", "create"),
        ("source.AuditlogBook", "update"),
        ("source.AuditlogBook", "update"),  # the M2M add
        ("source.AuditlogBook", "update"),
        ("source.AuditlogBook", "delete"),
    ]
    alice, sf, old = history["alice"], history["sf"], history["old"]
    assert isinstance(alice, User) and isinstance(sf, Category) and isinstance(old, Category)
    for log in logs[:5]:
        assert (log.actor_type, log.user, log.actor_name) == ("user", alice, "Alice")
        assert log.actor_identifier == "alice@example.com"
        assert log.ip_address == "10.0.0.7"
    assert (logs[5].actor_type, logs[5].user, logs[5].ip_address) == ("system", None, None)

    create = logs[2]
    assert create.entity_pk == str(history["pk"]) and create.entity_id == history["pk"]
    assert create.entity_name == "Dune"
    assert create.old_values is None and create.changed_fields is None
    assert create.new_values is not None
    assert create.new_values["title"] == "Dune"
    assert create.new_values["price"] == "9.99"
    assert create.new_values["published"] == "1965-08-01"
    assert create.new_values["in_stock"] is True
    assert create.new_values["category"] == sf.pk
    assert create.new_values["metadata"] == {"pages": 412}
    assert "id" not in create.new_values and "updated_at" not in create.new_values
    # masked as a change made today would be (api_key is a default mask)
    assert create.new_values["api_key"] != "sk-live-very-secret"
    for log in logs:
        assert "sk-live-very-secret" not in json.dumps(
            [log.old_values, log.new_values, log.extra_data, log.description, log.entity_name]
        )

    update = logs[3]
    assert update.changed_fields == ["price", "in_stock", "category"]
    assert update.old_values == {"price": "9.99", "in_stock": True, "category": sf.pk}
    assert update.new_values == {"price": "12.50", "in_stock": False, "category": old.pk}
    assert "price" in (update.description or "")

    m2m = logs[4]
    assert m2m.changed_fields == ["tags"]
    assert m2m.extra_data is not None
    assert m2m.extra_data["m2m"] == {
        "tags": {"operation": "add", "objects": ["novels", "classics"]}
    }

    delete = logs[6]
    assert delete.new_values is None and delete.old_values is not None
    assert delete.old_values["title"] == "Dune (1965)"
    assert delete.old_values["category"] == old.pk


def test_a_second_run_adds_nothing(history: dict[str, object]) -> None:
    run_import("auditlog")
    before = ActivityLog.objects.count()
    out, _err = run_import("auditlog", "--batch-size", "3")
    assert ActivityLog.objects.count() == before
    assert "imported 0 logs, skipped 7 imported before" in out


def test_a_dry_run_writes_nothing(history: dict[str, object]) -> None:
    out, _err = run_import("auditlog", "--dry-run")
    assert not ActivityLog.objects.exists()
    assert "would import 7 logs (3 create, 1 delete, 3 update)" in out


def test_since_and_the_model_filter(history: dict[str, object]) -> None:
    run_import("auditlog", "--since", at(3).isoformat())
    assert [log.created_at for log in imported("auditlog")] == [at(d) for d in range(3, 7)]
    run_import("auditlog", "--model", "source.Category")
    assert ActivityLog.objects.filter(computed_entity="source.Category").count() == 2
    assert ActivityLog.objects.count() == 6


def test_batches_cost_a_fixed_number_of_queries(history: dict[str, object]) -> None:
    # The count and the last (empty) page, then per batch: the page, the
    # ids already imported, the insert in its transaction (a savepoint
    # here, inside the test's), and the users where the batch names one
    # (the first five entries).
    with CaptureQueriesContext(connection) as one:
        run_import("auditlog", "--batch-size", "7", "--no-progress")
    assert len(one) == 2 + 1 * 5 + 1
    ActivityLog.objects.all().delete()
    with CaptureQueriesContext(connection) as seven:
        run_import("auditlog", "--batch-size", "1", "--no-progress")
    assert len(seven) == 2 + 7 * 5 + 5


def test_bad_input_is_a_clear_error(history: dict[str, object]) -> None:
    with pytest.raises(CommandError, match=r"--model: 'source\.Nope' is not an installed model"):
        run_import("auditlog", "--model", "source.Nope")
    with pytest.raises(CommandError, match="--since: 'yesterday' is not a date"):
        run_import("auditlog", "--since", "yesterday")


def test_actors_the_account_of_is_gone_guests_and_models_that_are_gone() -> None:
    from django.contrib.contenttypes.models import ContentType

    erin = User.objects.create_user("erin", "erin@example.com")
    with set_actor(erin):
        sf = Category.objects.create(name="SF")
    with set_actor(None, remote_addr="192.0.2.9"):
        sf.name = "Science fiction"
        sf.save()
    erin.delete()  # auditlog keeps her email on her entries
    gone = ContentType.objects.create(app_label="shop", model="widget")
    LogEntry.objects.create(
        content_type=gone,
        object_pk="17",
        object_id=17,
        object_repr="Widget 17",
        action=LogEntry.Action.UPDATE,
        changes={"colour": ["red", "blue"]},
        timestamp=at(9),
    )
    run_import("auditlog")
    widget, by_id, guest = imported("auditlog")  # the widget's entry is dated 2024
    assert (by_id.actor_type, by_id.user, by_id.actor_identifier) == (
        "user",
        None,
        "erin@example.com",
    )
    assert (guest.actor_type, guest.actor_identifier, guest.ip_address) == (
        "guest",
        "192.0.2.9",
        "192.0.2.9",
    )
    assert guest.changed_fields == ["name"]
    assert (widget.computed_entity, widget.entity_pk, widget.entity_name) == (
        "shop.widget",
        "17",
        "Widget 17",
    )
    assert (widget.old_values, widget.new_values) == ({"colour": "red"}, {"colour": "blue"})
    out, _err = run_import("auditlog")
    assert "imported 0 logs, skipped 3 imported before" in out
