"""The change and its log commit together, or not at all."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

import autoaudit
from autoaudit.models import ActivityLog
from tests.testapp.models import Product, Untracked
from tests.typing_support import Track


def _commits(context: CaptureQueriesContext) -> int:
    return sum(1 for q in context.captured_queries if q["sql"].strip().upper() == "COMMIT")


_REJECT = {
    "postgresql": (
        [
            "CREATE FUNCTION aa_reject() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'log rejected'; END $$",
            "CREATE TRIGGER aa_reject BEFORE INSERT ON activity_logs "
            "FOR EACH ROW EXECUTE FUNCTION aa_reject()",
        ],
        ["DROP TRIGGER aa_reject ON activity_logs", "DROP FUNCTION aa_reject()"],
    ),
    "sqlite": (
        [
            "CREATE TRIGGER aa_reject BEFORE INSERT ON activity_logs "
            "BEGIN SELECT RAISE(ABORT, 'log rejected'); END"
        ],
        ["DROP TRIGGER aa_reject"],
    ),
    "mysql": (
        [
            "CREATE TRIGGER aa_reject BEFORE INSERT ON activity_logs FOR EACH ROW "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'log rejected'"
        ],
        ["DROP TRIGGER aa_reject"],
    ),
}


@contextmanager
def failing_log_inserts() -> Iterator[None]:
    """Make every insert into activity_logs fail in the real database: a
    trigger rejects each row, however the statement that carries it is
    built (alone, ``COPY``, or with the change in one statement), so
    PostgreSQL really aborts the transaction, as a genuine failure would."""
    create, drop = _REJECT[connection.vendor]
    with connection.cursor() as cursor:
        for sql in create:
            cursor.execute(sql)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for sql in drop:
                cursor.execute(sql)


@pytest.mark.django_db(transaction=True)
class TestAutocommit:
    def test_one_commit_per_tracked_write(self, track: Track) -> None:
        track(Product)
        with CaptureQueriesContext(connection) as create:
            product = Product.objects.create(name="P")
        product.stock = 5
        with CaptureQueriesContext(connection) as update:
            product.save()
        with CaptureQueriesContext(connection) as delete:
            product.delete()
        # PostgreSQL: a save's row and log are one statement, committed on its
        # own (no read: the update is guarded by the values the create saved);
        # the delete's log goes in with its DELETE, in the transaction Django
        # opens for it (it deletes the product's tag links first).
        if connection.vendor == "postgresql":
            assert (_commits(create), _commits(update), _commits(delete)) == (0, 0, 1)
            assert (len(create.captured_queries), len(update.captured_queries)) == (1, 1)
            with autoaudit.disabled(), CaptureQueriesContext(connection) as own:
                Product.objects.create(name="Q").delete()
            assert len(delete.captured_queries) == len(own.captured_queries) - 1
        else:
            assert (_commits(create), _commits(update), _commits(delete)) == (1, 1, 1)
        assert ActivityLog.objects.count() == 3

    def test_untracked_writes_open_no_transaction(self) -> None:
        with CaptureQueriesContext(connection) as context:
            Untracked.objects.create(name="x")
        assert _commits(context) == 0

    def test_a_save_the_database_rejects_leaves_no_log(self, track: Track) -> None:
        track(Product)
        Product.objects.create(name="A", sku="SKU-1")
        with pytest.raises(IntegrityError):
            Product.objects.create(name="B", sku="SKU-1")
        other = Product.objects.create(name="C", sku="SKU-2")
        other.sku = "SKU-1"
        with pytest.raises(IntegrityError):
            other.save()
        assert list(ActivityLog.objects.values_list("entity_name", "action").order_by("id")) == [
            ("A", "create"),
            ("C", "create"),
        ]

    def test_on_error_raise_undoes_the_change(self, track: Track) -> None:
        track(Product)
        with failing_log_inserts(), pytest.raises(DatabaseError):
            Product.objects.create(name="never")
        assert not Product.objects.filter(name="never").exists()
        assert ActivityLog.objects.count() == 0

    def test_on_error_log_keeps_the_change_and_reports(
        self, track: Track, settings: Settings, caplog: pytest.LogCaptureFixture
    ) -> None:
        settings.AUTOAUDIT = {"ON_ERROR": "log"}
        track(Product)
        with caplog.at_level(logging.ERROR, logger="autoaudit"), failing_log_inserts():
            product = Product.objects.create(name="kept")
            with transaction.atomic():
                product.stock = 4
                product.save()
                # The outer transaction is still usable after the failure.
                assert Product.objects.filter(pk=product.pk, stock=4).exists()
        assert Product.objects.get(pk=product.pk).stock == 4
        assert ActivityLog.objects.count() == 0
        assert len([r for r in caplog.records if "could not write" in r.getMessage()]) == 2

    def test_concurrent_saves_of_one_row_are_both_logged(self, track: Track) -> None:
        track(Product)
        product = Product.objects.create(name="P", stock=0)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def worker(value: int) -> None:
            from django.db import connections

            try:
                item = Product.objects.get(pk=product.pk)
                item.stock = value
                barrier.wait(timeout=10)
                item.save()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker, args=(v,)) for v in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors
        updates = list(ActivityLog.objects.filter(action="update").order_by("id"))
        assert len(updates) == 2
        first, second = updates
        # A locking read gives a true chain: the second saw the first's value.
        assert first.old_values == {"stock": 0}
        assert second.old_values == first.new_values
        assert {first.new_values["stock"], second.new_values["stock"]} == {1, 2}


@pytest.mark.django_db
class TestInsideTransactions:
    def test_rollback_leaves_no_log(self, track: Track) -> None:
        track(Product)
        with pytest.raises(RuntimeError), transaction.atomic():
            Product.objects.create(name="rolled back")
            raise RuntimeError
        assert ActivityLog.objects.count() == 0

    def test_savepoint_rollback_drops_only_the_inner_log(self, track: Track) -> None:
        track(Product)
        with transaction.atomic():
            Product.objects.create(name="outer")
            try:
                with transaction.atomic():
                    Product.objects.create(name="inner")
                    raise RuntimeError
            except RuntimeError:
                pass
        assert list(ActivityLog.objects.values_list("entity_name", flat=True)) == ["outer"]
