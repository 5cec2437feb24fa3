"""Forget, prune and archive on sealed rows: recorded, never reported as tampering."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.management import call_command
from pytest_django import DjangoAssertNumQueries, Settings

from autoaudit.lifecycle.retention import prune
from autoaudit.models import ActivityLog, SealEvent
from tests.seal_support import make_rows, run, seal, verify

pytestmark = pytest.mark.django_db

GUEST = "guest1@example.com"


def test_forgetting_a_guest_is_not_tampering() -> None:
    rows = make_rows(4)
    seal()
    status, out = run("autoaudit_forget", GUEST)
    assert status == 0, out
    forgotten = ActivityLog.objects.get(pk=rows[1].pk)
    assert forgotten.actor_identifier != GUEST
    (event,) = SealEvent.objects.all()
    assert (event.row_id, event.kind) == (rows[1].pk, "anonymised")
    status, report = verify()
    assert status == 0, report
    assert f"Rows anonymised by autoaudit (not tampering): 1: {rows[1].pk}\n" in report
    assert "Changed rows" not in report


def test_a_forgotten_row_edited_afterwards_is_changed() -> None:
    rows = make_rows(3)
    seal()
    run("autoaudit_forget", GUEST)
    ActivityLog.objects.filter(pk=rows[1].pk).update(entity_name="rewritten")
    status, report = verify()
    assert status == 1
    assert f"Changed rows: 1: {rows[1].pk}\n" in report


def test_erasing_a_guest_is_not_tampering() -> None:
    rows = make_rows(3)
    seal()
    assert run("autoaudit_forget", GUEST, "--erase")[0] == 0
    assert not ActivityLog.objects.filter(pk=rows[1].pk).exists()
    status, report = verify()
    assert status == 0, report
    assert f"Rows erased by autoaudit (not tampering): 1: {rows[1].pk}\n" in report


def test_forgetting_then_erasing_follows_both_records() -> None:
    rows = make_rows(3)
    seal()
    run("autoaudit_forget", GUEST)
    replacement = ActivityLog.objects.get(pk=rows[1].pk).actor_identifier
    assert replacement is not None
    assert run("autoaudit_forget", replacement, "--erase")[0] == 0
    status, report = verify()
    assert status == 0, report
    assert f"Rows erased by autoaudit (not tampering): 1: {rows[1].pk}\n" in report


def test_pruning_is_not_tampering() -> None:
    expired = make_rows(3, age=dt.timedelta(days=100))  # guests: 90 days
    kept = make_rows(2)
    seal()
    result = prune()
    assert result.rows["guest"] == 3
    status, report = verify()
    assert status == 0, report
    assert (
        f"Rows pruned by autoaudit (not tampering): 3: {expired[0].pk}-{expired[-1].pk}" in report
    )
    assert ActivityLog.objects.filter(pk=kept[0].pk).exists()


def test_archiving_is_not_tampering(tmp_path: Path) -> None:
    old = make_rows(3, age=dt.timedelta(days=40))
    make_rows(2)
    seal()
    call_command(
        "autoaudit_archive", "--older-than", "30", "--output-dir", str(tmp_path), verbosity=0
    )
    status, report = verify()
    assert status == 0, report
    assert f"Rows archived by autoaudit (not tampering): 3: {old[0].pk}-{old[-1].pk}" in report


def test_a_restored_archive_is_not_tampering(tmp_path: Path) -> None:
    old = make_rows(3, age=dt.timedelta(days=40))
    seal()
    call_command(
        "autoaudit_archive", "--older-than", "30", "--output-dir", str(tmp_path), verbosity=0
    )
    (archive,) = tmp_path.iterdir()
    call_command("autoaudit_restore", str(archive), verbosity=0)
    status, report = verify()
    assert status == 0, report
    assert f"Rows restored by autoaudit (not tampering): 3: {old[0].pk}-{old[-1].pk}" in report
    ActivityLog.objects.filter(pk=old[0].pk).update(action="delete")
    status, report = verify()
    assert status == 1
    assert f"Changed rows: 1: {old[0].pk}\n" in report


def test_unsealed_rows_need_no_record() -> None:
    make_rows(2, age=dt.timedelta(days=100))
    prune()
    assert not SealEvent.objects.exists()


@pytest.mark.parametrize("rows", [5, 40])
def test_the_record_costs_the_same_per_batch_whatever_its_size(
    rows: int, django_assert_num_queries: DjangoAssertNumQueries, settings: Settings
) -> None:
    from django.db import connection

    make_rows(rows, age=dt.timedelta(days=100))
    seal()
    # Per actor type: its page of ids; for guests, in one savepoint (two
    # statements): the lock (SQLite: one write; PostgreSQL: the advisory lock
    # and the maintenance flag set and cleared; MariaDB: GET_LOCK and
    # RELEASE_LOCK), the sealed frontier, the MACs before, the DELETE, the
    # MACs after and one INSERT of the events.
    # PostgreSQL first asks whether the table is partitioned (one query).
    lock = {"sqlite": 1, "postgresql": 3}.get(connection.vendor, 2)
    partitioned = 1 if connection.vendor == "postgresql" else 0
    expected = partitioned + 3 + 2 + lock + 5
    with django_assert_num_queries(expected):
        prune()
    assert SealEvent.objects.count() == rows
