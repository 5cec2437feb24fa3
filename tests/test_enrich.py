"""Issue 17, the design document's future fields: ``tags``, the related
entity and ``changes_summary``, filled by the one row assembler on every path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from django.utils import translation
from pytest_django import DjangoAssertNumQueries, Settings

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.values.tags import MAX_TAGS, TAG_LENGTH
from tests.testapp.models import Basket, BasketItem, Category, Product, Tag
from tests.typing_support import Track
from tests.ui_factories import login, make_log

pytestmark = pytest.mark.django_db


def _last() -> ActivityLog:
    return ActivityLog.objects.order_by("-id")[0]


# --- tags -------------------------------------------------------------------


def test_register_tags_and_context_tags_merge_in_order_once(track: Track) -> None:
    track(Product, tags=["catalogue", "pricing"])
    outer = autoaudit.context(tags=["import", "pricing"], source="csv")
    with outer, autoaudit.context(tags=["batch-7", "import"]):
        Product.objects.create(name="Lamp")
    log = _last()
    assert log.tags == ["catalogue", "pricing", "import", "batch-7"]
    # The context's tags are the column's, not extra data; other keys stay.
    assert log.extra_data == {"source": "csv"}


def test_a_callable_gives_each_instance_its_tags(track: Track) -> None:
    track(Product, tags=lambda product: ["expensive"] if product.price > 100 else [])
    Product.objects.create(name="Cheap", price=Decimal("5"))
    assert _last().tags is None
    Product.objects.create(name="Dear", price=Decimal("500"))
    assert _last().tags == ["expensive"]


def test_no_tags_leave_the_column_null(track: Track) -> None:
    track(Product)
    Product.objects.create(name="Plain")
    assert _last().tags is None


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ("sale", "tags must be a list of strings"),
        ([1], "each tag must be a string"),
        ([""], "non-empty string of at most"),
        (["x" * (TAG_LENGTH + 1)], "non-empty string of at most"),
        ([f"t{i}" for i in range(MAX_TAGS + 1)], f"at most {MAX_TAGS} tags"),
    ],
)
def test_bad_register_tags_fail_at_register_time(tags: Any, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message) as caught:
        autoaudit.register(Product, tags=tags)
    assert "autoaudit.register(testapp.Product)" in str(caught.value)
    assert not autoaudit.is_registered(Product)


def test_bad_context_tags_fail_where_the_context_is_made() -> None:
    with pytest.raises(TypeError, match=r"autoaudit.context\(\): tags must be a list"):
        autoaudit.context(tags="sale")
    with pytest.raises(ValueError, match="non-empty"):
        autoaudit.context(tags=["  "])


@pytest.mark.django_db(transaction=True)
def test_a_callable_returning_bad_tags_follows_on_error(track: Track, settings: Settings) -> None:
    track(Product, tags=lambda product: "oops")
    with pytest.raises(TypeError, match=r"the tags of testapp\.Product: tags must be a list"):
        Product.objects.create(name="Bad")
    assert not Product.objects.exists()  # the change rolled back with its log
    settings.AUTOAUDIT = {"ON_ERROR": "log"}
    Product.objects.create(name="Logged anyway")
    assert _last().tags is None


def test_tagged_finds_exact_tags_only(track: Track) -> None:
    track(Product)
    with autoaudit.context(tags=["sale"]):
        Product.objects.create(name="A")
    with autoaudit.context(tags=["salesforce", "x"]):
        Product.objects.create(name="B")
    Product.objects.create(name="C")
    assert [log.entity_name for log in ActivityLog.objects.tagged("sale")] == ["A"]
    assert [log.entity_name for log in ActivityLog.objects.tagged("x")] == ["B"]
    assert not ActivityLog.objects.tagged("sal").exists()
    with pytest.raises(TypeError):
        ActivityLog.objects.tagged(["sale"])  # type: ignore[arg-type]


def test_tagged_uses_the_gin_index_on_postgresql(track: Track) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the GIN index exists on PostgreSQL only")
    from django.db import transaction

    track(Product)
    with autoaudit.context(tags=["sale"]):
        Product.objects.create(name="A")
    queryset = ActivityLog.objects.tagged("sale").order_by()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()
        transaction.set_rollback(True)
    assert "idx_actlog_tags_gin" in plan, plan


# --- related entity ----------------------------------------------------------


def test_related_names_the_instance_a_change_belongs_to(track: Track) -> None:
    track(BasketItem, related=lambda item: item.basket)
    basket = Basket.objects.create(label="B1")
    item = BasketItem.objects.create(basket=basket, name="apple")
    log = _last()
    assert (log.related_entity_type, log.related_entity_id) == ("testapp.Basket", str(basket.pk))
    item.name = "pear"
    item.save()
    item.delete()
    logs = ActivityLog.objects.related_to(basket)
    assert [log.action for log in logs] == ["delete", "update", "create"]
    assert not ActivityLog.objects.related_to(Basket(label="unsaved")).exists()


def test_related_as_a_pair_costs_no_query_per_row_in_bulk(
    track: Track, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    basket = Basket.objects.create(label="B1")
    items = [BasketItem.objects.create(basket=basket, name=f"i{n}") for n in range(5)]
    track(BasketItem, related=lambda item: (Basket, item.basket_id))
    # The same number of queries as with no related option at all.
    with django_assert_num_queries(3):  # select the rows, UPDATE, INSERT the logs
        BasketItem.objects.filter(pk__in=[i.pk for i in items]).update(name="x")
    assert ActivityLog.objects.related_to(basket).count() == 5


def test_related_by_label_and_none(track: Track) -> None:
    track(Product, related=lambda p: ("testapp.Category", p.category_id))
    category = Category.objects.create(name="Tools")
    Product.objects.create(name="Saw", category=category)
    assert (_last().related_entity_type, _last().related_entity_id) == (
        "testapp.Category",
        str(category.pk),
    )
    Product.objects.create(name="Loose")  # category_id None -> NULL
    assert (_last().related_entity_type, _last().related_entity_id) == (None, None)


def test_register_related_must_be_callable() -> None:
    with pytest.raises(ImproperlyConfigured, match="related must be a callable"):
        autoaudit.register(Product, related="category")
    assert not autoaudit.is_registered(Product)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "result",
    [
        "not an instance",
        ("nosuch.Model", 1),
        (int, 1),
    ],
)
def test_a_bad_related_result_follows_on_error(
    track: Track, settings: Settings, result: Any
) -> None:
    track(Product, related=lambda p: result)
    with pytest.raises((TypeError, ValueError), match=r"the related entity of testapp\.Product"):
        Product.objects.create(name="Bad")
    assert not Product.objects.exists()  # the change rolled back with its log
    settings.AUTOAUDIT = {"ON_ERROR": "log"}
    Product.objects.create(name="Kept")
    assert (_last().related_entity_type, _last().related_entity_id) == (None, None)


@pytest.mark.django_db(transaction=True)
def test_a_raising_related_callable_follows_on_error(
    track: Track, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    def related(product: Product) -> Any:
        raise LookupError("no order")

    track(Product, related=related)
    with pytest.raises(LookupError):
        Product.objects.create(name="Bad")
    assert not Product.objects.exists()  # the change rolled back with its log
    settings.AUTOAUDIT = {"ON_ERROR": "log"}
    Product.objects.create(name="Kept")
    assert _last().entity_name == "Kept"
    assert "the related entity of testapp.Product failed" in caplog.text


# --- changes_summary ---------------------------------------------------------


def test_update_summary_names_each_change(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="Laptop", price=Decimal("15000000"), stock=10)
    assert (_last().changes_summary or "").startswith(
        "Created with name Laptop, price 15000000.00, stock 10, "
    )
    product.price = Decimal("14500000")
    product.stock = 8
    product.save()
    assert _last().changes_summary == "price 15000000.00 → 14500000.00, stock 10 → 8"
    product.delete()
    assert (_last().changes_summary or "").startswith("Deleted; it had name Laptop, ")


def test_summary_is_masked(track: Track) -> None:
    track(Product, mask_fields={"internal_note": "redact"})
    product = Product.objects.create(name="Safe", internal_note="s3cret-value")
    product.internal_note = "other-s3cret"
    product.save()
    for log in ActivityLog.objects.all():
        assert "s3cret" not in (log.changes_summary or "")
    assert _last().changes_summary == "internal note ******** → ********"


def test_json_values_are_summarised_by_changed_paths(track: Track) -> None:
    track(Product, include_fields=["metadata"])
    product = Product.objects.create(name="P", metadata={"specs": {"ram": 8, "cpu": "i5"}})
    product.metadata = {"specs": {"ram": 16, "cpu": "i5"}, "colour": "red"}
    product.save()
    # Each changed path, as the description names them.
    assert _last().changes_summary == "metadata.colour ∅ → red, metadata.specs.ram 8 → 16"


def test_m2m_summary_says_what_was_added_and_removed(track: Track) -> None:
    track(Product, m2m_fields=["tags"])
    product = Product.objects.create(name="P")
    first, second = Tag.objects.create(name="a"), Tag.objects.create(name="b")
    product.tags.add(first)
    assert _last().changes_summary == f"tags: added [{first.pk}]"
    product.tags.add(second)
    product.tags.remove(first)
    assert _last().changes_summary == f"tags: removed [{first.pk}]"


def test_summary_is_bounded_with_an_ellipsis(track: Track) -> None:
    track(Product, include_fields=["name", "sku", "description", "internal_note"])
    product = Product.objects.create(name="P")
    product.name, product.sku, product.description = "n" * 200, "s" * 50, "d" * 300
    product.internal_note = "i" * 200
    product.save()
    summary = _last().changes_summary or ""
    assert len(summary) == 255
    assert summary.endswith("…")


def test_summary_is_translated(track: Track) -> None:
    track(Product, include_fields=["name"])
    with translation.override("id"):
        Product.objects.create(name="Lampu")
    assert _last().changes_summary == "Dibuat dengan name Lampu"


def test_events_and_manual_logs_with_no_values_have_no_summary() -> None:
    autoaudit.log_activity(None, "view", "report")
    assert _last().changes_summary is None


def test_manual_helpers_fill_the_columns(track: Track) -> None:
    track(BasketItem, tags=["basket"], related=lambda item: item.basket)
    basket = Basket.objects.create(label="B")
    item = BasketItem.objects.create(basket=basket, name="x")
    with autoaudit.context(tags=["manual"]):
        autoaudit.log_model_change(None, item, "view")
    log = _last()
    assert log.action == "view"
    assert log.tags == ["basket", "manual"]
    assert log.related_entity_id == str(basket.pk)


# --- the timeline ---------------------------------------------------------------


def test_the_timeline_shows_tags_filters_by_them_and_links_the_related_entity(
    client: Client, root: User
) -> None:
    tagged = make_log(
        tags=["sale", "q4"], related_entity_type="testapp.Basket", related_entity_id="3"
    )
    other = make_log(tags=["salesforce"])
    login(client, root)
    html = client.get("/activity/").text
    assert '<a class="aa-tag" href="?tag=sale"' in html
    assert '<a class="aa-tag" href="?tag=q4"' in html
    assert 'href="/activity/testapp.Basket/3/"' in html
    assert "Basket #3" in html
    filtered = client.get("/activity/", {"tag": "sale"}).text
    assert f'data-aa-entry="{tagged.pk}"' in filtered
    assert f'data-aa-entry="{other.pk}"' not in filtered
    too_long = client.get("/activity/", {"tag": "x" * (TAG_LENGTH + 1)})
    assert too_long.status_code == 200  # reported on the form, not applied
    assert f'data-aa-entry="{other.pk}"' in too_long.text
