"""autoaudit's own reads never break a write Django would make: not in a
transaction Django has marked for rollback (cause 9), and not as a locking
read that drags the model's ordering or base-manager annotations along
(cause 10: PostgreSQL rejects ``FOR UPDATE`` with an outer join's nullable
side or with ``GROUP BY``).

Every test runs ``untracked`` (Django's own behaviour) and ``tracked`` and
asserts the same outcome.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import transaction
from django.db.models import F

from autoaudit.models import ActivityLog
from tests.compat_support import TRACKING, outcome
from tests.testapp.models import Basket, BasketItem, Book, Product, Shelf, Tag
from tests.typing_support import Track

#: Inside the test's transaction, and in autocommit (where each tracked
#: write opens its own transaction).
MODES = pytest.mark.parametrize(
    "mode",
    [
        pytest.param("atomic", marks=pytest.mark.django_db),
        pytest.param("autocommit", marks=pytest.mark.django_db(transaction=True)),
    ],
)


# -- cause 9: a transaction Django has already marked for rollback ----------------
INVALID_PK = "Field 'id' expected a number but got 'invalid'."


@TRACKING
@pytest.mark.django_db
@pytest.mark.parametrize("side", ["forward", "reverse"])
def test_m2m_remove_after_a_failed_add_in_one_transaction(
    track: Track, tracked: bool, side: str
) -> None:
    """``add("invalid")`` raises ``ValueError`` inside Django's
    ``atomic(savepoint=False)``, which marks the surrounding transaction for
    rollback. ``remove("invalid")`` then raises Django's ``ValueError`` too:
    Django checks the value while building its DELETE, before running any
    query. autoaudit's "before" read must not run a query first (it would
    get ``TransactionManagementError``)."""
    product = Product.objects.create(name="p")
    tag = Tag.objects.create(name="t")
    product.tags.add(tag)
    if tracked:
        track(Product, m2m_fields=["tags"])
    manager = product.tags if side == "forward" else tag.products
    with transaction.atomic():
        with pytest.raises(ValueError, match=re.escape(INVALID_PK)):
            manager.add("invalid")  # type: ignore[arg-type]  # an invalid key, on purpose
        assert transaction.get_rollback()  # Django marked it
        result = outcome(lambda: manager.remove("invalid"))  # type: ignore[arg-type]  # on purpose
        assert result == ("ValueError", INVALID_PK)
    assert list(product.tags.all()) == [tag]  # the savepoint rolled back; nothing changed
    assert not ActivityLog.objects.filter(action="update").exists()


@TRACKING
@pytest.mark.django_db
def test_m2m_remove_of_an_invalid_value(track: Track, tracked: bool) -> None:
    """The same ``remove("invalid")`` in a healthy transaction: Django's ``ValueError``."""
    product = Product.objects.create(name="p")
    tag = Tag.objects.create(name="t")
    product.tags.add(tag)
    if tracked:
        track(Product, m2m_fields=["tags"])
    with transaction.atomic():
        invalid: Any = "invalid"  # a key of the wrong type, on purpose
        assert outcome(lambda: product.tags.remove(invalid)) == ("ValueError", INVALID_PK)
    product.tags.remove(tag)  # and the next change works and is logged
    assert list(product.tags.all()) == []
    logs = ActivityLog.objects.filter(action="update")
    if tracked:
        [log] = logs
        assert (log.old_values, log.new_values) == ({"tags": [tag.pk]}, {"tags": []})
    else:
        assert not logs.exists()


# -- cause 10: the old-values locking read --------------------------------------------
def _book_logs() -> list[tuple[str, str | None, object, object]]:
    return list(
        ActivityLog.objects.filter(computed_entity="testapp.Book")
        .order_by("id")
        .values_list("action", "entity_pk", "old_values", "new_values")
    )


@TRACKING
@MODES
def test_writes_of_a_model_ordered_across_a_nullable_fk(
    track: Track, tracked: bool, mode: str
) -> None:
    shelf = Shelf.objects.create(name="A")
    shelved = Book.objects.create(title="shelved", shelf=shelf, copies=1)
    loose = Book.objects.create(title="loose", copies=1)  # shelf is NULL
    if tracked:
        track(Book)
    shelved.copies = 2
    shelved.save()
    loose.copies = F("copies") + 4
    loose.save()
    loose.refresh_from_db()
    shelved.copies, loose.copies = 3, 6
    assert Book.objects.bulk_update([shelved, loose], ["copies"]) == 2
    assert Book.objects.filter(shelf__isnull=True).update(copies=7) == 1
    assert sorted(Book.objects.values_list("title", "copies")) == [("loose", 7), ("shelved", 3)]
    if tracked:
        s, n = str(shelved.pk), str(loose.pk)
        assert [log for log in _book_logs() if log[0] == "update"] == [
            ("update", s, {"copies": 1}, {"copies": 2}),
            ("update", n, {"copies": 1}, {"copies": 5}),
            ("update", s, {"copies": 2}, {"copies": 3}),
            ("update", n, {"copies": 5}, {"copies": 6}),
            ("update", n, {"copies": 6}, {"copies": 7}),
        ]
    else:
        assert _book_logs() == []


def _basket_logs() -> list[tuple[str, str | None, object, object]]:
    return list(
        ActivityLog.objects.filter(computed_entity="testapp.Basket")
        .order_by("id")
        .values_list("action", "entity_pk", "old_values", "new_values")
    )


@TRACKING
@MODES
def test_writes_of_a_model_whose_base_manager_annotates_an_aggregate(
    track: Track, tracked: bool, mode: str
) -> None:
    full = Basket.objects.create(label="full", total=1)
    empty = Basket.objects.create(label="empty", total=1)
    BasketItem.objects.create(basket=full, name="apple")
    if tracked:
        track(Basket)
    full.total = 2
    full.save()
    empty.total = F("total") + 4
    empty.save()
    empty.refresh_from_db()
    full.total, empty.total = 3, 6
    assert Basket.objects.bulk_update([full, empty], ["total"]) == 2
    # item_count: the base manager's annotation (the stubs know only fields)
    assert Basket.objects.filter(item_count=0).update(total=7) == 1  # type: ignore[misc]
    assert Basket.objects.values("label").filter(label="full").update(total=8) == 1
    rows = Basket.objects.values_list("label", "total", "item_count")  # type: ignore[misc]
    assert sorted(rows) == [
        ("empty", 7, 0),
        ("full", 8, 1),
    ]
    if tracked:
        f, e = str(full.pk), str(empty.pk)
        assert [log for log in _basket_logs() if log[0] == "update"] == [
            ("update", f, {"total": 1}, {"total": 2}),
            ("update", e, {"total": 1}, {"total": 5}),
            ("update", f, {"total": 2}, {"total": 3}),
            ("update", e, {"total": 5}, {"total": 6}),
            ("update", e, {"total": 6}, {"total": 7}),
            ("update", f, {"total": 3}, {"total": 8}),
        ]
    else:
        assert _basket_logs() == []
