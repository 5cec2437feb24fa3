"""The values a row was loaded with (its model's ``from_db``) or last saved
with: on PostgreSQL an update's ``UPDATE`` is guarded by them, so it needs no
read of the old values. A stale snapshot costs the read, never a wrong log."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, models, transaction
from django.test.utils import CaptureQueriesContext

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.tracking.rows import locked_rows
from tests.budget import old_values_reads, save_log_statements
from tests.testapp.models import Category, Product, ProductProxy, Untracked
from tests.typing_support import Track

POSTGRES = connection.vendor == "postgresql"


def statements(operation: Callable[[], Any]) -> list[str]:
    with CaptureQueriesContext(connection) as context:
        operation()
    return [q["sql"] for q in context.captured_queries]


def one_statement(sql: list[str]) -> bool:
    """The save's UPDATE, guarded, with its log; no read first."""
    return len(sql) == 1 and sql[0].startswith("WITH aa_row AS (UPDATE")


def updates(pk: Any, model: type[models.Model] = Product) -> list[tuple[Any, Any]]:
    rows = ActivityLog.objects.for_model(model).filter(action="update", entity_pk=str(pk))
    rows = rows.order_by("id")
    return [(log.old_values, log.new_values) for log in rows]


# -- where the snapshot is kept ------------------------------------------------------------
@pytest.mark.django_db
def test_only_tracked_classes_get_a_from_db_of_their_own(track: Track) -> None:
    assert "from_db" not in Product.__dict__
    track(Product)
    assert "from_db" in Product.__dict__
    assert "from_db" not in Untracked.__dict__
    assert Untracked.from_db.__func__ is models.Model.from_db.__func__  # type: ignore[attr-defined]
    autoaudit.unregister(Product)
    assert "from_db" not in Product.__dict__


@pytest.mark.django_db
def test_a_from_db_the_model_defines_is_kept_and_called(track: Track) -> None:
    calls: list[str] = []

    def own(cls: Any, db: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(db)
        new = super(Category, cls).from_db(db, *args, **kwargs)
        new.loaded_by_own = True
        return new

    Category.from_db = classmethod(own)  # type: ignore[method-assign,assignment]
    try:
        track(Category)
        category = Category.objects.create(name="a")
        loaded = Category.objects.get(pk=category.pk)
        assert calls == ["default"] and loaded.loaded_by_own  # type: ignore[attr-defined]
        loaded.name = "b"
        assert len(statements(loaded.save)) == 1 + old_values_reads() + save_log_statements()
        assert updates(category.pk, Category) == [({"name": "a"}, {"name": "b"})]
        autoaudit.unregister(Category)
        assert Category.__dict__["from_db"].__func__ is own
    finally:
        del Category.from_db


@pytest.mark.django_db
def test_a_loaded_instance_updates_in_one_statement(track: Track) -> None:
    track(Product)
    made = Product.objects.create(name="a", stock=1)
    product = Product.objects.get(pk=made.pk)
    product.stock = 2
    sql = statements(product.save)
    assert one_statement(sql) is POSTGRES, sql
    product.stock = 3  # its values as saved: again no read
    assert one_statement(statements(product.save)) is POSTGRES
    assert updates(made.pk) == [({"stock": 1}, {"stock": 2}), ({"stock": 2}, {"stock": 3})]


def has_snapshot(instance: models.Model) -> bool:
    return "autoaudit_loaded" in instance._state.__dict__


@pytest.mark.django_db
def test_only_postgresql_loads_keep_a_snapshot(track: Track) -> None:
    # Its one-statement writes are the snapshot's only readers: elsewhere
    # keeping one would cost every loaded row for nothing.
    track(Product)
    made = Product.objects.create(name="a", stock=1)
    assert has_snapshot(Product.objects.get(pk=made.pk)) is POSTGRES
    assert all(has_snapshot(p) is POSTGRES for p in Product.objects.all())


@pytest.mark.django_db
def test_rows_autoaudit_loads_for_itself_keep_no_snapshot(track: Track) -> None:
    track(Product)
    made = [Product.objects.create(name=str(n), stock=n) for n in range(3)]
    with transaction.atomic():
        own = locked_rows(Product.objects.filter(stock__gte=0), "default")
        assert sorted(p.pk for p in own) == sorted(p.pk for p in made)
        assert not any(has_snapshot(p) for p in own)
        # ... and loads after it do again.
        assert has_snapshot(Product.objects.get(pk=made[0].pk)) is POSTGRES
    Product.objects.filter(stock__gte=1).update(stock=9)  # the bulk path reads that way
    assert len(ActivityLog.objects.filter(action="update")) == 2


@pytest.mark.django_db
def test_a_proxy_and_select_related_rows_keep_their_snapshot(track: Track) -> None:
    track(Product)
    track(Category)
    category = Category.objects.create(name="c")
    made = Product.objects.create(name="a", category=category)
    proxy = ProductProxy.objects.get(pk=made.pk)
    proxy.name = "b"
    assert one_statement(statements(proxy.save)) is POSTGRES
    related = Product.objects.select_related("category").get(pk=made.pk).category
    assert related is not None
    related.name = "d"
    assert one_statement(statements(related.save)) is POSTGRES
    assert updates(category.pk, Category) == [({"name": "c"}, {"name": "d"})]


@pytest.mark.django_db
def test_a_json_value_changed_in_place_is_logged_from_what_was_loaded(track: Track) -> None:
    track(Product)
    made = Product.objects.create(name="a", metadata={"specs": {"ram": 8}})
    product = Product.objects.get(pk=made.pk)
    product.metadata["specs"]["ram"] = 16
    assert one_statement(statements(product.save)) is POSTGRES
    assert updates(made.pk) == [
        ({"metadata": {"specs": {"ram": 8}}}, {"metadata": {"specs": {"ram": 16}}})
    ]
    product.metadata["specs"]["ram"] = 32  # in place again, after a save
    product.save()
    assert updates(made.pk)[-1] == (
        {"metadata": {"specs": {"ram": 16}}},
        {"metadata": {"specs": {"ram": 32}}},
    )


@pytest.mark.django_db
def test_deferred_fields_are_read_when_saved(track: Track) -> None:
    track(Product)
    made = Product.objects.create(name="a", stock=1)
    product = Product.objects.defer("stock").get(pk=made.pk)
    product.name = "b"  # Django saves the loaded fields only
    assert one_statement(statements(product.save)) is POSTGRES
    product.stock = 5  # not loaded: its old value is read
    sql = statements(product.save)
    assert len(sql) == 1 + 1 + save_log_statements(), sql
    assert updates(made.pk) == [({"name": "a"}, {"name": "b"}), ({"stock": 1}, {"stock": 5})]


@pytest.mark.django_db
def test_a_pickled_instance_keeps_working(track: Track) -> None:
    track(Product)
    made = Product.objects.create(name="a")
    product = pickle.loads(pickle.dumps(Product.objects.get(pk=made.pk)))
    product.name = "b"
    product.save()
    assert updates(made.pk) == [({"name": "a"}, {"name": "b"})]


# -- a snapshot gone stale ---------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    ["raw_sql", "queryset_update", "untracked_save", "refresh_from_db"],
)
def test_a_row_changed_since_it_was_loaded_logs_what_it_held(track: Track, change: str) -> None:
    track(Product)
    made = Product.objects.create(name="a", stock=1)
    product = Product.objects.get(pk=made.pk)
    if change == "raw_sql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Product._meta.db_table} SET stock = 7 WHERE id = %s", [made.pk]
            )
    elif change == "queryset_update":
        Product.objects.filter(pk=made.pk).update(stock=7)
    elif change == "untracked_save":
        with autoaudit.disabled():
            other = Product.objects.get(pk=made.pk)
            other.stock = 7
            other.save()
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Product._meta.db_table} SET stock = 7 WHERE id = %s", [made.pk]
            )
        product.refresh_from_db()
        assert product.stock == 7
    product.stock = 9
    product.save()
    assert updates(made.pk)[-1] == ({"stock": 7}, {"stock": 9})
    assert Product.objects.get(pk=made.pk).stock == 9


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_instances_loaded_together_log_a_true_chain(track: Track) -> None:
    """Every thread loads the row, all wait, then all save: each snapshot
    but one is stale when its save runs. The logs must still chain: each
    one's old value is the one before it's new value, the last the row's."""
    track(Product)
    made = Product.objects.create(name="a", stock=0)
    workers, rounds = 4, 5
    errors: list[BaseException] = []

    def work(number: int, barrier: threading.Barrier) -> None:
        try:
            product = Product.objects.get(pk=made.pk)
            barrier.wait(10)
            product.stock = number
            product.save()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    for round_ in range(rounds):
        barrier = threading.Barrier(workers)
        threads = [
            threading.Thread(target=work, args=(round_ * workers + n + 1, barrier))
            for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert not errors
    chain = updates(made.pk)
    assert len(chain) == workers * rounds
    current = 0
    for old, new in chain:
        assert old == {"stock": current}
        current = new["stock"]
    assert Product.objects.get(pk=made.pk).stock == current


def test_kept_values_are_copies_where_they_can_change_in_place() -> None:
    from decimal import Decimal

    from autoaudit.tracking import snapshot

    plain = {"specs": {"ram": 8}, "tags": ["a"]}
    kept = snapshot._kept(plain)
    assert kept == plain and kept is not plain and kept["specs"] is not plain["specs"]
    odd = {"price": Decimal("1.50")}  # a custom decoder's value: marshal refuses it
    assert snapshot._kept(odd) == odd and snapshot._kept(odd) is not odd
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    assert snapshot._kept(deep) is snapshot._MISSING  # read before its save instead
    text = "unchanged"
    assert snapshot._kept(text) is text


@pytest.mark.django_db
def test_a_from_db_of_the_old_signature_is_called_as_django_calls_it(track: Track) -> None:
    """Django 6.1 passes ``fetch_mode`` only to a ``from_db()`` that accepts
    it, and warns about one that does not: the same with autoaudit."""
    import warnings

    def old_signature(cls: Any, db: str, field_names: Any, values: Any) -> Any:
        return super(Category, cls).from_db(db, field_names, values)

    def load() -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert Category.objects.get().name == "a"
        return [type(w.message).__name__ for w in caught]

    Category.objects.create(name="a")
    Category.from_db = classmethod(old_signature)  # type: ignore[method-assign,assignment]
    try:
        untracked = load()
        track(Category)
        assert load() == untracked
    finally:
        autoaudit.unregister(Category)
        del Category.from_db
