"""``autoaudit_prune``: retention by actor type, in batches, beside live writes."""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from pytest_django import Settings

from autoaudit.models import ActivityLog
from tests.test_privacy_support import deletes, log_queries, make_log


def prune(*args: str) -> str:
    out = io.StringIO()
    call_command("autoaudit_prune", *args, stdout=out)
    return out.getvalue()


def ages() -> list[tuple[str, int]]:
    return sorted((log.actor_type, int(log.entity_id or 0)) for log in ActivityLog.objects.all())


def populate() -> None:
    """Rows tagged with their age in days (``entity_id``) per actor type."""
    for actor_type in ("user", "guest", "system"):
        for days in (10, 89, 91, 729, 731):
            make_log(actor_type=actor_type, days_ago=days, entity_id=days)


@pytest.mark.django_db
def test_default_retention_per_actor_type() -> None:
    populate()
    out = prune()
    assert ages() == [
        ("guest", 10),
        ("guest", 89),
        ("system", 10),
        ("system", 89),
        ("system", 91),
        ("system", 729),
        ("user", 10),
        ("user", 89),
        ("user", 91),
        ("user", 729),
    ]
    assert "guest: deleted 3 rows older than 90 days" in out
    assert "user: deleted 1 rows older than 730 days" in out
    assert "Pruned 5 rows." in out


@pytest.mark.django_db
def test_none_keeps_an_actor_type_forever(settings: Settings) -> None:
    settings.AUTOAUDIT = {"RETENTION_DAYS": {"user": None, "guest": 30}}
    populate()
    out = prune()
    assert "user: kept forever" in out
    remaining = ages()
    assert [days for kind, days in remaining if kind == "user"] == [10, 89, 91, 729, 731]
    assert [days for kind, days in remaining if kind == "guest"] == [10]
    assert [days for kind, days in remaining if kind == "system"] == [10, 89, 91, 729]


@pytest.mark.django_db
def test_dry_run_counts_and_deletes_nothing() -> None:
    populate()
    before = ActivityLog.objects.count()
    out = prune("--dry-run")
    assert "guest: would delete 3 rows" in out
    assert "Dry run: 5 rows would be deleted." in out
    assert ActivityLog.objects.count() == before


@pytest.mark.django_db
def test_deletes_in_batches_of_the_setting(settings: Settings) -> None:
    settings.AUTOAUDIT = {"PRUNE_BATCH_SIZE": 3}
    for _ in range(10):
        make_log(days_ago=100)
    make_log(days_ago=1)
    with log_queries() as queries:
        prune()
    # ceil(10 / 3) = 4 batches, each its own DELETE of at most 3 ids.
    assert len(deletes(queries)) == 4
    assert ActivityLog.objects.count() == 1


@pytest.mark.django_db
def test_batch_size_option_overrides_the_setting() -> None:
    for _ in range(5):
        make_log(days_ago=100)
    with log_queries() as queries:
        prune("--batch-size", "2")
    assert len(deletes(queries)) == 3
    assert ActivityLog.objects.count() == 0


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_bad_batch_size(value: str) -> None:
    with pytest.raises(CommandError):
        prune("--batch-size", value)


@pytest.mark.django_db
def test_nothing_to_prune() -> None:
    make_log()
    assert "Pruned 0 rows." in prune()
    assert ActivityLog.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_prune_while_another_thread_inserts() -> None:
    old_ids = {make_log(days_ago=200).pk for _ in range(60)}
    stop = threading.Event()
    inserted: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            while not stop.is_set() or len(inserted) < 20:
                inserted.append(make_log(actor_identifier="live@example.com").pk)
                time.sleep(0.001)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(inserted) < 5 and thread.is_alive():
            time.sleep(0.01)
        out = prune("--batch-size", "7")
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    assert "guest: deleted 60 rows" in out
    remaining = set(ActivityLog.objects.values_list("id", flat=True))
    assert remaining.isdisjoint(old_ids)
    assert remaining == set(inserted)
