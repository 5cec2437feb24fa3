"""``autoaudit_import --from reversion`` against real revisions."""

from __future__ import annotations

from decimal import Decimal

import pytest
import reversion
from django.contrib.auth.models import User
from reversion.models import Revision, Version

from autoaudit.models import ActivityLog
from tests.importers.source.models import Category, Label, ReversionBook
from tests.importers.support import at, imported, run_import, source_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def history() -> dict[str, object]:
    """Four revisions of one book by carol (create, a change, a save with
    no change, tags), a comment on the second; revision ``i`` is dated ``at(i)``."""
    carol = User.objects.create_user("carol", "carol@example.com")
    sf = Category.objects.create(name="SF")
    novels = Label.objects.create(name="novels")
    with reversion.create_revision():
        book = ReversionBook.objects.create(title="Neuromancer", price=Decimal("7.00"))
        reversion.set_user(carol)
    with reversion.create_revision():
        book.price = Decimal("8.25")
        book.category = sf
        book.save()
        reversion.set_user(carol)
        reversion.set_comment("new edition")
    with reversion.create_revision():
        book.save()  # a version equal to the one before: no log
    with reversion.create_revision():
        book.tags.add(novels)
        book.save()
        reversion.set_user(carol)
    for day, revision in enumerate(Revision.objects.order_by("pk")):
        Revision.objects.filter(pk=revision.pk).update(date_created=at(day))
    return {"carol": carol, "sf": sf, "novels": novels, "book": book}


def test_versions_become_a_create_and_the_changes_between_them(
    history: dict[str, object],
) -> None:
    out, _err = run_import("reversion")
    assert "read 4 rows, imported 3 logs (1 create, 2 update)" in out
    logs = imported("reversion")
    versions = list(Version.objects.order_by("pk"))
    book, sf, novels = history["book"], history["sf"], history["novels"]
    assert isinstance(book, ReversionBook) and isinstance(sf, Category)
    assert isinstance(novels, Label)
    assert [(log.action, log.created_at, source_id(log)) for log in logs] == [
        ("create", at(0), str(versions[0].pk)),
        ("update", at(1), str(versions[1].pk)),
        ("update", at(3), f"{versions[3].pk}:tags"),
    ]
    for log in logs:
        assert (log.user, log.actor_type, log.actor_identifier) == (
            history["carol"],
            "user",
            "carol@example.com",
        )
        assert log.entity_pk == str(book.pk) and log.computed_entity == "source.ReversionBook"
    create, update, tags = logs
    assert create.new_values is not None and create.new_values["price"] == "7.00"
    assert create.entity_name == "Neuromancer"
    assert update.changed_fields == ["price", "category"]
    assert update.old_values == {"price": "7.00", "category": None}
    assert update.new_values == {"price": "8.25", "category": sf.pk}
    assert update.extra_data is not None and update.extra_data["comment"] == "new edition"
    assert (tags.changed_fields, tags.old_values, tags.new_values) == (
        ["tags"],
        {"tags": []},
        {"tags": [novels.pk]},
    )


def test_a_delete_leaves_no_log_and_reruns_add_nothing(history: dict[str, object]) -> None:
    book = history["book"]
    assert isinstance(book, ReversionBook)
    book.delete()  # reversion records no delete
    run_import("reversion", "--batch-size", "1")
    assert [log.action for log in imported("reversion")] == ["create", "update", "update"]
    out, _err = run_import("reversion")
    assert "imported 0 logs, skipped 3 imported before" in out


def test_dry_run_since_and_model_filter(history: dict[str, object]) -> None:
    run_import("reversion", "--dry-run")
    assert not ActivityLog.objects.exists()
    run_import("reversion", "--model", "source.Category")
    assert not ActivityLog.objects.exists()
    run_import("reversion", "--since", at(1).isoformat(), "--model", "source.ReversionBook")
    assert [log.created_at for log in imported("reversion")] == [at(1), at(3)]
