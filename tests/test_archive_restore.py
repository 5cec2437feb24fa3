"""``autoaudit_restore``: load an archive back, idempotently, or not at all."""

from __future__ import annotations

import datetime as dt
import gzip
import io
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_django import Settings

from autoaudit.lifecycle.archive import ArchiveError
from autoaudit.lifecycle.export import ADDED_FIELDS, FIELDS
from autoaudit.lifecycle.restore import restore_archive
from autoaudit.models import ActivityLog
from tests.archive_support import record, restore, signed, unsigned
from tests.test_privacy_support import make_log

pytestmark = pytest.mark.django_db


def rows() -> list[dict[str, Any]]:
    return list(ActivityLog.objects.order_by("id").values(*FIELDS))


@pytest.fixture
def archived(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """An archive of three varied old rows, which are gone from the table."""
    user = get_user_model()._default_manager.create_user("ann", "ann@example.com", "x")
    make_log(days_ago=400, action="update", old_values={"price": "9.00"}, changed_fields=["price"])
    make_log(days_ago=401, actor_type="user", user=user, actor_identifier="ann@example.com")
    make_log(
        days_ago=402,
        actor_type="system",
        actor_identifier=None,
        actor_name=None,
        ip_address="2001:db8::1",
        description='Ünïcode ☕ "quoted"\nnew line',
        extra_data={"nested": {"list": [1, 2.5, None, True]}},
    )
    before = rows()
    out = io.StringIO()
    call_command(
        "autoaudit_archive",
        "--older-than",
        "365",
        "--output-dir",
        str(tmp_path),
        stdout=out,
        stderr=io.StringIO(),
    )
    # The archive's own entry (the audit of the log) is the one row left;
    # these tests start from an empty table.
    assert ActivityLog.objects.filter(computed_entity="autoaudit.ActivityLog").delete()[0] == 1
    assert ActivityLog.objects.count() == 0
    return Path(out.getvalue().strip()), before


def test_round_trip_restores_every_column(archived: tuple[Path, list[dict[str, Any]]]) -> None:
    path, before = archived
    make_log()  # a newer row stays as it is
    out, _err = restore(str(path))
    assert f"Restored 3 rows from {path} (0 already present)." in out
    restored = [row for row in rows() if row["id"] in {r["id"] for r in before}]
    assert restored == before


def test_restoring_twice_is_harmless(archived: tuple[Path, list[dict[str, Any]]]) -> None:
    path, before = archived
    restore(str(path))
    out, _err = restore(str(path))
    assert "Restored 0 rows" in out and "(3 already present)" in out
    assert rows() == before


def test_partly_present(archived: tuple[Path, list[dict[str, Any]]]) -> None:
    path, before = archived
    restore(str(path))
    ActivityLog.objects.filter(pk=before[0]["id"]).delete()
    out, _err = restore(str(path))
    assert "Restored 1 rows" in out and "(2 already present)" in out
    assert rows() == before


def test_dry_run(archived: tuple[Path, list[dict[str, Any]]]) -> None:
    path, _before = archived
    out, _err = restore(str(path), "--dry-run")
    assert "is valid (3 rows); would restore 3, 0 already present" in out
    assert ActivityLog.objects.count() == 0


def test_a_deleted_user_is_restored_as_no_user(
    archived: tuple[Path, list[dict[str, Any]]],
) -> None:
    path, before = archived
    get_user_model()._default_manager.all().delete()
    out, _err = restore(str(path))
    assert "1 rows name a user that no longer exists" in out
    by_id = {row["id"]: row for row in rows()}
    assert all(row["user_id"] is None for row in by_id.values())
    assert [r["actor_identifier"] for r in rows()] == [r["actor_identifier"] for r in before]


def test_an_id_used_by_another_row_is_reported(
    archived: tuple[Path, list[dict[str, Any]]],
) -> None:
    path, before = archived
    make_log(id=before[0]["id"], actor_identifier="newcomer@example.com")
    _out, err = restore(str(path))
    assert "1 ids are used by other rows" in err
    assert ActivityLog.objects.get(pk=before[0]["id"]).actor_identifier == "newcomer@example.com"


# -- corrupt archives: a clear error, nothing loaded --------------------------------
def _corrupt(archived: tuple[Path, Any], change: Any) -> Path:
    path = archived[0]
    path.write_bytes(change(path.read_bytes()))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data[: len(data) // 2], "not a complete gzip file"),
        (lambda data: b"garbage" + data, "not a complete gzip file"),
        (
            lambda data: gzip.compress(
                gzip.decompress(data).replace(b'"action":"create"', b'"action":"delete"', 1)
            ),
            "checksum does not match",
        ),
        (
            lambda data: gzip.compress(gzip.decompress(data).rsplit(b"\n", 2)[0] + b"\n"),
            "no trailer line",
        ),
        (
            lambda data: gzip.compress(b'{"id": 1, "action": \n' + gzip.decompress(data)),
            "line 1: not valid JSON",
        ),
        (
            lambda data: gzip.compress(gzip.decompress(data) + b'{"id": 5}\n'),
            "data after the trailer line",
        ),
    ],
    ids=["truncated", "not-gzip", "edited", "no-trailer", "bad-json", "after-trailer"],
)
def test_corrupt_archive(
    archived: tuple[Path, list[dict[str, Any]]], change: Any, message: str
) -> None:
    path = _corrupt(archived, change)
    with pytest.raises(CommandError, match=message):
        restore(str(path))
    assert ActivityLog.objects.count() == 0


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([record(1, colour="red")], "line 2: unknown column"),
        ([record(1), ["not", "an", "object"]], "line 3: a record must be a JSON object"),
        ([record("1")], "'id' must be an integer"),
        ([record(1, created_at="yesterday")], "not an ISO 8601 datetime"),
        ([record(1, created_at="2023-02-30T10:00:00")], "not an ISO 8601 datetime"),
        ([record(1, created_at=None)], "not an ISO 8601 datetime"),
    ],
)
def test_bad_records(tmp_path: Path, records: list[Any], message: str) -> None:
    path = signed(tmp_path, records)
    with pytest.raises(CommandError, match=message):
        restore(str(path))
    assert ActivityLog.objects.count() == 0


def test_wrong_row_count_in_trailer(tmp_path: Path) -> None:
    path = signed(tmp_path, [record(1)])
    data = gzip.decompress(path.read_bytes()).replace(b'"rows":1', b'"rows":2')
    path.write_bytes(gzip.compress(data))
    with pytest.raises(CommandError, match="holds 1 rows but its trailer says 2"):
        restore(str(path))


def test_unsupported_version(tmp_path: Path) -> None:
    path = signed(tmp_path, [record(1)])
    data = gzip.decompress(path.read_bytes()).replace(b'"version":2', b'"version":9')
    path.write_bytes(gzip.compress(data))
    with pytest.raises(CommandError, match="unsupported archive version 9"):
        restore(str(path))
    path = unsigned(tmp_path, [record(1)])
    data = gzip.decompress(path.read_bytes()).replace(b'"version":1', b'"version":9')
    path.write_bytes(gzip.compress(data))
    with pytest.raises(CommandError, match="unsupported archive version 9"):
        restore(str(path), "--trust-unsigned")


def test_a_row_the_database_rejects_rolls_everything_back(tmp_path: Path) -> None:
    good = [record(pk) for pk in range(1, 6)]
    # Valid JSON and a str, but no database (driver) can encode it.
    bad = record(6, description="a lone surrogate \ud800")
    path = signed(tmp_path, [*good, bad])
    with pytest.raises(ArchiveError, match="nothing was restored"):
        restore_archive(path, batch_size=2)  # the first batches were inserted
    assert ActivityLog.objects.count() == 0
    with pytest.raises(CommandError, match="nothing was restored"):
        restore(str(path))


def test_an_archive_from_before_the_wave_2_columns_restores_them_as_null(tmp_path: Path) -> None:
    # Archives written before migration 0005 have no such keys; every other
    # column is still required.
    old = {key: value for key, value in record(1).items() if key not in ADDED_FIELDS}
    restore(str(signed(tmp_path, [old])))
    restored = ActivityLog.objects.values(*ADDED_FIELDS).get()
    assert restored == dict.fromkeys(ADDED_FIELDS)
    ActivityLog.objects.all().delete()
    no_entity = {key: value for key, value in old.items() if key != "entity"}
    with pytest.raises(CommandError, match="missing column"):
        restore(str(signed(tmp_path, [no_entity])))


def test_naive_and_aware_times(tmp_path: Path, settings: Settings) -> None:
    path = signed(tmp_path, [record(1, created_at="2023-01-05T10:00:00")])
    restore(str(path))
    assert ActivityLog.objects.get().created_at.isoformat() == "2023-01-05T10:00:00+00:00"
    ActivityLog.objects.all().delete()
    settings.USE_TZ = False
    path = signed(tmp_path, [record(2, created_at="2023-01-05T10:00:00+07:00")])
    restore(str(path))
    assert ActivityLog.objects.get().created_at == dt.datetime(2023, 1, 5, 3, 0)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        restore(str(tmp_path / "nope.jsonl.gz"))
