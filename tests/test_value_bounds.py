"""No value Django can store makes a tracked save fail or a page hang.

Stored values are bounded (``MAX_ITEMS``, ``MAX_VALUE_BYTES``,
``MAX_DEPTH``), a change past a cut is still logged, rendering a row never
runs deepdiff on a big or deep value (also rows written before the bounds),
and text with lone surrogates is stored with U+FFFD in their place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.test import Client
from pytest_django import Settings

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.values.serialization import (
    DEFAULT_MAX_VALUE_BYTES,
    DEPTH_MARKER,
    MAX_DEPTH,
    json_size,
)
from tests.testapp.models import Product
from tests.typing_support import Track
from tests.ui_factories import login

pytestmark = pytest.mark.django_db

TIMELINE = "/activity/"


def admin_page(log: ActivityLog) -> str:
    return f"/admin/autoaudit/activitylog/{log.pk}/change/"


def logs(action: str) -> list[ActivityLog]:
    return list(ActivityLog.objects.filter(action=action).order_by("id"))


def stored_text(values: Any) -> str:
    """The JSON text Django writes for a value (its ``JSONField`` encoder)."""
    return json.dumps(values)


def old_update(old: dict[str, Any], new: dict[str, Any]) -> ActivityLog:
    """An update row of product 1 as written before values were bounded."""
    return ActivityLog.objects.create(
        action="update",
        entity="product",
        computed_entity="testapp.Product",
        entity_pk="1",
        actor_type="system",
        old_values=old,
        new_values=new,
        changed_fields=list(old),
    )


# -- item 3: big values -----------------------------------------------------------------
def test_a_huge_json_update_stores_a_bounded_row(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="p", metadata=[0] * 300_000)
    product.metadata = [1] * 300_000
    product.save()
    (log,) = logs("update")
    assert log.changed_fields == ["metadata"]
    marker = "…[truncated 299000 items]"
    assert log.old_values == {"metadata": [0] * 1000 + [marker]}
    assert log.new_values == {"metadata": [1] * 1000 + [marker]}
    assert len(stored_text(log.old_values)) < 4000
    assert len(stored_text(log.new_values)) < 4000
    assert len(log.description or "") < 300
    (create,) = logs("create")
    assert create.new_values is not None
    assert create.new_values["metadata"][-1] == marker


def test_a_huge_dict_keeps_its_first_keys_and_a_marker_key(track: Track) -> None:
    track(Product)
    Product.objects.create(name="p", metadata={f"k{i}": i for i in range(1500)})
    (log,) = logs("create")
    assert log.new_values is not None
    stored = log.new_values["metadata"]
    assert list(stored)[:1000] == [f"k{i}" for i in range(1000)]
    assert list(stored)[1000:] == ["…[truncated 500 keys]"]
    assert stored["…[truncated 500 keys]"] is None


def test_a_value_over_the_byte_bound_is_replaced_by_its_size(track: Track) -> None:
    track(Product)
    value = {"rows": [["x" * 5000] * 20] * 20}  # 400 strings of 5,000 characters
    Product.objects.create(name="p", metadata=value)
    (log,) = logs("create")
    assert log.new_values is not None
    size = json_size(value)
    assert size > DEFAULT_MAX_VALUE_BYTES
    assert log.new_values["metadata"] == f"…[value of {size} bytes not stored]"
    assert len(stored_text(log.new_values)) < 400


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([0] * 300_000, [0] * 299_999 + [1]),
        ({f"k{i}": 0 for i in range(2000)}, {**{f"k{i}": 0 for i in range(2000)}, "k1999": 1}),
        ({"rows": ["x" * 5000] * 200}, {"rows": ["x" * 5000] * 199 + ["y" * 5000]}),
    ],
    ids=["past-the-items-cut", "past-the-keys-cut", "past-the-byte-bound"],
)
def test_a_change_past_the_cut_is_still_logged(
    track: Track, client: Client, root: User, before: Any, after: Any
) -> None:
    track(Product)
    product = Product.objects.create(name="p", metadata=before)
    product.metadata = after
    product.save()
    (log,) = logs("update")
    assert log.changed_fields == ["metadata"]
    assert log.old_values == log.new_values  # both cut the same way
    assert log.changed_paths == ["metadata"]
    html = login(client, root).get(TIMELINE).text
    assert '<tr class="aa-change aa-change--changed">' in html
    assert '<th scope="row">metadata</th>' in html


def test_an_old_huge_row_renders_without_deepdiff(
    client: Client, root: User, deepdiff_calls: list[Any]
) -> None:
    # A row written before values were bounded (1.8 MB of JSON).
    log = old_update({"metadata": [0] * 300_000}, {"metadata": [1] * 300_000})
    assert log.changed_paths == ["metadata"]
    login(client, root)
    for url in (TIMELINE, "/activity/testapp.Product/1/"):
        response = client.get(url)
        assert response.status_code == 200
        html = response.text
        assert '<tr class="aa-change aa-change--changed">' in html
        assert '<th scope="row">metadata</th>' in html
        assert len(html) < 100_000  # the page shows a bounded preview
    assert client.get(admin_page(log)).status_code == 200
    assert deepdiff_calls == []


def test_an_old_row_with_many_paths_renders_without_deepdiff(
    client: Client, root: User, deepdiff_calls: list[Any]
) -> None:
    old = {f"k{i}": {"v": i} for i in range(600)}
    new = {f"k{i}": {"v": -i} for i in range(600)}
    old_update({"metadata": old, "name": "a"}, {"metadata": new, "name": "b"})
    html = login(client, root).get(TIMELINE).text
    assert html.count('<tr class="aa-change aa-change--changed">') == 2
    (log,) = logs("update")
    assert log.changed_paths == ["metadata", "name"]
    assert deepdiff_calls == []


def test_small_values_still_get_their_paths(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="p", metadata={"a": list(range(300)), "b": 1})
    product.metadata = {"a": list(range(300)), "b": 2}
    product.save()
    (log,) = logs("update")
    assert log.changed_paths == ["metadata.b"]


# -- item 6: deep values ----------------------------------------------------------------
def deep(depth: int, leaf: int = 0) -> Any:
    value: Any = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def django_alone(value: Any) -> type[BaseException] | None:
    """The error Django itself gives when it stores ``value`` (untracked), if any."""
    try:
        with transaction.atomic():
            Product.objects.create(name="alone", metadata=value)
            raise _RolledBack
    except _RolledBack:
        return None
    except Exception as error:
        return type(error)


class _RolledBack(Exception):
    pass


def capped(depth: int) -> Any:
    """What a stored value keeps of ``deep(depth)``: its outer ``MAX_DEPTH``
    levels around the marker."""
    value: Any = DEPTH_MARKER.format(depth=MAX_DEPTH)
    for level in range(depth - MAX_DEPTH, depth):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("depth", [20, 30, 31, 32, 400, 700, 1000, 2000, 5000, 9000])
def test_deep_json_saves_and_renders_as_django_does(
    track: Track, client: Client, root: User, depth: int
) -> None:
    error = django_alone(deep(depth))
    track(Product)
    if error is not None:
        # Beyond what this backend stores: the same error, and no log.
        with pytest.raises(error), transaction.atomic():
            Product.objects.create(name="p", metadata=deep(depth))
        assert not ActivityLog.objects.exists()
        return
    product = Product.objects.create(name="p", metadata=deep(depth))
    product.name = "q"
    product.save()
    product.metadata = deep(depth, leaf=1)  # changed below the cut
    product.save()
    product.delete()
    create, name_change, deep_change, delete = ActivityLog.objects.order_by("id")
    assert [create.action, delete.action] == ["create", "delete"]
    assert create.new_values is not None
    stored = create.new_values["metadata"]
    assert stored == (capped(depth) if depth > MAX_DEPTH else deep(depth))
    assert name_change.changed_fields == ["name"]
    assert deep_change.changed_fields == ["metadata"]
    assert deep_change.changed_paths  # whatever the depth
    login(client, root)
    assert client.get(TIMELINE).status_code == 200
    for log in (create, name_change, deep_change, delete):
        assert client.get(admin_page(log)).status_code == 200


def test_bulk_operations_take_deep_and_huge_values(track: Track) -> None:
    depth = 600 if django_alone(deep(600)) is None else 31  # MariaDB: 31 levels
    track(Product)
    Product.objects.bulk_create(
        [Product(name="a", metadata=deep(depth)), Product(name="b", metadata=[0] * 300_000)]
    )
    Product.objects.update(metadata=deep(depth, leaf=1))
    products = list(Product.objects.all())
    for product in products:
        product.metadata = [1] * 300_000
    Product.objects.bulk_update(products, ["metadata"])
    Product.objects.all().delete()
    actions = [log.action for log in ActivityLog.objects.order_by("id")]
    assert actions == ["create"] * 2 + ["update"] * 4 + ["delete"] * 2
    for log in ActivityLog.objects.all():
        assert len(stored_text(log.old_values)) + len(stored_text(log.new_values)) < 8000


def test_an_old_deep_row_renders_without_deepdiff(
    client: Client, root: User, deepdiff_calls: list[Any]
) -> None:
    # A row written before values were depth-capped (a tracked create of a
    # value 600 levels deep succeeded on SQLite and PostgreSQL).
    if connection.vendor == "mysql":
        # MariaDB's JSON columns take 31 levels: no such row can exist.
        assert django_alone(deep(602)) is IntegrityError
        return
    log = old_update({"metadata": deep(600)}, {"metadata": deep(600, leaf=1)})
    assert log.changed_paths == ["metadata"]
    login(client, root)
    html = client.get(TIMELINE).text
    assert '<tr class="aa-change aa-change--changed">' in html
    assert client.get(admin_page(log)).status_code == 200
    assert deepdiff_calls == []


# -- item 9: lone surrogates ------------------------------------------------------------
@pytest.fixture(params=["raise", "log"])
def on_error(request: pytest.FixtureRequest, settings: Settings) -> Iterator[str]:
    settings.AUTOAUDIT = {"ON_ERROR": request.param}
    yield request.param


def test_a_surrogate_in_a_json_value_is_stored_as_u_fffd(track: Track, on_error: str) -> None:
    value = {"k\udcff": "v\ud800"}
    error = django_alone(value)
    track(Product)
    if error is not None:
        # PostgreSQL's jsonb and MariaDB's JSON check refuse it: Django's
        # own error, and no log.
        with pytest.raises(error), transaction.atomic():
            Product.objects.create(name="p", metadata=value)
        assert not ActivityLog.objects.exists()
        return
    product = Product.objects.create(name="p", metadata=value)
    product.metadata = {"k": "w\ud800"}
    product.save()
    create, update = ActivityLog.objects.order_by("id")
    assert create.new_values is not None
    assert create.new_values["metadata"] == {"k\ufffd": "v\ufffd"}
    assert update.new_values == {"metadata": {"k": "w\ufffd"}}
    assert "\ufffd" in (update.description or "")


def _named(track: Track) -> Any:
    track(Product, entity_name=lambda product: f"{product.name} \ud800")
    return Product.objects.create(name="p")


def _described(track: Track) -> Any:
    track(Product, description=lambda **kwargs: "custom \udcff")
    return Product.objects.create(name="p")


def _with_context(track: Track) -> Any:
    track(Product)
    with autoaudit.context(note="n\ud800", **{"k\udcff": 1}):
        return Product.objects.create(name="p")


def _by_actor(track: Track) -> Any:
    track(Product)
    with autoaudit.actor(identifier="job\ud800", name="Job \udcff", actor_type="system"):
        return Product.objects.create(name="p")


@pytest.mark.parametrize("make", [_named, _described, _with_context, _by_actor])
def test_surrogates_in_log_texts_are_stored_as_u_fffd(
    track: Track, on_error: str, make: Callable[[Track], Any]
) -> None:
    make(track)
    (log,) = ActivityLog.objects.all()
    columns = [
        log.entity_name,
        log.description,
        log.actor_identifier,
        log.actor_name,
        json.dumps(log.extra_data, ensure_ascii=False),
    ]
    assert not any("\ud800" in (text or "") or "\udcff" in (text or "") for text in columns)
    assert any("\ufffd" in (text or "") for text in columns)


def test_value_bound_settings_reach_stored_values(track: Track, settings: Settings) -> None:
    settings.AUTOAUDIT = {"MAX_ITEMS": 2, "MAX_VALUE_BYTES": 100}
    track(Product)
    Product.objects.create(name="p", metadata=[1, 2, 3])
    log = ActivityLog.objects.get()
    assert log.new_values is not None
    assert log.new_values["metadata"] == [1, 2, "…[truncated 1 items]"]
