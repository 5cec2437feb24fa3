"""``autoaudit_archive``: write, verify, then delete; and what must stop it."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from pytest_django import Settings

from autoaudit.lifecycle import archive as archive_module
from autoaudit.lifecycle.archive import ArchiveError, verify_archive
from autoaudit.lifecycle.export import FIELDS, to_json_line
from autoaudit.lifecycle.signing import HEADER_KEY, TRAILER_KEY, key_id
from autoaudit.models import ActivityLog
from tests.test_privacy_support import deletes, log_queries, make_log

pytestmark = pytest.mark.django_db


def archive(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("autoaudit_archive", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def read_lines(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def files(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def old_and_new(old: int = 5, new: int = 2) -> tuple[list[int], list[int]]:
    olds = [make_log(days_ago=400 + n, entity_id=n).pk for n in range(old)]
    news = [make_log(days_ago=n).pk for n in range(new)]
    return olds, news


def test_archives_verifies_prints_the_path_then_deletes(tmp_path: Path) -> None:
    olds, news = old_and_new()
    expected = list(ActivityLog.objects.filter(pk__in=olds).order_by("id").values(*FIELDS))
    out, err = archive("--older-than", "365", "--output-dir", str(tmp_path))

    path = Path(out.strip())
    assert path.parent == tmp_path
    assert files(tmp_path) == [path.name]  # no temporary file left behind
    first = min(row["created_at"] for row in expected).date().isoformat()
    last = max(row["created_at"] for row in expected).date().isoformat()
    assert path.name == f"activity_logs_{first}_{last}.jsonl.gz"
    header, *lines, trailer = read_lines(path)
    assert header[HEADER_KEY] == {"version": 2, "key": key_id(b"autoaudit-tests-not-secret")}
    assert [line["id"] for line in lines] == olds
    assert trailer[TRAILER_KEY]["rows"] == 5
    assert set(trailer[TRAILER_KEY]) == {"rows", "sha256", "first", "last", "hmac"}
    assert lines[0]["new_values"] == expected[0]["new_values"]
    assert "Archived 5 rows" in err
    assert "verified 5 rows, sha256" in err
    assert "Deleted 5 archived rows." in err
    # Left: the new rows, and the archive's own entry (the audit of the log).
    *kept, entry = ActivityLog.objects.order_by("id")
    assert [log.pk for log in kept] == news
    assert (entry.action, entry.computed_entity, entry.entity_name) == (
        "view",
        "autoaudit.ActivityLog",
        path.name,
    )
    assert entry.extra_data == {
        "audit": "read",
        "page": "archive",
        "rows": 5,
        "first": trailer[TRAILER_KEY]["first"],
        "last": trailer[TRAILER_KEY]["last"],
    }
    info = verify_archive(path)
    assert info.first is not None and info.last is not None
    assert (info.rows, info.first[:10], info.last[:10]) == (5, first, last)


def test_deletes_in_batches(tmp_path: Path, settings: Settings) -> None:
    settings.AUTOAUDIT = {"PRUNE_BATCH_SIZE": 2}
    old_and_new(old=5, new=1)
    with log_queries() as queries:
        archive("--older-than", "365", "--output-dir", str(tmp_path))
    assert len(deletes(queries)) == 3
    assert ActivityLog.objects.count() == 2  # the new row, and the archive's entry


def test_uses_archive_dir_setting(tmp_path: Path, settings: Settings) -> None:
    settings.AUTOAUDIT = {"ARCHIVE_DIR": str(tmp_path)}
    old_and_new(old=1)
    out, _err = archive("--older-than", "30")
    assert Path(out.strip()).parent == tmp_path


def test_defaults_to_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    old_and_new(old=1)
    out, _err = archive("--older-than", "30")
    assert Path(out.strip()).parent == tmp_path


def test_nothing_to_archive(tmp_path: Path) -> None:
    make_log(days_ago=3)
    out, err = archive("--older-than", "30", "--output-dir", str(tmp_path))
    assert out == ""
    assert "Nothing to archive" in err
    assert files(tmp_path) == []


def test_an_existing_archive_is_never_overwritten(tmp_path: Path) -> None:
    log = make_log(days_ago=400)
    first, _ = archive("--older-than", "365", "--output-dir", str(tmp_path))
    # The same row again (restored, say) gives the same date range.
    make_log(days_ago=0, id=log.pk + 1000)
    ActivityLog.objects.filter(pk=log.pk + 1000).update(created_at=log.created_at)
    second, _ = archive("--older-than", "365", "--output-dir", str(tmp_path))
    assert Path(second.strip()).name == Path(first.strip()).name.replace(".jsonl", "_2.jsonl")
    assert len(files(tmp_path)) == 2


# -- failures: nothing is deleted ----------------------------------------------------
def assert_untouched(before: list[int], directory: Path | None = None) -> None:
    assert sorted(ActivityLog.objects.values_list("id", flat=True)) == before
    if directory is not None and directory.exists():
        assert files(directory) == []


def test_missing_directory(tmp_path: Path) -> None:
    olds, news = old_and_new()
    with pytest.raises(CommandError, match=r"does not exist\. Nothing was deleted\."):
        archive("--older-than", "365", "--output-dir", str(tmp_path / "missing"))
    assert_untouched(olds + news)


def test_output_dir_is_a_file(tmp_path: Path) -> None:
    olds, news = old_and_new()
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(CommandError, match="is not a directory"):
        archive("--older-than", "365", "--output-dir", str(target))
    assert_untouched(olds + news)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory where files cannot be created (a real permission error)."""
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        try:
            (directory / "probe").touch()
        except OSError:
            yield directory
            return
        # Root ignores permission bits; /sys refuses new files even to root.
        (directory / "probe").unlink()
        sysfs = Path("/sys")
        try:
            (sysfs / "autoaudit-probe").touch()
        except OSError:
            yield sysfs
            return
        pytest.skip("no read-only location available")
    finally:
        directory.chmod(0o755)


def test_read_only_location(read_only_dir: Path) -> None:
    olds, news = old_and_new()
    with pytest.raises(CommandError, match=r"cannot write to .*Nothing was deleted"):
        archive("--older-than", "365", "--output-dir", str(read_only_dir))
    assert_untouched(olds + news)


class _FullDisk(gzip.GzipFile):
    """Fails like a full disk once some data has been written."""

    written = 0

    def write(self, data: Any) -> int:
        self.written += len(data)
        if self.written > 1000:
            raise OSError(28, "No space left on device")
        return super().write(data)


def test_disk_full_half_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    olds, news = old_and_new()
    monkeypatch.setattr(archive_module, "_open_gzip", lambda raw: _FullDisk(fileobj=raw, mode="wb"))
    with pytest.raises(CommandError, match=r"No space left on device.*Nothing was deleted"):
        archive("--older-than", "365", "--output-dir", str(tmp_path))
    assert_untouched(olds + news, tmp_path)


def test_interrupted_half_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    olds, news = old_and_new()
    original = to_json_line  # what the archive module imported
    written = {"rows": 0}

    def interrupt_after_two(row: dict[str, Any]) -> str:
        written["rows"] += 1
        if written["rows"] > 2:
            raise KeyboardInterrupt
        return original(row)

    monkeypatch.setattr(archive_module, "to_json_line", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        archive("--older-than", "365", "--output-dir", str(tmp_path))
    assert_untouched(olds + news, tmp_path)


def test_a_file_that_does_not_read_back_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    olds, news = old_and_new()
    real_verify = archive_module.verify_archive

    def corrupt_then_verify(path: Path, ids: Any = None) -> Any:
        data = gzip.decompress(path.read_bytes()).replace(b'"create"', b'"delete"', 1)
        path.write_bytes(gzip.compress(data))
        return real_verify(path, ids)

    monkeypatch.setattr(archive_module, "verify_archive", corrupt_then_verify)
    with pytest.raises(CommandError, match=r"checksum does not match.*Nothing was deleted"):
        archive("--older-than", "365", "--output-dir", str(tmp_path))
    assert_untouched(olds + news, tmp_path)


def test_rows_restore_would_refuse_are_not_archived(tmp_path: Path) -> None:
    """Every archived row must load back: a row the log's own field rules
    reject (an action outside ActionType, here) stops the archive before
    anything is deleted."""
    olds, news = old_and_new()
    ActivityLog.objects.filter(pk=olds[2]).update(action="pwned")
    with pytest.raises(CommandError, match=r"line 4: 'action' is 'pwned'.*Nothing was deleted"):
        archive("--older-than", "365", "--output-dir", str(tmp_path))
    assert_untouched(olds + news, tmp_path)


def test_a_row_too_long_to_restore_is_not_archived(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive_module, "MAX_LINE_BYTES", 2000)
    olds, news = old_and_new()
    ActivityLog.objects.filter(pk=olds[0]).update(description="x" * 3000)
    with pytest.raises(CommandError, match=r"line 2: longer than 2000 bytes.*Nothing was deleted"):
        archive("--older-than", "365", "--output-dir", str(tmp_path))
    assert_untouched(olds + news, tmp_path)


# run_from_argv() closes the connections when it ends: use a real transaction.
# Its system checks look at every configured database (the model checks ask
# each backend's features), so the test allows the others too.
@pytest.mark.django_db(transaction=True, databases=["default", "other", "audit"])
def test_failure_exits_non_zero_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    olds, news = old_and_new()
    argv = ["manage.py", "autoaudit_archive", "--older-than", "365"]
    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line([*argv, "--output-dir", str(tmp_path / "nope")])
    assert exit_info.value.code == 1
    assert "does not exist" in capsys.readouterr().err
    assert_untouched(olds + news)


@pytest.mark.parametrize("value", ["-1", "ten", ""])
def test_bad_older_than(value: str) -> None:
    with pytest.raises(CommandError):
        archive("--older-than", value)


def test_older_than_is_required() -> None:
    with pytest.raises(CommandError, match="--older-than"):
        archive()


def test_publish_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: Any, dst: Any) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)  # the archive module's os
    make_log(days_ago=400)
    out, _err = archive("--older-than", "365", "--output-dir", str(tmp_path))
    assert files(tmp_path) == [Path(out.strip()).name]


def test_archive_error_is_raised_for_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="does not exist"):
        verify_archive(tmp_path / "nope.jsonl.gz")
    shutil.copy(__file__, tmp_path / "plain.jsonl.gz")
    with pytest.raises(ArchiveError, match="not a complete gzip file"):
        verify_archive(tmp_path / "plain.jsonl.gz")
