"""Archive files: write, verify and read back gzip JSON Lines of log rows.

An archive holds one JSON record per line (the columns of
:data:`autoaudit.lifecycle.export.FIELDS`), followed by one trailer line::

    {"autoaudit_archive": {"version": 1, "rows": 1234, "sha256": "...",
                           "first": "2023-01-05T...", "last": "2024-03-14T..."}}

``sha256`` is the SHA-256 of the uncompressed record lines (every line
before the trailer, newlines included), so a truncated, edited or otherwise
corrupt file is detected when it is read back, before anything is deleted
(archive) or loaded (restore).

Files are written under a hidden temporary name in the target directory and
renamed to ``activity_logs_<first date>_<last date>.jsonl.gz`` only once they
have been read back and verified; an existing file is never overwritten
(``..._2.jsonl.gz`` and so on).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import json
import os
import tempfile
import zlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from autoaudit.lifecycle.export import FIELDS, to_json_line

ARCHIVE_VERSION = 1
TRAILER_KEY = "autoaudit_archive"
_PREFIX = "activity_logs"
_SUFFIX = ".jsonl.gz"


class ArchiveError(Exception):
    """An archive could not be written, verified or read (the message says why)."""


@dataclass
class ArchiveInfo:
    """What a verified archive holds."""

    path: Path
    rows: int
    sha256: str
    first: str | None
    last: str | None


def _open_gzip(raw: IO[bytes]) -> gzip.GzipFile:
    """The gzip writer over the temporary file (a seam for failure tests)."""
    return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6)


def _trailer(rows: int, digest: str, first: str | None, last: str | None) -> bytes:
    info = {"version": ARCHIVE_VERSION, "rows": rows, "sha256": digest}
    info.update(first=first, last=last)
    return (json.dumps({TRAILER_KEY: info}, separators=(",", ":")) + "\n").encode()


def _check_directory(directory: Path) -> None:
    if not directory.exists():
        raise ArchiveError(f"the archive directory {directory} does not exist.")
    if not directory.is_dir():
        raise ArchiveError(f"the archive path {directory} is not a directory.")


def _final_path(directory: Path, first: str | None, last: str | None) -> Path:
    start = (first or "unknown")[:10]
    end = (last or "unknown")[:10]
    return directory / f"{_PREFIX}_{start}_{end}{_SUFFIX}"


def _publish(temp: Path, wanted: Path) -> Path:
    """Give the verified temporary file its final name, never replacing a file."""
    stem = wanted.name[: -len(_SUFFIX)]
    for n in range(1, 1000):
        target = wanted if n == 1 else wanted.with_name(f"{stem}_{n}{_SUFFIX}")
        try:
            os.link(temp, target)  # fails if target exists: no overwrite race
        except FileExistsError:
            continue
        except OSError:  # no hard links here (some network/FAT file systems)
            if target.exists():
                continue
            os.replace(temp, target)
            return target
        temp.unlink()
        return target
    raise ArchiveError(f"too many archives named {wanted.name} in {wanted.parent}.")


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not possible on every platform
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_archive(
    pages: Iterable[list[dict[str, Any]]], directory: Path, ids: array[int] | None = None
) -> ArchiveInfo:
    """Write ``pages`` of rows to a new archive in ``directory`` and verify it.

    Returns the verified archive (already under its final name); ``ids``, if
    given, receives the id of every row *read back* from the file. On any
    failure, including an interruption, the partial file is removed;
    ``OSError`` becomes :class:`ArchiveError`.
    """
    _check_directory(directory)
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below
            dir=directory, prefix=f".{_PREFIX}_", suffix=f"{_SUFFIX}.part", delete=False
        )
    except OSError as exc:
        raise ArchiveError(f"cannot write to {directory}: {exc.strerror or exc}.") from exc
    temp = Path(handle.name)
    try:
        digest = hashlib.sha256()
        rows = 0
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        with handle:
            with _open_gzip(handle) as gz:
                for page in pages:
                    for row in page:
                        line = to_json_line(row).encode("utf-8")
                        digest.update(line)
                        gz.write(line)
                        rows += 1
                        stamp = row.get("created_at")
                        if isinstance(stamp, dt.datetime):
                            first = stamp if first is None or stamp < first else first
                            last = stamp if last is None or stamp > last else last
                first_text = first.isoformat() if first is not None else None
                last_text = last.isoformat() if last is not None else None
                gz.write(_trailer(rows, digest.hexdigest(), first_text, last_text))
            handle.flush()
            os.fsync(handle.fileno())
        info = verify_archive(temp, ids)
        if info.rows != rows or info.sha256 != digest.hexdigest():
            raise ArchiveError(
                f"the archive read back holds {info.rows} rows (sha256 {info.sha256}); "
                f"{rows} rows (sha256 {digest.hexdigest()}) were written."
            )
        final = _publish(temp, _final_path(directory, first_text, last_text))
        _fsync_directory(directory)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(exc, OSError):
            raise ArchiveError(
                f"writing the archive in {directory} failed: {exc.strerror or exc}."
            ) from exc
        raise
    info.path = final
    return info


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Numbered lines of a gzip file, with read errors as :class:`ArchiveError`."""
    try:
        with gzip.open(path, "rb") as gz:
            yield from enumerate(gz, start=1)
    except FileNotFoundError as exc:
        raise ArchiveError(f"{path} does not exist.") from exc
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ArchiveError(f"{path} is not a complete gzip file ({exc}).") from exc
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}.") from exc


def _decode(path: Path, number: int, line: bytes) -> Any:
    try:
        return json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"{path}, line {number}: not valid JSON ({exc}).") from exc


def _check_record(path: Path, number: int, record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise ArchiveError(f"{path}, line {number}: a record must be a JSON object.")
    unknown = sorted(set(record) - set(FIELDS))
    if unknown:
        raise ArchiveError(f"{path}, line {number}: unknown column(s) {', '.join(unknown)}.")
    if isinstance(record.get("id"), bool) or not isinstance(record.get("id"), int):
        raise ArchiveError(f"{path}, line {number}: 'id' must be an integer.")
    return record


class ArchiveReader:
    """Iterate over the records of an archive, checking everything on the way.

    After a complete iteration, ``rows``, ``sha256``, ``first`` and ``last``
    describe the file (and ``ids`` lists every record's id if asked for). The
    trailer is checked at the end, so a missing or wrong trailer raises
    :class:`ArchiveError` only *after* the records: code that must not act
    on a bad file calls :func:`verify_archive` first.
    """

    def __init__(self, path: Path, *, ids: array[int] | None = None) -> None:
        self.path = path
        self.ids = ids
        self.rows = 0
        self.sha256 = ""
        self.first: str | None = None
        self.last: str | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        path = self.path
        digest = hashlib.sha256()
        rows = 0
        trailer: Any = None
        for number, line in _lines(path):
            if trailer is not None:
                raise ArchiveError(f"{path}, line {number}: data after the trailer line.")
            record = _decode(path, number, line)
            if isinstance(record, dict) and set(record) == {TRAILER_KEY}:
                trailer = record[TRAILER_KEY]
                continue
            digest.update(line)
            rows += 1
            checked = _check_record(path, number, record)
            if self.ids is not None:
                self.ids.append(checked["id"])
            yield checked
        if not isinstance(trailer, dict):
            raise ArchiveError(f"{path} has no trailer line: the file is incomplete.")
        if trailer.get("version") != ARCHIVE_VERSION:
            raise ArchiveError(f"{path}: unsupported archive version {trailer.get('version')!r}.")
        if trailer.get("rows") != rows:
            raise ArchiveError(
                f"{path} holds {rows} rows but its trailer says {trailer.get('rows')!r}."
            )
        if trailer.get("sha256") != digest.hexdigest():
            raise ArchiveError(f"{path}: the checksum does not match; the file is corrupt.")
        self.rows = rows
        self.sha256 = digest.hexdigest()
        self.first = trailer.get("first")
        self.last = trailer.get("last")


def verify_archive(path: Path, ids: array[int] | None = None) -> ArchiveInfo:
    """Read a whole archive back; return what it holds or raise :class:`ArchiveError`.

    ``ids``, if given, receives the id of every record.
    """
    reader = ArchiveReader(path, ids=ids)
    for _record in reader:
        pass
    return ArchiveInfo(
        path=path, rows=reader.rows, sha256=reader.sha256, first=reader.first, last=reader.last
    )
