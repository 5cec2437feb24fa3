"""The log tells the truth under concurrency and at the edges: the rows the
database really changed, with the values they really held, and the same
errors (and waits) a caller sees untracked."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.tracking import bulk, rows
from tests.testapp.models import Place, Product, Restaurant, Tag, UUIDItem
from tests.typing_support import Track

pytestmark = pytest.mark.django_db(transaction=True)

HOLD = 0.5  # seconds a concurrent transaction holds its lock


def run_in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, errors


@contextmanager
def concurrent_writer(work: Callable[[], Any]) -> Iterator[None]:
    """Run ``work`` in another thread's transaction that then holds its locks
    for :data:`HOLD` seconds; the body runs while it holds them."""
    started = threading.Event()

    def hold() -> None:
        with transaction.atomic():
            work()
            started.set()
            time.sleep(HOLD)

    thread, errors = run_in_thread(hold)
    assert started.wait(10), errors
    try:
        yield
    finally:
        thread.join(30)
        assert not errors


def logs(**filters: Any) -> list[ActivityLog]:
    return list(ActivityLog.objects.filter(**filters).order_by("id"))


# -- waiting for a concurrent writer ------------------------------------------------------
@pytest.mark.parametrize("tracked", [False, True], ids=["untracked", "tracked"])
@pytest.mark.parametrize("where", ["autocommit", "atomic"])
def test_a_write_waits_for_a_concurrent_writer_as_untracked(
    track: Track, tracked: bool, where: str
) -> None:
    """SQLite's lock, PostgreSQL's and MariaDB's row locks: the tracked save
    waits and succeeds, as the untracked one does, in autocommit mode and
    inside the caller's own ``atomic()`` (SQLite refuses a transaction that
    read first at once: the tracked one takes the write lock before it reads)."""
    if tracked:
        track(Product)
    product = Product.objects.create(name="p", stock=1)
    with concurrent_writer(lambda: Product.objects.filter(pk=product.pk).update(stock=2)):
        started = time.monotonic()
        # No read first: untracked, SQLite would refuse that at once too.
        with transaction.atomic() if where == "atomic" else nullcontext():
            product.stock = 3
            product.save()
        waited = time.monotonic() - started
    assert Product.objects.get(pk=product.pk).stock == 3
    assert waited > HOLD / 2
    if tracked:  # after the concurrent writer's own log
        assert [u.new_values for u in logs(action="update")] == [{"stock": 2}, {"stock": 3}]


@pytest.mark.parametrize("tracked", [False, True], ids=["untracked", "tracked"])
def test_an_m2m_change_waits_for_a_concurrent_writer_as_untracked(
    track: Track, tracked: bool
) -> None:
    if tracked:
        track(Product, m2m_fields=["tags"])
    product = Product.objects.create(name="p")
    tags = [Tag.objects.create(name=str(i)) for i in range(2)]
    product.tags.add(tags[0])
    with concurrent_writer(lambda: Tag.objects.filter(pk=tags[1].pk).update(name="x")):
        product.tags.remove(tags[0])
        product.tags.add(tags[1])
    assert list(product.tags.values_list("pk", flat=True)) == [tags[1].pk]
    if tracked:
        assert [log.new_values for log in logs(changed_fields__isnull=False)][-2:] == [
            {"tags": []},
            {"tags": [tags[1].pk]},
        ]


def test_sqlite_claims_the_write_lock_once_per_transaction(track: Track) -> None:
    track(Product)
    products = [Product.objects.create(name=str(i)) for i in range(3)]
    sent: list[str] = []
    with transaction.atomic():
        if connection.vendor == "sqlite":  # what the driver really sends
            connection.connection.set_trace_callback(sent.append)
        try:
            with CaptureQueriesContext(connection) as context:
                for product in products:
                    product.stock = 5
                    product.save()
        finally:
            if connection.vendor == "sqlite":
                connection.connection.set_trace_callback(None)
    claims = [sql for sql in sent if sql.endswith("WHERE 0")]
    assert len(claims) == (1 if connection.vendor == "sqlite" else 0)
    # A lock, not a query: not in Django's query log.
    assert not [q for q in context.captured_queries if "WHERE 0" in q["sql"]]


# -- M2M chains ---------------------------------------------------------------------------
def test_concurrent_m2m_adds_log_a_true_chain(track: Track) -> None:
    track(Product, m2m_fields=["tags"])
    product = Product.objects.create(name="p")
    first, second = Tag.objects.create(name="1"), Tag.objects.create(name="2")
    with concurrent_writer(lambda: Product.objects.get(pk=product.pk).tags.add(first)):
        Tag.objects.get(pk=second.pk).products.add(product)  # the reverse side
    updates = logs(changed_fields__isnull=False)
    assert [(u.old_values, u.new_values) for u in updates] == [
        ({"tags": []}, {"tags": [first.pk]}),
        ({"tags": [first.pk]}, {"tags": sorted([first.pk, second.pk])}),
    ]


def test_adding_a_missing_row_logs_nothing(track: Track) -> None:
    """PostgreSQL and SQLite refuse the link; MariaDB's INSERT IGNORE drops
    it silently: either way the list did not change and there is no log."""
    track(Product, m2m_fields=["tags"])
    product = Product.objects.create(name="p")
    with suppress(IntegrityError):
        product.tags.add(999999)
    assert list(product.tags.all()) == []
    assert logs(changed_fields__isnull=False) == []


def test_deleting_a_target_logs_the_lists_it_leaves(track: Track) -> None:
    track(Product, m2m_fields=["tags"])
    a, b = Product.objects.create(name="a"), Product.objects.create(name="b")
    keep, gone = Tag.objects.create(name="keep"), Tag.objects.create(name="gone")
    a.tags.add(keep, gone)
    b.tags.add(gone)
    ActivityLog.objects.all().delete()
    gone_pk = gone.pk
    assert gone.delete()[0] == 3  # the tag and its two links, as untracked
    assert sorted(((u.entity_name, u.old_values, u.new_values) for u in logs()), key=str) == [
        ("a", {"tags": sorted([keep.pk, gone_pk])}, {"tags": [keep.pk]}),
        ("b", {"tags": [gone_pk]}, {"tags": []}),
    ]


def test_deleting_a_tracked_owner_logs_no_m2m_update(track: Track) -> None:
    track(Product, m2m_fields=["tags"])
    product = Product.objects.create(name="p")
    product.tags.add(Tag.objects.create(name="t"))
    ActivityLog.objects.all().delete()
    product.delete()
    assert [log.action for log in logs()] == ["delete"]


# -- deletes ------------------------------------------------------------------------------
def test_a_stale_instance_logs_the_row_it_deleted(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="p", stock=1)
    stale = Product.objects.get(pk=product.pk)
    Product.objects.filter(pk=product.pk).update(stock=9, name="fresh")
    stale.delete()
    (delete,) = logs(action="delete")
    assert (delete.old_values["stock"], delete.entity_name) == (9, "fresh")
    assert stale.name == "p"  # the caller's instance stays as Django leaves it


@pytest.mark.parametrize("tracked", [False, True], ids=["untracked", "tracked"])
def test_deleting_one_row_twice_returns_and_logs_as_it_happened(
    track: Track, tracked: bool
) -> None:
    if tracked:
        track(Product)
    product = Product.objects.create(name="p")
    one, two = Product.objects.get(pk=product.pk), Product.objects.get(pk=product.pk)
    assert one.delete()[0] == 1
    assert two.delete()[0] == 0
    assert len(logs(action="delete")) == (1 if tracked else 0)


def test_queryset_delete_racing_an_update_logs_the_committed_value(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="p", stock=1)
    Tag.objects.create(name="t").products.add(product)  # not a fast delete
    with concurrent_writer(lambda: Product.objects.filter(pk=product.pk).update(stock=7)):
        Product.objects.filter(pk=product.pk).delete()
    (delete,) = logs(action="delete")
    assert delete.old_values["stock"] == 7


def test_a_delete_costs_no_read_where_the_database_returns_rows(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="p")
    with CaptureQueriesContext(connection) as context:
        product.delete()
    sql = [q["sql"] for q in context.captured_queries]
    assert not any(s.startswith("SELECT") for s in sql)
    assert any(" RETURNING " in s for s in sql)


def test_a_multi_table_child_is_read_locked_before_its_delete(track: Track) -> None:
    track(Restaurant)
    restaurant = Restaurant.objects.create(name="r", serves_pizza=True)
    stale = Restaurant.objects.get(pk=restaurant.pk)
    Place.objects.filter(pk=restaurant.pk).update(name="renamed")
    stale.delete()
    (delete,) = logs(action="delete")
    assert delete.old_values["name"] == "renamed"


# -- bulk_create with conflicts -----------------------------------------------------------
def test_ignore_conflicts_logs_the_rows_inserted(track: Track) -> None:
    track(Product)
    track(UUIDItem)
    Product.objects.create(name="old", sku="A")
    item = UUIDItem.objects.create(name="old")
    ActivityLog.objects.all().delete()
    Product.objects.bulk_create(
        [Product(name="skipped", sku="A"), Product(name="new", sku="B")], ignore_conflicts=True
    )
    UUIDItem.objects.bulk_create(
        [UUIDItem(id=item.id, name="skipped"), UUIDItem(name="fresh")], ignore_conflicts=True
    )
    created = [(log.entity, log.entity_name) for log in logs(action="create")]
    if connection.features.can_return_rows_from_bulk_insert:
        assert created == [("product", "new"), ("uuiditem", "fresh")]
        new = Product.objects.get(sku="B")
        assert logs(entity="product")[0].entity_id == new.pk
    else:  # MySQL: only objects whose key was free
        assert created == [("uuiditem", "fresh")]


def test_update_conflicts_logs_an_update_of_the_row_it_met(track: Track) -> None:
    track(Product)
    Product.objects.create(name="old", sku="A", stock=1)
    ActivityLog.objects.all().delete()
    Product.objects.bulk_create(
        [Product(name="upserted", sku="A", stock=5), Product(name="new", sku="B")],
        update_conflicts=True,
        update_fields=["name", "stock"],
        unique_fields=None if connection.vendor == "mysql" else ["sku"],
    )
    summary = [(log.action, log.entity_name, log.old_values) for log in logs()]
    assert summary == [
        ("create", "new", None),
        ("update", "upserted", {"name": "old", "stock": 1}),
    ]


def test_update_conflicts_on_a_primary_key_logs_an_update(track: Track) -> None:
    track(Product)
    kept = Product.objects.create(name="old", sku="A", stock=1)
    ActivityLog.objects.all().delete()
    Product.objects.bulk_create(
        [Product(pk=kept.pk, name="upserted", stock=5), Product(pk=kept.pk + 100, name="new")],
        update_conflicts=True,
        update_fields=["name", "stock"],
        unique_fields=None if connection.vendor == "mysql" else ["pk"],
    )
    assert [(log.action, log.entity_pk, log.old_values) for log in logs()] == [
        ("create", str(kept.pk + 100), None),
        ("update", str(kept.pk), {"name": "old", "stock": 1}),
    ]
    assert Product.objects.get(pk=kept.pk).name == "upserted"


def test_update_conflicts_are_classified_by_the_row_the_database_met(track: Track) -> None:
    """The database's idea of equal decides, not Python's: MariaDB's
    case-insensitive collation makes "a" meet the row of "A" (it hands that
    row's key back); PostgreSQL and SQLite insert it."""
    track(Product)
    kept = Product.objects.create(name="old", sku="A")
    ActivityLog.objects.all().delete()
    Product.objects.bulk_create(
        [Product(name="upserted", sku="a")],
        update_conflicts=True,
        update_fields=["name"],
        unique_fields=None if connection.vendor == "mysql" else ["sku"],
    )
    (log,) = logs()
    if connection.vendor == "mysql":
        assert (log.action, log.entity_pk, log.old_values) == (
            "update",
            str(kept.pk),
            {"name": "old"},
        )
    else:
        assert (log.action, log.old_values) == ("create", None)
        assert log.entity_pk != str(kept.pk)


def test_update_conflicts_without_returning_logs_updates_and_creates(
    track: Track, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MySQL's path (no ``INSERT ... RETURNING``), on this database: an
    object that met a row (on a unique field, not the key) is an update of
    that row; one that met none was inserted, a create, with its key when
    it was given."""
    track(Product)
    kept = Product.objects.create(name="old", sku="A", stock=1)
    ActivityLog.objects.all().delete()
    features = connection.features
    monkeypatch.delitem(features.__dict__, "can_return_rows_from_bulk_insert", raising=False)
    monkeypatch.setattr(type(features), "can_return_rows_from_bulk_insert", False)
    Product.objects.bulk_create(
        [
            Product(name="upserted", sku="A", stock=5),
            Product(name="new", sku="B"),
            Product(pk=kept.pk + 100, name="preset", sku="C"),
        ],
        update_conflicts=True,
        update_fields=["name", "stock"],
        unique_fields=None if connection.vendor == "mysql" else ["sku"],
    )
    assert [(log.action, log.entity_pk, log.entity_name, log.old_values) for log in logs()] == [
        ("create", None, "new", None),
        ("create", str(kept.pk + 100), "preset", None),
        ("update", str(kept.pk), "upserted", {"name": "old", "stock": 1}),
    ]
    assert Product.objects.count() == 3


# -- phantom rows -------------------------------------------------------------------------
def test_an_update_that_meets_a_row_it_did_not_read_is_retried(
    track: Track, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stands in for a row another transaction inserts between the locking
    read and Django's UPDATE: the first read misses one row."""
    track(Product)
    for name in "ab":
        Product.objects.create(name=name)
    ActivityLog.objects.all().delete()
    real, reads = rows.locked_rows, []

    def missing_one(queryset: Any, using: str) -> list[Any]:
        rows = real(queryset, using)
        reads.append(len(rows))
        return rows[1:] if len(reads) == 1 else rows

    monkeypatch.setattr(bulk, "locked_rows", missing_one)
    assert Product.objects.update(stock=4) == 2
    assert reads == [2, 2]
    assert sorted(str(log.entity_name) for log in logs(action="update")) == ["a", "b"]


def test_inside_a_callers_transaction_a_phantom_is_reported(
    track: Track, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    track(Product)
    for name in "ab":
        Product.objects.create(name=name)
    ActivityLog.objects.all().delete()
    real = rows.locked_rows
    monkeypatch.setattr(bulk, "locked_rows", lambda qs, using: real(qs, using)[1:])
    with caplog.at_level(logging.WARNING, "autoaudit"), transaction.atomic():
        assert Product.objects.update(stock=4) == 2
    assert len(logs(action="update")) == 1
    assert "1 testapp.Product row(s)" in caplog.text


# -- documented limitation ----------------------------------------------------------------
def test_an_update_through_a_parent_queryset_is_logged_under_the_parent(track: Track) -> None:
    """docs/tracking.md: a ``QuerySet.update()`` on a registered parent
    logs under the parent (that is the queryset's model); the child's own
    history holds its saves and deletes."""
    track(Place)
    track(Restaurant)
    restaurant = Restaurant.objects.create(name="r", serves_pizza=False)
    Place.objects.filter(pk=restaurant.pk).update(name="renamed")
    assert [(log.entity, log.action) for log in logs()] == [
        ("restaurant", "create"),
        ("place", "update"),
    ]
    assert [log.action for log in autoaudit.history(restaurant)] == ["create"]


def test_a_key_django_refuses_raises_its_error_again_in_the_same_transaction(
    track: Track,
) -> None:
    """Django's ``test_invalid_value``: the first refusal marks the
    transaction for rollback without a query; the second must raise Django's
    error again, not a TransactionManagementError from a key lock of ours."""
    track(Product)
    with transaction.atomic():
        refused: list[tuple[Any, type[Exception]]] = [([], TypeError), ("x", ValueError)]
        for value, error in refused:
            with pytest.raises(error):
                Product.objects.create(pk=value, name="a")


# -- keys given as another type than the database's ---------------------------------------
def test_keys_given_as_text_still_find_their_rows(track: Track) -> None:
    track(Product)
    kept, gone = Product.objects.create(name="a"), Product.objects.create(name="b")
    ActivityLog.objects.all().delete()
    Product.objects.bulk_update([Product(pk=str(kept.pk), name="renamed")], ["name"])
    Product(pk=str(gone.pk)).delete()
    upsert = Product(pk=str(kept.pk), name="upserted", sku="S")
    target = None if connection.vendor == "mysql" else ["id"]
    Product.objects.bulk_create(
        [upsert], update_conflicts=True, update_fields=["name"], unique_fields=target
    )
    assert [
        (log.action, log.entity_pk, log.old_values and log.old_values.get("name")) for log in logs()
    ] == [
        ("update", str(kept.pk), "a"),
        ("delete", str(gone.pk), "b"),
        ("update", str(kept.pk), "renamed"),
    ]


def test_bulk_update_with_a_row_in_two_batches_logs_the_value_kept(
    track: Track, caplog: pytest.LogCaptureFixture
) -> None:
    track(Product)
    product = Product.objects.create(name="old")
    missing = Product(pk=product.pk + 1000, name="none")
    twice = [Product(pk=product.pk, name="first"), missing, Product(pk=product.pk, name="second")]
    ActivityLog.objects.all().delete()
    with caplog.at_level(logging.WARNING, "autoaudit"):
        Product.objects.bulk_update(twice, ["name"], batch_size=1)
    assert Product.objects.get(pk=product.pk).name == "second"
    assert [log.new_values for log in logs()] == [{"name": "second"}]
    assert "no log" not in caplog.text


def test_a_save_whose_row_is_gone_locks_its_key_and_reads_again(track: Track) -> None:
    """PostgreSQL: the key is locked, then the row read again (a concurrent
    re-create would be found); the save then inserts, as untracked."""
    track(Product)
    product = Product.objects.create(name="p")
    Product.objects.filter(pk=product.pk).delete()
    ActivityLog.objects.all().delete()
    product.name = "back"
    with CaptureQueriesContext(connection) as context:
        product.save()
    sql = [q["sql"] for q in context.captured_queries]
    locks = [s for s in sql if "pg_advisory_xact_lock" in s]
    reads = [s for s in sql if s.startswith("SELECT") and "pg_advisory" not in s]
    assert len(locks) == (1 if connection.vendor == "postgresql" else 0)
    assert len(reads) == (2 if connection.vendor == "postgresql" else 1)
    assert [(log.action, log.entity_name) for log in logs()] == [("create", "back")]


def test_ignore_conflicts_without_returning_logs_the_free_keys(
    track: Track, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MySQL's path (no INSERT ... RETURNING), on this database: objects
    whose preset key was free are logged, those whose key was taken not."""
    track(UUIDItem)
    taken = UUIDItem.objects.create(name="old")
    ActivityLog.objects.all().delete()
    features = connection.features  # a property on some backends, cached on others
    monkeypatch.delitem(features.__dict__, "can_return_rows_from_bulk_insert", raising=False)
    monkeypatch.setattr(type(features), "can_return_rows_from_bulk_insert", False)
    UUIDItem.objects.bulk_create(
        [UUIDItem(id=taken.id, name="skipped"), UUIDItem(name="fresh")], ignore_conflicts=True
    )
    assert [log.entity_name for log in logs(action="create")] == ["fresh"]


def test_a_save_that_meets_a_row_re_created_after_its_read_logs_that_row(track: Track) -> None:
    """A stale instance saves a row that is gone when autoaudit reads it; another
    transaction re-creates the key before Django's ``UPDATE``. Whatever the
    database lets happen (MariaDB: the ``UPDATE`` changes the new row;
    PostgreSQL: the re-create waits for the key and fails; SQLite: it waits for
    the write lock and fails), every committed write has its log, with the
    values the row held before it."""
    track(Product)
    product = Product.objects.create(name="first", stock=1)
    Product.objects.filter(pk=product.pk).delete()
    ActivityLog.objects.all().delete()
    product.name, product.stock = "stale", 7
    read, go = threading.Event(), threading.Event()

    def pause(sender: Any, instance: Any, **kwargs: Any) -> None:
        if instance is product:  # after autoaudit's receiver: its read is done
            read.set()
            go.wait(2)

    outcome: dict[str, bool] = {}

    def save() -> None:
        product.save()
        outcome["save"] = True

    def re_create() -> None:
        Product.objects.create(pk=product.pk, name="again", stock=3)
        outcome["create"] = True

    pre_save.connect(pause, sender=Product, dispatch_uid="test-pause")
    try:
        saver, save_errors = run_in_thread(save)
        assert read.wait(10), save_errors
        creator, create_errors = run_in_thread(re_create)
        creator.join(1)  # done (MariaDB) or waiting for the saver's lock
        go.set()
        saver.join(30)
        creator.join(30)
    finally:
        pre_save.disconnect(sender=Product, dispatch_uid="test-pause")
    errors = save_errors + create_errors
    assert all(isinstance(e, IntegrityError) for e in errors), errors
    assert len(outcome) == 2 - len(errors) >= 1
    state: dict[str, Any] | None = None
    for log in logs(entity_id=str(product.pk)):
        if log.action == "create":
            assert state is None, log.new_values
            state = dict(log.new_values)
        else:
            assert log.action == "update" and state is not None
            assert {k: state[k] for k in log.old_values} == log.old_values
            state.update(log.new_values)
    row = Product.objects.get(pk=product.pk)
    assert state is not None and {"name": row.name, "stock": row.stock} == {
        k: state[k] for k in ("name", "stock")
    }
    assert len(logs(entity_id=str(product.pk))) == len(outcome)
