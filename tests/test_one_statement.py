"""PostgreSQL: a tracked create and its log are one statement (a
data-modifying CTE around Django's ``INSERT``); where that cannot be proved
exact, the create falls back to the write transaction. Every test checks the
log itself on every database: the fallbacks are the other databases' path."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

from autoaudit.models import ActivityLog
from tests.testapp.models import Category, HexLabel, LongStr, Product, Seat, Stamped
from tests.typing_support import Track

pytestmark = pytest.mark.django_db(transaction=True)

POSTGRES = connection.vendor == "postgresql"


def statements(operation: Callable[[], Any]) -> list[str]:
    with CaptureQueriesContext(connection) as context:
        operation()
    return [q["sql"] for q in context.captured_queries]


def combined(sql: list[str]) -> bool:
    """Whether the create went in as one statement with its log."""
    return len(sql) == 1 and sql[0].startswith("WITH aa_row AS (INSERT INTO")


def only_log() -> ActivityLog:
    (log,) = ActivityLog.objects.all()
    return log


def test_a_create_with_a_key_from_the_sequence_is_one_statement(track: Track) -> None:
    """The key the ``INSERT`` returns is in every column that names it:
    ``entity_id``, ``entity_pk``, the name (Django's default ``__str__``)
    and the description."""
    track(Seat)
    sql = statements(lambda: Seat.objects.create(number=4))
    seat = Seat.objects.get()
    assert combined(sql) is POSTGRES, sql
    assert not any(s.upper() == "COMMIT" for s in sql) or not POSTGRES
    log = only_log()
    assert (log.action, log.entity_id, log.entity_pk) == ("create", seat.pk, str(seat.pk))
    assert log.entity_name == f"Seat object ({seat.pk})"
    assert log.new_values == {"number": 4}
    assert f"Seat object ({seat.pk})" in (log.description or "")
    assert "8146395028731946201" not in repr(ActivityLog.objects.values().get())


def test_inside_a_transaction_the_create_is_one_statement_and_rolls_back_with_it(
    track: Track,
) -> None:
    track(Product)
    with transaction.atomic():
        sql = statements(lambda: Product.objects.create(name="kept"))
    assert combined(sql) is POSTGRES, sql
    with pytest.raises(RuntimeError), transaction.atomic():
        Product.objects.create(name="undone")
        raise RuntimeError
    assert list(Product.objects.values_list("name", flat=True)) == ["kept"]
    assert only_log().entity_name == "kept"


def test_the_log_holds_the_values_django_inserted(track: Track) -> None:
    """Built when the ``INSERT`` is sent: after every ``pre_save`` receiver."""
    track(Product)

    def rename(sender: Any, instance: Product, **kwargs: Any) -> None:
        instance.name = instance.name.upper()

    pre_save.connect(rename, sender=Product, dispatch_uid="test-rename")
    try:
        sql = statements(lambda: Product.objects.create(name="shout", metadata={"a": [1]}))
    finally:
        pre_save.disconnect(sender=Product, dispatch_uid="test-rename")
    product = Product.objects.get()
    assert combined(sql) is POSTGRES
    values = only_log().new_values
    assert (values["name"], values["metadata"]) == ("SHOUT", {"a": [1]})
    assert only_log().entity_id == product.pk


def test_a_row_the_database_rejects_leaves_no_log(track: Track) -> None:
    """A unique key at once, a foreign key at commit (PostgreSQL and SQLite
    check it deferred): the statement fails whole."""
    track(Product)
    Product.objects.create(name="a", sku="S")
    with pytest.raises(IntegrityError):
        Product.objects.create(name="b", sku="S")
    with pytest.raises(IntegrityError):
        Product.objects.create(name="c", category_id=987654)
    assert list(ActivityLog.objects.values_list("entity_name", flat=True)) == ["a"]
    assert Product.objects.count() == 1


def test_a_failing_post_save_receiver_leaves_what_django_left(track: Track) -> None:
    """In autocommit mode Django has committed the row when ``post_save``
    runs; the one statement committed its log with it."""
    track(Category)

    def fail(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver")

    post_save.connect(fail, sender=Category, dispatch_uid="test-fail")
    try:
        with pytest.raises(RuntimeError):
            Category.objects.create(name="c")
    finally:
        post_save.disconnect(sender=Category, dispatch_uid="test-fail")
    rows, logs = Category.objects.count(), ActivityLog.objects.count()
    assert rows == logs  # a row has its log; no log without its row
    if POSTGRES:
        assert rows == 1  # as untracked


# -- the fallbacks, each pinned ------------------------------------------------------------
def _hex(track: Track, settings: Settings) -> tuple[Callable[[], Any], Callable[[], str]]:
    track(HexLabel)
    return lambda: HexLabel.objects.create(
        name="h"
    ), lambda: f"label 0x{HexLabel.objects.get().pk:x}"


def _long(track: Track, settings: Settings) -> tuple[Callable[[], Any], Callable[[], str]]:
    track(LongStr)
    return lambda: LongStr.objects.create(name="l"), lambda: "x" * 20


def _described(track: Track, settings: Settings) -> tuple[Callable[[], Any], Callable[[], str]]:
    track(Seat, description=lambda instance, **kwargs: f"seat {instance.pk} made")
    return lambda: Seat.objects.create(number=1), lambda: f"Seat object ({Seat.objects.get().pk})"


def _db_default(track: Track, settings: Settings) -> tuple[Callable[[], Any], Callable[[], str]]:
    track(Stamped)
    return lambda: Stamped.objects.create(name="s"), lambda: "s"


def _on_error_log(track: Track, settings: Settings) -> tuple[Callable[[], Any], Callable[[], str]]:
    settings.AUTOAUDIT = {"ON_ERROR": "log"}
    track(Seat)
    return lambda: Seat.objects.create(number=2), lambda: f"Seat object ({Seat.objects.get().pk})"


def _chosen_key(track: Track, settings: Settings) -> tuple[Callable[[], Any], Callable[[], str]]:
    track(Seat)
    return lambda: Seat.objects.create(pk=77, number=3), lambda: "Seat object (77)"


@pytest.mark.parametrize(
    "case",
    [_hex, _long, _described, _db_default, _on_error_log, _chosen_key],
    ids=[
        "key-in-hex",
        "long-name",
        "description-option",
        "db-default",
        "on-error-log",
        "key-given",
    ],
)
def test_a_create_that_cannot_be_one_statement_logs_after_its_insert(
    track: Track, settings: Settings, case: Any
) -> None:
    create, name = case(track, settings)
    sql = statements(create)
    assert not any(s.startswith("WITH aa_row") for s in sql), sql
    log = only_log()
    assert (log.entity_name or "").startswith(name())
    if case is _hex:
        assert log.entity_name == name()
    if case is _described:
        assert log.description == f"seat {Seat.objects.get().pk} made"
    if case is _db_default:
        assert log.new_values["serial"] == 41


# -- updates ---------------------------------------------------------------------------------
def combined_update(sql: list[str]) -> bool:
    """The UPDATE guarded by the values the instance was loaded or saved
    with, and its log: one statement, no read."""
    return len(sql) == 1 and sql[0].startswith("WITH aa_row AS (UPDATE") and 'COLLATE "C"' in sql[0]


def chain_holds(pk: Any) -> None:
    """Each log's old values are what the logs before it left; the last
    leaves the row as it is."""
    state: dict[str, Any] | None = None
    for log in ActivityLog.objects.filter(entity_id=pk).order_by("id"):
        if log.action == "create":
            state = dict(log.new_values)
        else:
            assert state is not None and log.action == "update"
            assert {k: state[k] for k in log.old_values} == log.old_values, log.description
            state.update(log.new_values)
    row = Product.objects.get(pk=pk)
    assert state is not None and (state["name"], state["stock"]) == (row.name, row.stock)


def test_an_update_is_one_statement(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="a", stock=1)
    product.name, product.stock = "b", 2
    sql = statements(product.save)
    assert combined_update(sql) is POSTGRES, sql
    log = ActivityLog.objects.get(action="update")
    assert (log.old_values, log.new_values) == (
        {"name": "a", "stock": 1},
        {"name": "b", "stock": 2},
    )
    assert log.changed_fields == ["name", "stock"]
    chain_holds(product.pk)


def test_a_save_that_changes_nothing_tracked_writes_no_log(track: Track) -> None:
    track(Product, exclude_fields=["updated_at"])
    product = Product.objects.create(name="a")
    sql = statements(product.save)
    if POSTGRES:  # the guarded UPDATE alone
        assert len(sql) == 1 and 'COLLATE "C"' in sql[0] and "aa_log" not in sql[0]
    assert list(ActivityLog.objects.values_list("action", flat=True)) == ["create"]


def test_update_fields_are_the_fields_guarded_and_logged(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="a", stock=1)
    product.name, product.stock = "b", 2
    sql = statements(lambda: product.save(update_fields=["stock"]))
    assert combined_update(sql) is POSTGRES
    assert not POSTGRES or '"name"::text' not in sql[0]
    log = ActivityLog.objects.get(action="update")
    assert (log.old_values, log.new_values) == ({"stock": 1}, {"stock": 2})
    assert Product.objects.get().name == "a"


class Meanwhile:
    """A ``pre_save`` receiver (it runs after autoaudit's read) that lets
    another connection do ``work`` and commit before Django's UPDATE (on
    PostgreSQL; elsewhere the other connection waits for this save's lock
    and goes second). Used as a context manager around the save."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.errors: list[BaseException] = []
        self.thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            self.work()
        except BaseException as exc:  # reported on exit
            self.errors.append(exc)
        finally:
            connection.close()

    def receiver(self, sender: Any, instance: Any, **kwargs: Any) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run)
            self.thread.start()
            self.thread.join(1)  # done, or waiting for this save's lock

    def __enter__(self) -> Meanwhile:
        pre_save.connect(self.receiver, sender=Product, dispatch_uid="test-meanwhile")
        return self

    def __exit__(self, *exc: object) -> None:
        pre_save.disconnect(sender=Product, dispatch_uid="test-meanwhile")
        if self.thread is not None:
            self.thread.join(30)
        assert not self.errors, self.errors


@pytest.mark.parametrize("tracked_meanwhile", [True, False], ids=["tracked", "raw-sql"])
def test_a_row_changed_after_the_read_is_logged_from_its_new_values(
    track: Track, tracked_meanwhile: bool
) -> None:
    """The guard finds no row: nothing was written; the save reads again,
    locked, and logs the true old values (the other write's)."""
    track(Product)
    product = Product.objects.create(name="a", stock=1)
    pk = product.pk

    def other() -> None:
        if tracked_meanwhile:
            Product.objects.filter(pk=pk).update(stock=50, name="other")
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {Product._meta.db_table} SET stock = 50, name = 'other' WHERE id = %s",
                    [pk],
                )

    product.name = "mine"
    with Meanwhile(other):
        product.save()
    row = Product.objects.get(pk=pk)
    last = ActivityLog.objects.filter(entity_id=pk).order_by("id").last()
    assert last is not None
    if tracked_meanwhile or POSTGRES:
        assert last.new_values["name"] == row.name
    if POSTGRES:  # the other write went first; this save overwrote it
        assert (row.name, row.stock) == ("mine", 1)
        assert last.old_values == {"name": "other", "stock": 50}
        assert last.new_values == {"name": "mine", "stock": 1}
    if tracked_meanwhile:
        chain_holds(pk)


def test_a_row_deleted_after_the_read_is_inserted_again_and_logged_as_created(
    track: Track,
) -> None:
    """As untracked: Django's UPDATE finds no row, so it inserts one."""
    track(Product)
    product = Product.objects.create(name="a")
    pk = product.pk
    product.name = "again"
    with Meanwhile(lambda: Product.objects.filter(pk=pk).delete()):
        product.save()
    logs = ActivityLog.objects.filter(entity_id=pk).order_by("id")
    actions = list(logs.values_list("action", "entity_name"))
    if POSTGRES:
        assert Product.objects.get(pk=pk).name == "again"
        assert actions == [("create", "a"), ("delete", "a"), ("create", "again")]
    else:  # the delete waited for the save's lock, then removed the row
        assert actions == [("create", "a"), ("update", "again"), ("delete", "again")]


def test_an_expression_takes_the_usual_path(track: Track) -> None:
    """``F("stock") + 1`` is known exactly only after the UPDATE."""
    from django.db.models import F

    track(Product)
    product = Product.objects.create(name="a", stock=1)
    product.stock = F("stock") + 1
    sql = statements(product.save)
    assert not any(s.startswith("WITH aa_row") for s in sql)
    log = ActivityLog.objects.get(action="update")
    assert (log.old_values, log.new_values) == ({"stock": 1}, {"stock": 2})


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
def test_an_update_saved_to_another_database_is_one_statement_there(track: Track) -> None:
    """``save(using="other")`` of an instance loaded from ``default``: the
    statement, its guard and its log are the other database's; the values
    it was saved with on ``default`` say nothing of that row: it is read."""
    from django.db import connections

    track(Product)
    product = Product.objects.create(name="here", stock=1)
    Product.objects.using("other").create(pk=product.pk, name="there", stock=2)
    product.name = "moved"
    with CaptureQueriesContext(connections["other"]) as other:
        product.save(using="other")
    sql = [q["sql"] for q in other.captured_queries]
    if connections["other"].vendor == "postgresql":
        assert len(sql) == 2 and sql[0].startswith("SELECT") and combined_update(sql[1:]), sql
    log = ActivityLog.objects.using("other").get(action="update")
    assert (log.old_values, log.new_values) == (
        {"name": "there", "stock": 2},
        {"name": "moved", "stock": 1},
    )
    assert ActivityLog.objects.filter(action="update").count() == 0
