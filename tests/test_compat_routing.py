"""Tracked writes go where Django sends them (causes 1 and 5).

Two databases: "default" and "other". ``ReadReplicaRouter`` sends the test
app's reads to "other" (think of a stale replica) and its writes to
"default"; ``OtherDatabaseRouter`` keeps a model entirely on "other" while
users and sessions stay on "default".

The replica is seeded with rows that have the same primary keys as the
primary's but other values, so a read or write on the wrong database shows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.test.utils import override_settings

import autoaudit
from autoaudit.models import ActivityLog
from tests.compat_support import TRACKING
from tests.testapp.models import Product
from tests.typing_support import Track

DATABASES = ["default", "other"]

#: Inside the test's transaction, and in autocommit (where the tracked write
#: opens its own transaction on the database it uses).
MODES = pytest.mark.parametrize(
    "mode",
    [
        pytest.param("atomic", marks=pytest.mark.django_db(databases=DATABASES)),
        pytest.param(
            "autocommit", marks=pytest.mark.django_db(transaction=True, databases=DATABASES)
        ),
    ],
)


@pytest.fixture
def replica_router() -> Iterator[None]:
    with override_settings(DATABASE_ROUTERS=["tests.routers.ReadReplicaRouter"]):
        yield


@pytest.fixture
def other_router() -> Iterator[None]:
    with override_settings(DATABASE_ROUTERS=["tests.routers.OtherDatabaseRouter"]):
        yield


def _primary_and_replica(*stocks: int) -> list[Product]:
    """Rows on "default" (the router's write database) and, with the same
    primary keys, stale copies on "other" (its read database)."""
    primary = [
        Product.objects.using("default").create(name=f"p{i}", sku=f"s{i}", stock=stock)
        for i, stock in enumerate(stocks)
    ]
    for product in primary:
        Product.objects.using("other").create(
            pk=product.pk, name="replica", sku=f"r{product.pk}", stock=100
        )
    return primary


def _stocks(alias: str) -> list[int]:
    return list(Product.objects.using(alias).order_by("pk").values_list("stock", flat=True))


def _logs(alias: str, action: str) -> list[ActivityLog]:
    return list(
        ActivityLog.objects.using(alias)
        .filter(computed_entity="testapp.Product", action=action)
        .order_by("entity_id")
    )


# -- cause 1: bulk writes use the write database ---------------------------------
@TRACKING
@MODES
def test_queryset_update_uses_the_write_database(
    track: Track, replica_router: None, tracked: bool, mode: str
) -> None:
    products = _primary_and_replica(1, 2)
    if tracked:
        track(Product)
    # Django runs the whole UPDATE, filter included, on the write database
    # (the replica's copies are named "replica": the filter matches none).
    assert Product.objects.filter(name__startswith="p").update(stock=5) == 2
    assert _stocks("default") == [5, 5]
    assert _stocks("other") == [100, 100]
    if tracked:
        logs = _logs("default", "update")
        assert [log.entity_id for log in logs] == [p.pk for p in products]
        assert [(log.old_values, log.new_values) for log in logs] == [
            ({"stock": 1}, {"stock": 5}),
            ({"stock": 2}, {"stock": 5}),
        ]
        assert _logs("other", "update") == []


@TRACKING
@MODES
def test_bulk_update_uses_the_write_database(
    track: Track, replica_router: None, tracked: bool, mode: str
) -> None:
    products = _primary_and_replica(1, 2)
    if tracked:
        track(Product)
    for product in products:
        product.stock += 10
    assert Product.objects.bulk_update(products, ["stock"]) == 2
    assert _stocks("default") == [11, 12]
    assert _stocks("other") == [100, 100]
    if tracked:
        logs = _logs("default", "update")
        # Old values are the primary's, not the replica's 100.
        assert [(log.old_values, log.new_values) for log in logs] == [
            ({"stock": 1}, {"stock": 11}),
            ({"stock": 2}, {"stock": 12}),
        ]
        assert _logs("other", "update") == []


@TRACKING
@MODES
def test_bulk_create_logs_on_the_write_database(
    track: Track, replica_router: None, tracked: bool, mode: str
) -> None:
    if tracked:
        track(Product)
    created = Product.objects.bulk_create(
        [Product(name="a", sku="a", stock=1), Product(name="b", sku="b", stock=2)]
    )
    assert len(created) == 2
    assert Product.objects.using("default").count() == 2
    assert Product.objects.using("other").count() == 0
    if tracked:
        logs = _logs("default", "create")
        assert sorted(log.new_values["name"] for log in logs) == ["a", "b"]
        assert _logs("other", "create") == []


# -- cause 5: a logged-in user changing rows on a second database ---------------
@TRACKING
@pytest.mark.django_db(transaction=True, databases=DATABASES)
def test_logged_in_user_changes_rows_on_another_database(
    track: Track, other_router: None, alice: User, tracked: bool
) -> None:
    """The user lives on "default", the product on "other". Django never
    joins the two; the log of the change is written with the change (on
    "other") and names a user that only "default" has, so its user column
    must not be a database-level foreign key there."""
    if tracked:
        track(Product)
    client = Client()
    client.force_login(alice)  # the session and the login log stay on "default"
    response = client.post("/actors/sync-create/", {"name": "made-by-alice"})
    assert response.status_code == 200
    product = Product.objects.using("other").get(pk=response.json()["pk"])
    assert not Product.objects.using("default").exists()
    with autoaudit.actor(user=alice):
        product.stock = 3
        product.save()
        Product.objects.filter(pk=product.pk).update(stock=4)
        product.delete()
    assert not Product.objects.using("other").exists()
    logs = ActivityLog.objects.using("other").filter(computed_entity="testapp.Product")
    if tracked:
        assert list(logs.order_by("id").values_list("action", "user_id", "actor_type")) == [
            ("create", alice.pk, "user"),
            ("update", alice.pk, "user"),
            ("update", alice.pk, "user"),
            ("delete", alice.pk, "user"),
        ]
        assert set(logs.values_list("actor_identifier", flat=True)) == {alice.email}
    else:
        assert not logs.exists()
    assert (
        not ActivityLog.objects.using("default").filter(computed_entity="testapp.Product").exists()
    )
