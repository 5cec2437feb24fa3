"""On PostgreSQL the delete of a lone row whose values autoaudit knows
(loaded, or last saved) is one statement: Django's ``DELETE``, guarded by
those values, with its log. Anything else, and a guard that matches no row,
takes the usual path: a transaction, ``DELETE ... RETURNING``, the log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

import autoaudit
from autoaudit.models import ActivityLog
from tests.test_transactions import _commits, failing_log_inserts
from tests.testapp.models import ContactMessage, Product, Tag
from tests.typing_support import Track

POSTGRES = connection.vendor == "postgresql"
pytestmark = pytest.mark.django_db(transaction=True)


def statements(operation: Callable[[], Any]) -> CaptureQueriesContext:
    with CaptureQueriesContext(connection) as context:
        operation()
    return context


def one_statement(context: CaptureQueriesContext) -> bool:
    sql = [q["sql"] for q in context.captured_queries]
    return len(sql) == 1 and sql[0].startswith("WITH aa_row AS (DELETE") and _commits(context) == 0


def deletes() -> list[Any]:
    return list(
        ActivityLog.objects.filter(action="delete")
        .order_by("id")
        .values_list("entity_pk", "old_values")
    )


def old(name: str) -> dict[str, str]:
    """A deleted message's old values."""
    return {"name": name, "email": "", "phone": "", "message": "m"}


def raw_sql(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_loaded_row_is_deleted_with_its_log_in_one_statement(track: Track) -> None:
    track(ContactMessage)
    made = ContactMessage.objects.create(name="a", message="m")
    message = ContactMessage.objects.get(pk=made.pk)
    with autoaudit.disabled():
        untracked = ContactMessage.objects.create(name="u", message="m")
        expected = untracked.delete()
    result: list[Any] = []
    context = statements(lambda: result.append(message.delete()))
    assert one_statement(context) is POSTGRES, context.captured_queries
    assert result == [(expected[0], {"testapp.ContactMessage": 1})] and message.pk is None
    assert deletes() == [(str(made.pk), old("a"))]
    assert not ContactMessage.objects.filter(pk=made.pk).exists()


@pytest.mark.parametrize(
    ("saved", "logged"), [(True, "b"), (False, "a")], ids=["saved", "changed_in_memory_only"]
)
def test_the_values_last_saved_are_what_the_log_says_was_deleted(
    track: Track, saved: bool, logged: str
) -> None:
    track(ContactMessage)
    message = ContactMessage.objects.create(name="a", message="m")
    message.name = "b"
    if saved:
        message.save()
    pk = message.pk
    assert one_statement(statements(message.delete)) is POSTGRES
    assert deletes() == [(str(pk), old(logged))]


def test_a_row_changed_since_it_was_loaded_logs_what_the_delete_removed(track: Track) -> None:
    track(ContactMessage)
    message = ContactMessage.objects.create(name="a", message="m")
    pk = message.pk
    raw_sql(f"UPDATE {ContactMessage._meta.db_table} SET name = %s WHERE id = %s", ["changed", pk])
    context = statements(message.delete)
    assert not one_statement(context)
    assert deletes() == [(str(pk), old("changed"))]


def test_a_row_gone_since_it_was_loaded_is_not_logged(track: Track) -> None:
    track(ContactMessage)
    message = ContactMessage.objects.create(name="a", message="m")
    raw_sql(f"DELETE FROM {ContactMessage._meta.db_table} WHERE id = %s", [message.pk])
    with autoaudit.disabled():
        gone = ContactMessage.objects.create(name="g", message="m")
        raw_sql(f"DELETE FROM {ContactMessage._meta.db_table} WHERE id = %s", [gone.pk])
        expected = gone.delete()
    assert message.delete() == expected
    assert deletes() == []


def test_a_log_the_database_rejects_leaves_the_row(track: Track) -> None:
    track(Tag)
    tag = Tag.objects.create(name="a")
    with failing_log_inserts(), pytest.raises(DatabaseError):
        tag.delete()
    assert Tag.objects.filter(name="a").exists()
    assert deletes() == []


@contextmanager
def rejected_deletes() -> Iterator[None]:
    """The database refuses every delete of a tag (a trigger)."""
    if connection.vendor == "postgresql":
        create = [
            "CREATE FUNCTION aa_keep() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'kept'; END $$",
            f"CREATE TRIGGER aa_keep BEFORE DELETE ON {Tag._meta.db_table} "
            "FOR EACH ROW EXECUTE FUNCTION aa_keep()",
        ]
        drop = [f"DROP TRIGGER aa_keep ON {Tag._meta.db_table}", "DROP FUNCTION aa_keep()"]
    elif connection.vendor == "sqlite":
        create = [
            f"CREATE TRIGGER aa_keep BEFORE DELETE ON {Tag._meta.db_table} "
            "BEGIN SELECT RAISE(ABORT, 'kept'); END"
        ]
        drop = ["DROP TRIGGER aa_keep"]
    else:
        create = [
            f"CREATE TRIGGER aa_keep BEFORE DELETE ON {Tag._meta.db_table} FOR EACH ROW "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'kept'"
        ]
        drop = ["DROP TRIGGER aa_keep"]
    for sql in create:
        raw_sql(sql, [])
    try:
        yield
    finally:
        for sql in drop:
            raw_sql(sql, [])


def test_a_delete_the_database_rejects_leaves_no_log(track: Track) -> None:
    track(Tag)
    tag = Tag.objects.create(name="a")
    with rejected_deletes():
        with pytest.raises(DatabaseError):
            tag.delete()
        with autoaudit.disabled(), pytest.raises(DatabaseError):
            Tag.objects.get().delete()  # as untracked
    assert Tag.objects.count() == 1
    assert deletes() == []


def test_a_lone_row_whose_links_are_tracked_takes_the_usual_path(track: Track) -> None:
    track(Product, m2m_fields=["tags"])
    product = Product.objects.create(name="a")
    assert not one_statement(statements(product.delete))
    assert len(deletes()) == 1


def test_a_delete_reaching_tracked_rows_takes_the_usual_path(track: Track) -> None:
    track(Tag)
    track(Product, m2m_fields=["tags"])
    tag = Tag.objects.create(name="t")
    product = Product.objects.create(name="p")
    product.tags.add(tag)
    assert not one_statement(statements(tag.delete))
    logs = ActivityLog.objects.order_by("id")
    assert [(log.action, log.computed_entity) for log in logs][-2:] == [
        ("delete", "testapp.Tag"),
        ("update", "testapp.Product"),
    ]


def test_an_untracked_many_to_many_link_goes_in_djangos_transaction(track: Track) -> None:
    track(Tag)
    tag = Tag.objects.create(name="t")
    with autoaudit.disabled():
        product = Product.objects.create(name="p")
        product.tags.add(tag)
    pk = tag.pk
    context = statements(tag.delete)
    if POSTGRES:  # Django's link DELETE, then ours, in Django's transaction
        sql = [q["sql"] for q in context.captured_queries]
        assert sql[-2].startswith("WITH aa_row AS (DELETE") and _commits(context) == 1, sql
    assert deletes() == [(str(pk), {"name": "t"})]
    assert not product.tags.exists()
