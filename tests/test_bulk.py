"""QuerySet.update(), bulk_create() and bulk_update() are logged per row with
a constant number of extra queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, models
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

import autoaudit
from autoaudit.models import ActivityLog
from tests.testapp.models import Category, Product, Untracked
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


def queries(operation: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as context:
        operation()
    return len(context)


def own(operation: Callable[[], Any]) -> int:
    with autoaudit.disabled():
        return queries(operation)


def make(n: int, **extra: Any) -> list[Product]:
    return Product.objects.bulk_create(
        [Product(name=f"p{i}", sku=f"s{i}-{extra.get('tag', '')}", stock=i) for i in range(n)]
    )


class ActiveQuerySet(models.QuerySet[Product]):
    def active(self) -> ActiveQuerySet:
        return self.filter(is_active=True)


def test_queryset_update_logs_each_changed_row(track: Track) -> None:
    track(Product)
    make(5)
    ActivityLog.objects.all().delete()
    count = Product.objects.filter(stock__gte=2).update(stock=3, name="same")
    assert count == 3
    logs = list(ActivityLog.objects.order_by("entity_pk"))
    # stock 3 -> 3 is not a change, so that row logs only its name
    assert len(logs) == 3
    by_old = {log.old_values["name"]: log for log in logs}
    assert by_old["p2"].changed_fields == ["name", "stock"]
    assert by_old["p2"].old_values == {"name": "p2", "stock": 2}
    assert by_old["p2"].new_values == {"name": "same", "stock": 3}
    assert by_old["p3"].changed_fields == ["name"]
    assert all(log.action == "update" for log in logs)


@pytest.mark.parametrize("rows", [1, 10, 200])
def test_queryset_update_query_count_is_constant(track: Track, rows: int) -> None:
    track(Product)
    make(rows)
    base = own(lambda: Product.objects.update(description="a"))
    # One locking read + one executemany insert of the logs.
    assert queries(lambda: Product.objects.update(description="b")) == base + 2
    assert ActivityLog.objects.filter(action="update").count() == rows


def test_queryset_update_with_expression_logs_real_numbers(track: Track) -> None:
    track(Product)
    make(3)
    ActivityLog.objects.all().delete()
    base = own(lambda: Product.objects.update(stock=F("stock") + 0))
    assert queries(lambda: Product.objects.update(stock=F("stock") + 10)) == base + 3
    logs = sorted(ActivityLog.objects.all(), key=lambda log: log.old_values["stock"])
    assert [(log.old_values["stock"], log.new_values["stock"]) for log in logs] == [
        (0, 10),
        (1, 11),
        (2, 12),
    ]


def test_update_of_values_queryset_and_custom_queryset(track: Track) -> None:
    track(Product)
    make(3)
    ActivityLog.objects.all().delete()
    Product.objects.filter(stock=1).values("name").update(stock=7)
    ActiveQuerySet(model=Product).active().filter(stock=2).update(stock=8)
    assert sorted(log.new_values["stock"] for log in ActivityLog.objects.all()) == [7, 8]


def test_fk_given_as_an_instance(track: Track) -> None:
    track(Product)
    make(1)
    category = Category.objects.create(name="c")
    ActivityLog.objects.all().delete()
    Product.objects.update(category=category)
    log = ActivityLog.objects.get()
    assert log.new_values == {"category": category.pk}


def test_bulk_create_logs_each_row_with_one_insert(track: Track) -> None:
    track(Product)
    base = own(lambda: make(50, tag="a"))
    assert queries(lambda: make(50, tag="b")) == base + 1
    logs = ActivityLog.objects.filter(action="create")
    assert logs.count() == 50
    if connection.features.can_return_rows_from_bulk_insert:
        assert all(log.entity_pk is not None for log in logs)


def test_bulk_update_logs_changed_rows(track: Track) -> None:
    track(Product)
    products = make(20)
    ActivityLog.objects.all().delete()
    for p in products:
        p.stock += 100 if p.stock % 2 else 0
        p.name = p.name
    base = own(lambda: Product.objects.bulk_update(products, ["stock", "name"]))
    for p in products:
        p.stock += 1
    assert queries(lambda: Product.objects.bulk_update(products, ["stock", "name"])) == base + 2
    logs = ActivityLog.objects.all()
    assert logs.count() == 20
    assert all(log.changed_fields == ["stock"] for log in logs)
    assert all(log.new_values["stock"] == log.old_values["stock"] + 1 for log in logs)


def test_bulk_false_passes_through(track: Track) -> None:
    track(Product, bulk=False)
    make(3)
    assert queries(lambda: Product.objects.update(stock=5)) == 1
    assert ActivityLog.objects.count() == 0


def test_disabled_and_untracked_pass_through(track: Track) -> None:
    track(Product)
    with autoaudit.disabled():
        make(3)
        assert queries(lambda: Product.objects.update(stock=5)) == 1
    Untracked.objects.bulk_create([Untracked(name="u")])
    assert queries(lambda: Untracked.objects.update(stock=2)) == 1
    assert ActivityLog.objects.count() == 0


def test_bulk_update_does_not_log_twice(track: Track) -> None:
    track(Product)
    products = make(3)
    ActivityLog.objects.all().delete()
    for p in products:
        p.stock = 50
    Product.objects.bulk_update(products, ["stock"])
    assert ActivityLog.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_bulk_operations_commit_once_in_autocommit(track: Track) -> None:
    track(Product)
    with CaptureQueriesContext(connection) as context:
        make(5)
        Product.objects.update(stock=9)
    commits = [q for q in context.captured_queries if q["sql"].strip().upper() == "COMMIT"]
    assert len(commits) == 2
    assert ActivityLog.objects.count() == 10


AWKWARD = {
    "text": 'tab\there, new\nline, back\\slash, "quotes", \\N, ünïcödé ✓',
    "nested": {"list": [1, 2.5, None, True, {"deep": "\r\n"}]},
}


def _log_fields(log: ActivityLog) -> dict[str, Any]:
    skip = {"id", "created_at", "entity_id", "entity_pk"}
    return {
        f.attname: getattr(log, f.attname)
        for f in ActivityLog._meta.concrete_fields
        if f.attname not in skip
    }


def test_bulk_logs_hold_what_single_saves_log(track: Track, django_user_model: type[User]) -> None:
    """The bulk insert (COPY on PostgreSQL) stores every value as a single
    save's INSERT does: escapes, JSON, NULLs, the user FK and the IP."""
    track(Product)
    from django.test import RequestFactory

    from autoaudit.actors.request import using_request

    user = django_user_model.objects.create(username="bulker", email="b@example.com")
    name = 'odd\tname\n"\\N"'
    request = RequestFactory().get(
        "/", REMOTE_ADDR="2001:db8::7", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64)"
    )
    request.user = user
    with using_request(request), autoaudit.context(batch="b\t1"):
        single = Product.objects.create(name=name, sku="one", metadata=AWKWARD)
        Product.objects.bulk_create([Product(name=name, sku="two", metadata=AWKWARD)])
    first, second = ActivityLog.objects.order_by("id")
    assert second.new_values["metadata"] == AWKWARD
    assert second.user_id == user.pk
    assert second.ip_address == "2001:db8::7"
    assert second.user_agent == "Mozilla/5.0 (X11; Linux x86_64)"
    assert second.extra_data == {"batch": "b\t1"}
    assert second.entity_name == name
    expected = _log_fields(first)
    expected["new_values"] = {**expected["new_values"], "sku": "two"}
    expected["changes_summary"] = expected["changes_summary"].replace("sku one", "sku two")
    actual = _log_fields(second)
    assert actual == expected
    assert first.entity_pk == str(single.pk)


def test_many_rows_still_take_one_insert(track: Track) -> None:
    track(Product)
    base = own(lambda: make(2500, tag="a"))
    with CaptureQueriesContext(connection) as context:
        make(2500, tag="b")
    assert len(context) == base + 1
    assert ActivityLog.objects.count() == 2500
    # psycopg 3 gets a COPY; the other drivers one executemany INSERT.
    copy = connection.vendor == "postgresql" and hasattr(connection.connection.cursor(), "copy")
    expected = "2500 times: COPY" if copy else "2500 times: INSERT INTO"
    assert expected in context.captured_queries[-1]["sql"]


@pytest.fixture
def rejected_log_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the database itself reject every bulk-inserted log row (NULL in
    the NOT NULL ``action`` column), whichever statement carries it."""
    from autoaudit.tracking import store

    original = store._Insert.params
    position = [f.attname for f in ActivityLog._meta.concrete_fields if not f.primary_key].index(
        "action"
    )

    def params(self: Any, draft: Any, now: Any, conn: Any) -> list[Any]:
        row = original(self, draft, now, conn)
        row[position] = None
        return row

    monkeypatch.setattr(store._Insert, "params", params)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("operation", ["bulk_create", "update", "bulk_update"])
def test_a_rejected_bulk_log_undoes_the_bulk_change(
    track: Track, rejected_log_rows: None, operation: str
) -> None:
    from django.db import DatabaseError

    track(Product)
    with autoaudit.disabled():
        products = make(5)
    calls: dict[str, Callable[[], Any]] = {
        "bulk_create": lambda: make(3, tag="new"),
        "update": lambda: Product.objects.update(stock=77),
        "bulk_update": lambda: Product.objects.bulk_update(
            [Product(pk=p.pk, stock=77, name=p.name) for p in products], ["stock"]
        ),
    }
    with pytest.raises(DatabaseError):
        calls[operation]()
    assert Product.objects.count() == 5
    assert not Product.objects.filter(stock=77).exists()
    assert ActivityLog.objects.count() == 0


def test_queryset_delete_inserts_its_logs_together(track: Track) -> None:
    """One log INSERT per delete, however many objects (cascades included)."""
    track(Product)
    category = Category.objects.create(name="c")
    with autoaudit.disabled():
        make(40, tag="a")
        make(4, tag="b")
        Product.objects.filter(sku__endswith="-b").update(category=category)
        base_small = own(lambda: Product.objects.filter(sku__in=["s0-a", "s1-a"]).delete())
    assert base_small > 0
    small = queries(lambda: Product.objects.filter(sku__in=["s2-a", "s3-a"]).delete())
    large = queries(lambda: Product.objects.filter(sku__endswith="-a").delete())
    assert small == large == base_small + 1
    assert ActivityLog.objects.filter(action="delete").count() == 38
    # A cascade from an untracked model logs each tracked object it removes.
    cascade = queries(lambda: category.delete())
    assert ActivityLog.objects.filter(action="delete").count() == 42
    with autoaudit.disabled():
        other = Category.objects.create(name="d")
        Product.objects.create(name="x", sku="x", category=other)
        Product.objects.create(name="y", sku="y", category=other)
        Product.objects.create(name="z", sku="z", category=other)
    assert queries(lambda: other.delete()) == cascade
    assert list(
        ActivityLog.objects.filter(action="delete", entity_name__in=["x", "y", "z"])
        .order_by("entity_name")
        .values_list("entity_name", flat=True)
    ) == ["x", "y", "z"]


def test_single_delete_still_one_insert(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="one", sku="one")
    with CaptureQueriesContext(connection) as context:
        product.delete()
    inserts = [q for q in context.captured_queries if "activity_logs" in q["sql"]]
    # PostgreSQL: in Django's DELETE, one statement.
    first = "WITH AA_ROW AS (DELETE" if connection.vendor == "postgresql" else "INSERT"
    assert len(inserts) == 1 and inserts[0]["sql"].lstrip().upper().startswith(first)
    log = ActivityLog.objects.get(action="delete")
    assert log.old_values["name"] == "one"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how_many", [1, 3])
def test_a_rejected_delete_log_undoes_the_delete(
    track: Track, rejected_log_rows: None, how_many: int
) -> None:
    from django.db import DatabaseError

    track(Product)
    with autoaudit.disabled():
        make(3)
    with pytest.raises(DatabaseError):
        if how_many == 1:
            Product.objects.get(sku="s0-").delete()
        else:
            Product.objects.all().delete()
    assert Product.objects.count() == 3
    assert ActivityLog.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_delete_logs_with_on_error_log_keep_the_delete(
    track: Track, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from tests.test_transactions import failing_log_inserts

    settings.AUTOAUDIT = {"ON_ERROR": "log"}
    track(Product)
    with autoaudit.disabled():
        make(3)
    with caplog.at_level(logging.ERROR, logger="autoaudit"), failing_log_inserts():
        assert Product.objects.all().delete()[0] == 3
    assert Product.objects.count() == 0
    assert len([r for r in caplog.records if "could not write" in r.getMessage()]) == 3


def test_bulk_logs_fall_back_to_executemany_without_copy(
    track: Track, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL through a driver without ``cursor.copy()`` (psycopg2), like
    SQLite and MySQL, gets one ``executemany`` INSERT."""
    try:
        import psycopg
    except ImportError:
        pass
    else:
        monkeypatch.delattr(psycopg.Cursor, "copy")
    track(Product)
    base = own(lambda: make(10, tag="a"))
    with CaptureQueriesContext(connection) as context:
        make(10, tag="b")
    assert len(context) == base + 1
    assert "times: INSERT INTO" in context.captured_queries[-1]["sql"]
    assert ActivityLog.objects.filter(action="create").count() == 10
