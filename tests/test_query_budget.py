"""Pinned query counts: a tracked write costs the model's own queries plus
the budget of API.md, on every backend. "Own" is measured by running the
same operation with tracking switched off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoAssertNumQueries

import autoaudit
from autoaudit.models import ActivityLog
from tests.budget import old_values_reads, save_log_statements
from tests.testapp.models import Product, Tag, Untracked
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


def queries(operation: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as context:
        operation()
    return len(context)


def untracked_queries(operation: Callable[[], Any]) -> int:
    with autoaudit.disabled():
        return queries(operation)


def test_create_costs_one_insert(track: Track) -> None:
    track(Product)
    own = untracked_queries(lambda: Product.objects.create(name="a", metadata={"k": 1}))
    assert own == 1
    # PostgreSQL: the log goes in with the row, in one statement.
    log = save_log_statements()
    assert queries(lambda: Product.objects.create(name="b", metadata={"k": 1})) == own + log


def test_update_costs_one_read_and_one_insert(track: Track) -> None:
    track(Product)

    def change(product: Product, value: int) -> Callable[[], None]:
        def run() -> None:
            product.stock = value
            product.save()

        return run

    own = untracked_queries(change(Product.objects.create(name="a", stock=1), 2))
    product = Product.objects.create(name="b", stock=1)  # its values as saved
    assert queries(change(product, 3)) == own + old_values_reads() + save_log_statements()
    loaded = Product.objects.get(pk=product.pk)  # as loaded
    assert queries(change(loaded, 4)) == own + old_values_reads() + save_log_statements()
    # Changed since (here by a save autoaudit did not see): on PostgreSQL
    # the guarded UPDATE changes nothing, then the locked read, Django's
    # UPDATE and the log's INSERT. (The guarded UPDATE and Django's own are
    # sent under one execute() call: the query log shows that call once.)
    untracked_queries(change(Product.objects.get(pk=product.pk), 5))
    stale = 2 if connection.vendor == "postgresql" else 0
    assert queries(change(loaded, 6)) == own + old_values_reads() + save_log_statements() + stale


def test_noop_save_costs_one_read_and_no_write(
    track: Track, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    track(Product)
    product = Product.objects.create(name="a")
    own = untracked_queries(product.save)
    with CaptureQueriesContext(connection) as context:
        product.save()
    assert len(context) == own + old_values_reads()
    assert not any("activity_logs" in q["sql"] and "INSERT" in q["sql"] for q in context)


def test_delete_costs_one_insert(track: Track) -> None:
    track(Product)
    first, second = Product.objects.create(name="a"), Product.objects.create(name="b")
    own = untracked_queries(first.delete)
    assert queries(second.delete) == own + save_log_statements()


def test_delete_with_tracked_links_also_locks_them(track: Track) -> None:
    """docs/tracking.md: PostgreSQL locks the row, then its key (one
    statement); MariaDB locks the row; SQLite's transaction already holds
    the write lock."""
    track(Product, m2m_fields=["tags"])
    first, second = Product.objects.create(name="a"), Product.objects.create(name="b")
    own = untracked_queries(first.delete)
    extra = {"sqlite": 1, "postgresql": 2, "mysql": 2}[connection.vendor]
    assert queries(second.delete) == own + extra


def test_create_with_a_chosen_key_locks_it_on_postgresql(track: Track) -> None:
    track(Product)
    own = untracked_queries(lambda: Product.objects.create(pk=1000, name="a"))
    extra = 2 if connection.vendor == "postgresql" else 1
    assert queries(lambda: Product.objects.create(pk=1001, name="b")) == own + extra


def test_m2m_add_costs_a_lock_a_read_and_one_insert(track: Track) -> None:
    """The tracked object is locked (PostgreSQL: its key; MariaDB: its row;
    SQLite's transaction already holds the write lock here), its links
    read, the log inserted; MariaDB reads the links again after the
    ``INSERT IGNORE``."""
    track(Product, m2m_fields=["tags"])
    product = Product.objects.create(name="a")
    tags = [Tag.objects.create(name=str(i)) for i in range(4)]
    own = untracked_queries(lambda: product.tags.add(tags[0]))
    extra = {"sqlite": 2, "postgresql": 3, "mysql": 4}[connection.vendor]
    assert queries(lambda: product.tags.add(tags[1])) == own + extra


def test_unregistered_models_and_disabled_cost_nothing(track: Track) -> None:
    track(Product)
    assert queries(lambda: Untracked.objects.create(name="x")) == 1
    item = Untracked.objects.get()
    item.stock = 3
    assert queries(item.save) == 1
    assert queries(item.delete) == 1
    with autoaudit.disabled():
        assert queries(lambda: Product.objects.create(name="p")) == 1


def test_no_deepdiff_for_values_that_compare_equal(track: Track, deepdiff_calls: list[Any]) -> None:
    calls = deepdiff_calls
    track(Product)
    product = Product.objects.create(name="a", metadata={"specs": {"ram": 8}})
    product.stock = 5
    product.metadata = {"specs": {"ram": 8}}
    product.save()
    assert calls == []
    product.metadata = {"specs": {"ram": 16}}
    product.save()
    # A changed JSON value is found without deepdiff too (json_differs);
    # deepdiff gives the nested paths when the log is read.
    assert calls == []
    log = ActivityLog.objects.filter(action="update").latest("id")
    assert log.changed_fields == ["metadata"]
    assert log.changed_paths == ["metadata.specs.ram"]
    assert len(calls) == 1
