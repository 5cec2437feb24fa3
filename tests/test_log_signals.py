"""``autoaudit.signals.pre_log`` / ``post_log`` (issue 18): every path, and
PostgreSQL's one statement per save."""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.dispatch import Signal
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.signals import LogDraft, PendingLog, post_log, pre_log
from autoaudit.tracking import hooks, store
from autoaudit.tracking.record import COLUMNS, assemble
from tests.testapp.models import Product, Tag, UUIDItem
from tests.typing_support import Track

pytestmark = pytest.mark.django_db(transaction=True)

POSTGRES = connection.vendor == "postgresql"
Receiver = Callable[..., Any]


@pytest.fixture
def connect() -> Iterator[Callable[..., Receiver]]:
    """Connect a receiver for one test (weak=False: a local function)."""
    connected: list[tuple[Signal, Receiver, Any]] = []

    def _connect(signal: Signal, receiver: Receiver, sender: Any = None) -> Receiver:
        signal.connect(receiver, sender=sender, weak=False)
        connected.append((signal, receiver, sender))
        return receiver

    yield _connect
    for signal, receiver, sender in connected:
        signal.disconnect(receiver, sender=sender)


def veto(sender: Any, draft: PendingLog, **kwargs: Any) -> bool:
    return False


def tag(sender: Any, draft: PendingLog, **kwargs: Any) -> None:
    draft.extra_data = {**(draft.extra_data or {}), "tenant": "acme"}


def statements(operation: Callable[[], Any]) -> list[str]:
    with CaptureQueriesContext(connection) as context:
        operation()
    return [q["sql"] for q in context.captured_queries]


# -- no receivers: nothing changes -------------------------------------------------------
def test_without_receivers_the_drafts_go_through_untouched() -> None:
    assert not pre_log.receivers and not post_log.receivers
    drafts: list[LogDraft] = []
    assert hooks.approved(drafts, "default") is drafts


# -- pre_log: every path ------------------------------------------------------------------
def test_a_veto_skips_the_log_but_not_the_save(track: Track, connect: Any) -> None:
    track(Product, m2m_fields=["tags"])
    connect(pre_log, veto)
    product = Product.objects.create(name="a", price=1, stock=1)
    product.stock = 5
    product.save()
    product.tags.add(Tag.objects.create(name="t"))
    Product.objects.filter(pk=product.pk).update(stock=6)
    Product.objects.bulk_create([Product(name="b", sku="b")])
    Product.objects.filter(name="b").delete()
    product.refresh_from_db()
    assert product.stock == 6 and product.tags.count() == 1
    assert not Product.objects.filter(name="b").exists()
    assert not ActivityLog.objects.exists()


def test_a_receiver_changes_what_is_written_on_every_path(track: Track, connect: Any) -> None:
    track(Product, m2m_fields=["tags"])
    seen: list[tuple[Any, str, str]] = []

    def note(sender: Any, draft: PendingLog, using: str, **kwargs: Any) -> None:
        seen.append((sender, draft.action, using))
        tag(sender, draft)
        draft.description = f"[acme] {draft.description}"

    connect(pre_log, note)
    product = Product.objects.create(name="a", price=1, stock=1)
    product.stock = 5
    product.save()
    product.tags.add(Tag.objects.create(name="t"))
    Product.objects.filter(pk=product.pk).update(stock=6)
    Product.objects.bulk_create([Product(name="b", sku="b")])
    Product.objects.filter(name="b").delete()
    autoaudit.log_activity(None, "download", "testapp.Product", entity_id=product.pk)
    logs = list(ActivityLog.objects.order_by("id"))
    assert [log.action for log in logs] == [
        "create",
        "update",
        "update",
        "update",
        "create",
        "delete",
        "download",
    ]
    for log in logs:
        assert log.extra_data == {"tenant": "acme"}, log.action
        assert (log.description or "").startswith("[acme] "), log.description
    assert {sender for sender, _action, _using in seen} == {Product}
    assert {using for _sender, _action, using in seen} == {"default"}


def test_log_activity_returns_the_unsaved_row_when_vetoed(connect: Any) -> None:
    connect(pre_log, veto)
    log = autoaudit.log_activity(None, "download", "report", entity_id=3)
    assert log.pk is None and log.action == "download"
    assert not ActivityLog.objects.exists()


def test_auth_events_go_through_pre_log(connect: Any) -> None:
    user_model = get_user_model()
    user_model._default_manager.create_user("ann", "ann@example.com", "pw")
    actions: list[str] = []

    def record(sender: Any, draft: PendingLog, **kwargs: Any) -> bool:
        action: str = draft.action
        actions.append(action)
        return action != "login_failed"

    connect(pre_log, record)
    client = Client()
    assert not client.login(username="ann", password="wrong")
    assert client.login(username="ann", password="pw")
    assert actions == ["login_failed", "login"]
    assert list(ActivityLog.objects.values_list("action", flat=True)) == ["login"]


def test_a_receiver_for_one_sender_sees_only_its_logs(track: Track, connect: Any) -> None:
    track(Product)
    track(Tag)
    connect(pre_log, veto, sender=Tag)
    Product.objects.create(name="kept")
    Tag.objects.create(name="vetoed")
    assert list(ActivityLog.objects.values_list("computed_entity", flat=True)) == [
        "testapp.Product"
    ]


def test_what_a_receiver_sets_is_made_json_safe(track: Track, connect: Any) -> None:
    track(Product)

    def decimal(sender: Any, draft: PendingLog, **kwargs: Any) -> None:
        draft.extra_data = {"rate": Decimal("1.50")}
        draft.entity_name = "x" * 400

    connect(pre_log, decimal)
    Product.objects.create(name="a")
    log = ActivityLog.objects.get()
    assert log.extra_data == {"rate": "1.50"}
    assert log.entity_name is not None and len(log.entity_name) <= 255


def test_a_pending_log_has_only_columns() -> None:
    columns: dict[str, Any] = dict.fromkeys(COLUMNS)
    draft = PendingLog(LogDraft(**columns))
    with pytest.raises(AttributeError, match="no column 'colour'; columns: action, "):
        draft.colour = "red"
    with pytest.raises(AttributeError, match="no column 'colour'"):
        _ = draft.colour


def test_a_receiver_that_raises_stops_the_change_with_its_log(track: Track, connect: Any) -> None:
    track(Product)

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver failed")

    connect(pre_log, broken)
    with pytest.raises(RuntimeError, match="receiver failed"):
        Product.objects.create(name="a")
    assert not Product.objects.exists()
    assert not ActivityLog.objects.exists()


# -- PostgreSQL: one statement per save ---------------------------------------------------
def test_an_update_vetoed_is_django_s_update_alone(track: Track, connect: Any) -> None:
    track(Product)
    product = Product.objects.create(name="a", stock=1)
    connect(pre_log, veto)
    product.stock = 2
    sql = statements(product.save)
    assert Product.objects.get().stock == 2
    assert list(ActivityLog.objects.values_list("action", flat=True)) == ["create"]
    updates = [s for s in sql if s.startswith("UPDATE")]
    assert len(updates) == 1
    if POSTGRES:  # the guarded UPDATE of the one-statement path, without the log
        assert "activity_logs" not in updates[0]
        assert not any(s in ("BEGIN", "COMMIT") for s in sql)


def test_an_update_changed_by_a_receiver_is_one_statement(track: Track, connect: Any) -> None:
    track(Product)
    product = Product.objects.create(name="a", stock=1)
    connect(pre_log, tag)
    product.stock = 2
    sql = statements(product.save)
    log = ActivityLog.objects.for_instance(product).first()
    assert log is not None and log.action == "update"
    assert log.extra_data == {"tenant": "acme"}
    if POSTGRES:
        assert [s for s in sql if s.startswith("WITH aa_row AS (UPDATE")], sql


def test_a_create_with_its_own_key_stays_one_statement(track: Track, connect: Any) -> None:
    track(UUIDItem)
    connect(pre_log, tag)
    sql = statements(lambda: UUIDItem.objects.create(name="u"))
    assert ActivityLog.objects.get().extra_data == {"tenant": "acme"}
    if POSTGRES:
        assert len(sql) == 1 and sql[0].startswith("WITH aa_row AS (INSERT"), sql
    connect(pre_log, veto)
    sql = statements(lambda: UUIDItem.objects.create(name="v"))
    assert UUIDItem.objects.count() == 2 and ActivityLog.objects.count() == 1
    if POSTGRES:
        assert len(sql) == 1 and sql[0].startswith("INSERT INTO"), sql


def test_a_create_keyed_by_the_sequence_shows_the_receiver_the_real_key(
    track: Track, connect: Any
) -> None:
    track(Product)
    keys: list[str | None] = []
    connect(pre_log, lambda sender, draft, **kwargs: keys.append(draft.entity_pk))
    product = Product.objects.create(name="a")
    assert keys == [str(product.pk)]
    assert ActivityLog.objects.get().entity_pk == str(product.pk)


# -- post_log ----------------------------------------------------------------------------
def test_post_log_is_sent_after_commit_with_what_was_written(track: Track, connect: Any) -> None:
    track(Product)
    received: list[LogDraft] = []
    connect(post_log, lambda sender, draft, using, **kwargs: received.append(draft))
    connect(pre_log, tag)
    with transaction.atomic():
        product = Product.objects.create(name="a")
        product.stock = 3
        product.save()
        assert received == []  # not before the commit
    assert [d.action for d in received] == ["create", "update"]
    assert all(d.extra_data == {"tenant": "acme"} for d in received)
    assert received[0].entity_pk == str(product.pk)


def test_post_log_is_not_sent_for_a_rolled_back_change(track: Track, connect: Any) -> None:
    track(Product)
    received: list[LogDraft] = []
    connect(post_log, lambda sender, draft, **kwargs: received.append(draft))
    with pytest.raises(RuntimeError), transaction.atomic():
        Product.objects.create(name="a")
        raise RuntimeError
    assert received == []


def test_a_failing_post_log_receiver_loses_neither_the_change_nor_its_log(
    track: Track, connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    track(Product)
    received: list[str] = []

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("sink down")

    connect(post_log, broken)
    connect(post_log, lambda sender, draft, **kwargs: received.append(draft.action))
    with caplog.at_level(logging.ERROR, logger="autoaudit"):
        product = Product.objects.create(name="a")  # autocommit
    assert Product.objects.filter(pk=product.pk).exists()
    assert ActivityLog.objects.for_instance(product).get().action == "create"
    assert received == ["create"]  # the next receiver still ran
    assert "post_log receiver" in caplog.text and "sink down" in caplog.text


def test_post_log_for_manual_logs_and_under_on_error_log(settings: Settings, connect: Any) -> None:
    settings.AUTOAUDIT = {"ON_ERROR": "log"}
    received: list[str] = []
    connect(post_log, lambda sender, draft, **kwargs: received.append(draft.action))
    autoaudit.log_activity(None, "download", "report", entity_id=3)
    assert received == ["download"]


def test_a_draft_with_its_own_time_keeps_it_through_pre_log(connect: Any) -> None:
    """Imported history (``autoaudit_import``) gives drafts the source's time;
    the store writes it and a ``pre_log`` receiver does not lose it."""
    when = datetime.datetime(2021, 5, 4, 3, 2, 1, 123456, tzinfo=datetime.UTC)
    connect(pre_log, tag, sender=Product)
    drafts = [
        dataclasses.replace(
            assemble("update", model=Product, pk=pk, new={"stock": pk}, changed=["stock"]),
            created_at=when if pk == 1 else None,
        )
        for pk in (1, 2)
    ]
    store.write(drafts, "default")
    logs = list(ActivityLog.objects.order_by("entity_id"))
    assert logs[0].created_at == when
    assert logs[1].created_at > when  # stamped now, as every change made today
    assert [log.extra_data for log in logs] == [{"tenant": "acme"}] * 2
    with pytest.raises(AttributeError):
        PendingLog(drafts[0]).created_at = when  # not a column a receiver sets
