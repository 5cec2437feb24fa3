"""``autoaudit_seal`` and ``autoaudit_verify``: sealing, tampering, late rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries, Settings

from autoaudit.lifecycle import sealing
from autoaudit.lifecycle.rowmac import SealKey, canonical
from autoaudit.models import ActivityLog, Seal, SealEvent
from tests.seal_support import make_rows, seal, verify

pytestmark = pytest.mark.django_db


def test_seals_old_rows_in_chained_seals_and_verifies() -> None:
    rows = make_rows(25)
    out = seal("--batch-size", "10")
    assert "Sealed 25 rows in 3 seals" in out
    seals = list(Seal.objects.order_by("first_id"))
    assert [(s.first_id, s.row_count) for s in seals][1:] == [
        (seals[0].last_id + 1, 10),
        (seals[1].last_id + 1, 5),
    ]
    assert seals[0].first_id == 1 and seals[-1].last_id == rows[-1].pk
    assert [s.previous_digest for s in seals] == ["", seals[0].digest, seals[1].digest]
    status, report = verify()
    assert status == 0, report
    assert "3 seals, 25 sealed rows checked, 0 rows not sealed yet." in report
    assert f"Head digest: {seals[-1].digest}" in report
    assert seal() == "Nothing to seal.\n"


def test_rows_younger_than_the_delay_wait(settings: Settings) -> None:
    old = make_rows(3)
    young = make_rows(2, age=dt.timedelta(seconds=10))
    make_rows(1)  # old again, but after a young one: waits for it
    seal()
    (only,) = Seal.objects.all()
    assert only.last_id == old[-1].pk
    settings.AUTOAUDIT = {"SEAL_DELAY": 5}
    seal()
    assert Seal.objects.order_by("-first_id")[0].last_id > young[-1].pk
    assert verify()[0] == 0


def test_an_edited_value_is_named() -> None:
    rows = make_rows(5)
    seal()
    ActivityLog.objects.filter(pk=rows[2].pk).update(new_values={"price": 1})
    status, out = verify()
    assert status == 1
    assert f"Changed rows: 1: {rows[2].pk}\n" in out


def test_a_deleted_row_is_named() -> None:
    rows = make_rows(5)
    seal()
    ActivityLog.objects.filter(pk=rows[1].pk).delete()
    status, out = verify()
    assert status == 1
    assert f"Deleted rows: 1: {rows[1].pk}\n" in out


def test_an_inserted_row_in_a_sealed_range_is_named() -> None:
    rows = make_rows(5)
    gap = rows[2]
    ActivityLog.objects.filter(pk=gap.pk).delete()  # before sealing: a gap, like a rollback
    seal()
    gap.save(force_insert=True)  # created_at: now, after the seal
    status, out = verify()
    assert status == 1
    assert f"Inserted rows (an id inside a sealed range, created after its seal): 1: {gap.pk}" in (
        out
    )


def test_a_late_row_is_reported_distinctly() -> None:
    rows = make_rows(5)
    late = rows[3]
    ActivityLog.objects.filter(pk=late.pk).delete()
    seal()
    late.save(force_insert=True)
    ActivityLog.objects.filter(pk=late.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    status, out = verify()
    assert status == 0, out
    assert f"Late rows (committed after their seal; see docs/security.md): 1: {late.pk}" in out
    assert verify("--strict")[0] == 1


def test_truncate_names_every_row() -> None:
    rows = make_rows(12)
    seal("--batch-size", "5")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {ActivityLog._meta.db_table}")
    status, out = verify()
    assert status == 1
    assert f"Deleted rows: 12: {rows[0].pk}-{rows[-1].pk}\n" in out


def test_swapped_rows_are_both_named() -> None:
    rows = make_rows(4)
    seal()
    first, second = rows[0], rows[3]
    fields = [f.attname for f in ActivityLog._meta.concrete_fields if f.attname != "id"]
    for target, source in ((first, second), (second, first)):
        ActivityLog.objects.filter(pk=target.pk).update(
            **{name: getattr(source, name) for name in fields}
        )
    status, out = verify()
    assert status == 1
    assert f"Changed rows: 2: {first.pk}, {second.pk}\n" in out


@pytest.mark.parametrize(
    "edit",
    [{"row_count": 4}, {"created_at": timezone.now()}, {"macs": b"\0" * 40}, {"digest": "0" * 64}],
    ids=["count", "time", "macs", "digest"],
)
def test_an_edited_seal_is_broken(edit: dict[str, object]) -> None:
    make_rows(5)
    seal("--batch-size", "2")
    middle = Seal.objects.order_by("first_id")[1]
    Seal.objects.filter(pk=middle.pk).update(**edit)
    status, out = verify()
    assert status == 1
    assert f"Broken seal: seal {middle.first_id}-{middle.last_id}: " in out


def test_a_deleted_seal_is_missing() -> None:
    make_rows(6)
    seal("--batch-size", "2")
    middle = Seal.objects.order_by("first_id")[1]
    middle.delete()
    status, out = verify()
    assert status == 1
    assert f"ids {middle.first_id}-{middle.last_id} or a seal between are missing" in out


def test_a_deleted_head_seal_fails_with_the_kept_head() -> None:
    make_rows(4)
    out = seal("--batch-size", "2")
    head = out.rsplit(" ", 1)[1].strip().rstrip(".")
    assert verify("--head", head)[0] == 0
    Seal.objects.order_by("-first_id")[0].delete()
    status, report = verify("--head", head)
    assert status == 1
    assert f"the seal with digest {head} is not in the chain" in report


def test_a_forged_event_is_named() -> None:
    rows = make_rows(3)
    seal()
    ActivityLog.objects.filter(pk=rows[0].pk).delete()
    event = SealEvent.objects.create(
        row_id=rows[0].pk,
        kind="pruned",
        old_mac="00" * 32,
        new_mac="",
        created_at=timezone.now(),
        key_id="x",
        mac="0" * 64,
    )
    status, out = verify()
    assert status == 1
    assert f"Forged or edited seal events (ids): 1: {event.pk}" in out


def test_another_key_cannot_verify(settings: Settings) -> None:
    make_rows(2)
    seal()
    settings.AUTOAUDIT = {"SEAL_KEY": "another-key"}
    status, out = verify()
    assert status == 1
    assert "not this SEAL_KEY's" in out


def test_the_mac_is_canonical() -> None:
    key = SealKey(b"k")
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    jakarta = when.astimezone(dt.timezone(dt.timedelta(hours=7)))
    one = {"id": 1, "a": {"x": 1.0, "y": [1e20]}, "created_at": when, "b": None}
    other = {"created_at": jakarta, "a": {"y": [100000000000000000000], "x": 1}, "id": 1}
    assert canonical(one) == canonical(other)
    assert key.row(one) == key.row(other)
    assert key.row(one) != key.row({**one, "b": ""})


def test_a_user_deleted_later_is_not_tampering(django_user_model: type[User]) -> None:
    user = django_user_model.objects.create(username="ann")
    rows = make_rows(3, user=user)
    seal()
    user.delete()
    assert ActivityLog.objects.filter(pk=rows[0].pk, user__isnull=True).exists()
    status, out = verify()
    assert status == 0, out
    assert f"user_id set to NULL; every other column intact): 3: {rows[0].pk}-{rows[2].pk}" in out
    ActivityLog.objects.filter(pk=rows[1].pk).update(actor_name="someone else")
    status, out = verify()
    assert status == 1
    assert f"Changed rows: 1: {rows[1].pk}\n" in out


def test_id_ranges() -> None:
    assert sealing.id_ranges([9, 1, 2, 3, 7, 10]) == "1-3, 7, 9-10"
    assert sealing.id_ranges([1, 3, 5], most=2) == "1, 3 ... and 1 more ranges"


def test_verify_query_count(django_assert_num_queries: DjangoAssertNumQueries) -> None:
    make_rows(30)
    seal("--batch-size", "10")
    # The seals, then per seal its events and its rows (one page), then the
    # count of unsealed rows.
    with django_assert_num_queries(1 + 3 * 2 + 1):
        report = sealing.verify()
    assert report.rows == 30 and not report.tampered
