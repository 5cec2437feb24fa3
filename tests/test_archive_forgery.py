"""``autoaudit_restore`` trusts nothing in the file: forged, edited, unsigned,
wrongly signed and invalid archives load nothing (issue 13, items 5 and 12)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import execute_from_command_line
from django.core.management.base import CommandError
from django.utils import timezone
from pytest_django import Settings

from autoaudit.lifecycle import archive as archive_module
from autoaudit.lifecycle import signing
from autoaudit.lifecycle.restore import high_water_mark
from autoaudit.models import ActivityLog
from tests.archive_support import (
    archive_all,
    line,
    lines_of,
    record,
    restore,
    resum,
    rewrite,
    signed,
    signed_bytes,
    unsigned,
    write,
)
from tests.test_privacy_support import make_log
from tests.testapp.models import Product
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


@pytest.fixture
def real(tmp_path: Path) -> Path:
    """A real archive of three rows (gone from the table)."""
    for days in (400, 401, 402):
        make_log(days_ago=days, actor_identifier=f"guest{days}@example.com")
    return archive_all(tmp_path)


def refused(path: Path, message: str, *args: str) -> None:
    before = ActivityLog.objects.count()
    with pytest.raises(CommandError, match=message):
        restore(str(path), *args)
    assert ActivityLog.objects.count() == before


def next_ids(count: int) -> list[int]:
    """Ids this table may be given back: past anything it has issued."""
    high = high_water_mark("default")
    return list(range(high + 1, high + 1 + count))


def tracked_save_works(track: Track) -> ActivityLog:
    track(Product)
    product = Product.objects.create(name="after the restore")
    return ActivityLog.objects.for_instance(product).get(entity_name="after the restore")


# -- the signature -------------------------------------------------------------------
@pytest.mark.parametrize("trailer", [True, False])
def test_an_unsigned_archive_is_refused(tmp_path: Path, trailer: bool) -> None:
    path = unsigned(tmp_path, [record(pk) for pk in next_ids(2)], trailer=trailer)
    refused(path, r"is not signed: it was written before .* --trust-unsigned")


def test_a_tampered_unsigned_archive_with_a_valid_checksum_is_refused(tmp_path: Path) -> None:
    """The first format's plain SHA-256 is anyone's to recompute."""
    [pk] = next_ids(1)
    path = unsigned(tmp_path, [record(pk, actor_identifier="alice", user_id=1)])
    refused(path, "is not signed")


def test_an_edited_row_with_a_recomputed_sha256_is_refused(real: Path) -> None:
    lines = lines_of(real)
    lines[2] = lines[2].replace(b'"action":"create"', b'"action":"delete"')
    rewrite(real, resum(lines))
    refused(real, "the signature does not match: the file was changed")


@pytest.mark.parametrize(
    "change",
    [
        lambda lines: [*lines[:2], *lines[3:]],  # a row dropped
        lambda lines: [*lines[:-1], line(record(10**6)), lines[-1]],  # a row added
        lambda lines: [lines[0], lines[2], lines[1], *lines[3:]],  # reordered
        lambda lines: [*lines[:-1], lines[-1].replace(b'"first":"', b'"first":"1')],
    ],
    ids=["dropped", "added", "reordered", "trailer-edited"],
)
def test_any_change_to_a_signed_archive_is_refused(real: Path, change: Any) -> None:
    rewrite(real, resum(change(lines_of(real))))
    refused(real, "signature does not match|not greater than the id before it")


def test_a_wrong_key_signature_is_refused(tmp_path: Path) -> None:
    path = signed(tmp_path, [record(pk) for pk in next_ids(2)], secret=b"somebody else's key")
    refused(path, "signed with an archive key this installation does not have")


def test_a_header_naming_our_key_does_not_make_a_signature(tmp_path: Path) -> None:
    ours = lines_of(signed(tmp_path, [record(1)]))[0]
    forged = lines_of(signed(tmp_path, [record(pk) for pk in next_ids(2)], secret=b"forger"))
    refused(rewrite(tmp_path / "hand-made.jsonl.gz", [ours, *forged[1:]]), "does not match")


# run_from_argv() closes the connections when it ends: use a real transaction.
@pytest.mark.django_db(transaction=True, databases=["default", "other", "audit"])
def test_a_refused_archive_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = unsigned(tmp_path, [record(pk) for pk in next_ids(1)])
    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["manage.py", "autoaudit_restore", str(path)])
    assert exit_info.value.code == 1
    assert "is not signed" in capsys.readouterr().err
    assert ActivityLog.objects.count() == 0


def test_trust_unsigned_restores_the_first_format_and_still_checks_rows(
    tmp_path: Path,
) -> None:
    good, bad = next_ids(2)
    path = unsigned(tmp_path, [record(good)])
    out, err = restore(str(path), "--trust-unsigned")
    assert "Restored 1 rows" in out
    assert "is not signed; its rows were checked" in err
    path = unsigned(tmp_path, [record(bad, action="pwned")])
    refused(path, "'action' is 'pwned'", "--trust-unsigned")


def test_trust_unsigned_does_not_accept_a_bad_signature(tmp_path: Path) -> None:
    path = signed(tmp_path, [record(pk) for pk in next_ids(1)], secret=b"forger")
    refused(path, "does not have", "--trust-unsigned")


# -- keys and their rotation ------------------------------------------------------------
def test_an_archive_made_under_an_old_secret_key(real: Path, settings: Settings) -> None:
    settings.SECRET_KEY = "a brand new secret key"
    refused(real, "list the old key in ARCHIVE_KEY_FALLBACKS .* SECRET_KEY_FALLBACKS")
    settings.SECRET_KEY_FALLBACKS = ["autoaudit-tests-not-secret"]
    out, _err = restore(str(real))
    assert "Restored 3 rows" in out


def test_an_archive_key_of_its_own(tmp_path: Path, settings: Settings) -> None:
    settings.AUTOAUDIT = {"ARCHIVE_KEY": "the archive key"}
    make_log()
    path = archive_all(tmp_path)
    settings.SECRET_KEY = "rotated"  # does not matter to archives now
    settings.AUTOAUDIT = {"ARCHIVE_KEY": "the next archive key"}
    refused(path, "does not have")
    settings.AUTOAUDIT = {
        "ARCHIVE_KEY": "the next archive key",
        "ARCHIVE_KEY_FALLBACKS": ["the archive key"],
    }
    assert "Restored 1 rows" in restore(str(path))[0]


def test_secret_key_cannot_sign_when_there_is_an_archive_key(
    tmp_path: Path, settings: Settings
) -> None:
    settings.AUTOAUDIT = {"ARCHIVE_KEY": "the archive key"}
    path = signed(
        tmp_path, [record(pk) for pk in next_ids(1)], secret=b"autoaudit-tests-not-secret"
    )
    refused(path, "does not have")


# -- every row is checked, signed or not -----------------------------------------------
def _in(minutes: float) -> str:
    return (timezone.now() + dt.timedelta(minutes=minutes)).isoformat()


BAD_ROWS: list[tuple[dict[str, Any], str]] = [
    ({"created_at": _in(60 * 24 * 365)}, "'created_at' .* is in the future"),
    ({"actor_type": "root"}, "'actor_type' is 'root': Value 'root' is not a valid choice"),
    ({"action": "pwned"}, "'action' is 'pwned'"),
    ({"ip_address": "not-an-ip"}, "'ip_address' is 'not-an-ip', not an IP address"),
    ({"ip_address": ""}, "'ip_address' is '', not an IP address"),
    ({"ip_address": "fe80::1%eth0"}, "'ip_address' is 'fe80::1%eth0', not an IP"),
    ({"ip_address": 2130706433}, "'ip_address' must be a string, not a number"),
    ({"entity_name": "x" * 256}, "'entity_name' is .*at most 255 characters"),
    ({"actor_type": "system!"}, "'actor_type'"),
    ({"entity": None}, "'entity' is None: This field cannot be null"),
    ({"entity": ""}, "'entity' is '': This field cannot be blank"),
    ({"entity_id": "5"}, "'entity_id' must be an integer, not a string"),
    ({"entity_id": 2**63}, "'entity_id' is 9223372036854775808"),
    ({"entity_id": True}, "'entity_id' must be an integer, not a boolean"),
    ({"entity_id": 1.5}, "'entity_id' must be an integer, not a number"),
    ({"user_id": "1"}, "'user_id' must be an integer"),
    ({"description": "a\x00b"}, "'description' holds a NUL character"),
    ({"actor_name": ["a", "list"]}, "'actor_name' must be a string, not a list"),
    # Checked values are remembered per column and type: "create" is a valid
    # action (of the row before), not an actor type; True is not 1.
    ({"actor_type": "create"}, "'actor_type' is 'create'"),
    ({"entity_id": True, "entity_pk": "1"}, "'entity_id' must be an integer, not a boolean"),
    ({"id": 0}, "'id' is 0: ids are from 1"),
    ({"id": -5}, "'id' is -5"),
    ({"id": 2**63}, "'id' is 9223372036854775808"),
]


@pytest.mark.parametrize(("change", "message"), BAD_ROWS, ids=[m for _c, m in BAD_ROWS])
def test_a_signed_archive_with_a_bad_row_loads_nothing(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    first, second = next_ids(2)
    path = signed(tmp_path, [record(first, entity_id=1), record(second, **change)])
    refused(path, f"line 3: {message}")


def test_a_missing_column(tmp_path: Path) -> None:
    bad = record(next_ids(1)[0])
    del bad["ip_address"]
    refused(signed(tmp_path, [bad]), "line 2: missing column.s. ip_address")


@pytest.mark.parametrize("ids", [[5, 5], [7, 6]], ids=["repeated", "descending"])
def test_ids_must_increase(tmp_path: Path, ids: list[int]) -> None:
    refused(signed(tmp_path, [record(pk) for pk in ids]), "line 3: 'id' .* is not greater")


def test_clock_skew_is_allowed(tmp_path: Path) -> None:
    pk = next_ids(1)[0]
    restore(str(signed(tmp_path, [record(pk, created_at=_in(2))])))
    assert ActivityLog.objects.filter(pk=pk).exists()
    refused(signed(tmp_path, [record(pk + 1, created_at=_in(10))]), "in the future")


def test_a_dry_run_checks_every_row_too(tmp_path: Path) -> None:
    path = signed(tmp_path, [record(next_ids(1)[0], action="pwned")])
    refused(path, "'action' is 'pwned'", "--dry-run")


def test_an_archived_user_id_is_kept_when_the_user_exists(tmp_path: Path) -> None:
    """The signature proves the row was written here, user_id included."""
    other = get_user_model()._default_manager.create_user("mallory", "m@example.com", "x")
    pk = next_ids(1)[0]
    restore(str(signed(tmp_path, [record(pk, actor_type="user", user_id=other.pk)])))
    assert ActivityLog.objects.get(pk=pk).user_id == other.pk


# -- ids and the id sequence -------------------------------------------------------------
def test_an_id_at_the_end_of_the_range_is_refused(tmp_path: Path, track: Track) -> None:
    path = signed(tmp_path, [record(2**63 - 1, actor_identifier="exhaust")])
    refused(path, r"holds id 9223372036854775807, which this table never issued.*--renumber")
    refused(path, "never issued", "--dry-run")
    assert tracked_save_works(track).pk < 2**63 - 1


def test_renumber_loads_such_a_row_under_a_new_id(tmp_path: Path, track: Track) -> None:
    path = signed(tmp_path, [record(2**63 - 1, actor_identifier="exhaust")])
    out, _err = restore(str(path), "--renumber")
    assert "Restored 1 rows" in out
    restored = ActivityLog.objects.get(actor_identifier="exhaust")
    assert restored.pk < 2**63 - 1
    assert restored.created_at.isoformat() == "2023-01-05T10:00:00+00:00"
    assert tracked_save_works(track).pk > restored.pk
    # New ids each time: restoring twice loads the rows twice.
    restore(str(path), "--renumber")
    assert ActivityLog.objects.filter(actor_identifier="exhaust").count() == 2


def test_ids_up_to_the_high_water_mark_plus_the_rows(tmp_path: Path, track: Track) -> None:
    ids = next_ids(3)
    refused(signed(tmp_path, [record(ids[0]), record(ids[-1] + 1)]), "never issued")
    out, _err = restore(str(signed(tmp_path, [record(pk) for pk in ids])))
    assert "Restored 3 rows" in out
    # The next tracked save gets an id past them (PostgreSQL: the sequence moved).
    assert tracked_save_works(track).pk > ids[-1]


def test_the_id_sequence_never_goes_back(real: Path, track: Track) -> None:
    newest = make_log().pk
    ActivityLog.objects.filter(pk=newest).delete()  # issued: never to be issued again
    restore(str(real))
    assert tracked_save_works(track).pk > newest


# -- bounded reading -----------------------------------------------------------------
def test_a_line_longer_than_the_bound_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive_module, "MAX_LINE_BYTES", 2000)
    first, second = next_ids(2)
    path = signed(tmp_path, [record(first), record(second, description="x" * 5000)])
    refused(path, "line 3: longer than 2000 bytes, the most an archive line may hold")


def test_a_huge_line_costs_no_more_memory_than_the_bound(tmp_path: Path) -> None:
    """The issue's case: a small gzip file holding one line far longer than
    any row (64 MiB here; 16 MiB is the bound)."""
    path = tmp_path / "one-long-line.jsonl.gz"
    header = signed_bytes([]).splitlines(keepends=True)[0]
    with gzip.open(path, "wb", compresslevel=1) as gz:
        gz.write(header + b'{"id":1,"description":"')
        chunk = b"a" * (1 << 20)
        for _ in range(64):
            gz.write(chunk)
        gz.write(b'"}\n')
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(CommandError, match="line 2: longer than 16777216 bytes"):
            restore(str(path))
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 << 20, f"{peak / 2**20:.0f} MiB"
    assert ActivityLog.objects.count() == 0


def test_a_forged_file_is_refused_within_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However much a forged file would decompress to, reading stops once
    more than a checkpoint's worth of it goes unsigned."""
    monkeypatch.setattr(signing, "CHECKPOINT_BYTES", 1000)
    monkeypatch.setattr(archive_module, "MAX_LINE_BYTES", 4000)
    header = lines_of(signed(tmp_path, [record(1)]))[0]  # names our key
    base = next_ids(1)[0]
    rows = b"".join(line(record(base + n)) for n in range(5000))
    path = write(tmp_path, header + rows, "forged.jsonl.gz")
    with pytest.raises(CommandError, match=r"line (\d+): no signed checkpoint") as info:
        restore(str(path))
    number = int(str(info.value).split("line ")[1].split(":")[0])
    assert number < 40  # of 5001 lines


def test_checkpoints_are_written_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signing, "CHECKPOINT_BYTES", 1000)
    for _ in range(12):
        make_log()
    path = archive_all(tmp_path)
    lines = lines_of(path)
    checkpoints = [n for n, text in enumerate(lines) if text.startswith(b'{"autoaudit_checkpoint"')]
    assert len(checkpoints) >= 3
    out, _err = restore(str(path), "--dry-run")
    assert "is valid (12 rows)" in out
    mark = json.loads(lines[checkpoints[1]])
    mark["autoaudit_checkpoint"]["hmac"] = "0" * 64
    lines[checkpoints[1]] = line(mark)
    refused(rewrite(path, lines), f"line {checkpoints[1] + 1}: the signature does not match")
