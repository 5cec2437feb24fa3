"""Archive files: write, verify and read back signed gzip JSON Lines of log rows.

An archive holds a header line, one JSON record per line (the columns of
:data:`autoaudit.lifecycle.export.FIELDS`) with a signed checkpoint every
megabyte, and a trailer line; :mod:`autoaudit.lifecycle.signing` describes
the lines and the HMAC-SHA256 that signs them. A truncated, edited, forged
or otherwise corrupt file is detected when it is read back, before anything
is deleted (archive) or loaded (restore), and so is a record restore would
refuse (:mod:`autoaudit.lifecycle.records`): an archive is published, and
its rows deleted, only if it can be restored.

Reading is bounded: a line longer than :data:`MAX_LINE_BYTES` is refused
(with its number) without being read whole, and a signed file must show a
valid checkpoint every ``CHECKPOINT_BYTES``, so a forged file, however
large it decompresses, is refused after a few megabytes. Archives of the
first format (unsigned, before signing) are read only when the caller
trusts them (``trust_unsigned``), every record still checked.

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

from autoaudit.conf import archive_secrets
from autoaudit.lifecycle import signing
from autoaudit.lifecycle.export import to_json_line
from autoaudit.lifecycle.records import RecordChecker, RecordError
from autoaudit.lifecycle.signing import (
    ARCHIVE_VERSION,
    CHECKPOINT_KEY,
    HEADER_KEY,
    TRAILER_KEY,
    ArchiveSigner,
    SignatureCheck,
    SignatureError,
)

#: The longest line read (bytes, newline included): far above any row the
#: log writes (each value is cut at ``MAX_VALUE_LENGTH``), far below what
#: would hurt a machine reading it.
MAX_LINE_BYTES = 16 << 20

#: The format before signing (version 1): records, then this trailer with a
#: plain SHA-256.
UNSIGNED_TRAILER_KEY = "autoaudit_archive"

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
    #: The highest id (0 without rows).
    max_id: int = 0
    #: False for a trusted archive of the unsigned first format.
    signed: bool = True


def _open_gzip(raw: IO[bytes]) -> gzip.GzipFile:
    """The gzip writer over the temporary file (a seam for failure tests)."""
    return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6)


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
    signer = ArchiveSigner()  # before any file: a missing SECRET_KEY leaves none
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below
            dir=directory, prefix=f".{_PREFIX}_", suffix=f"{_SUFFIX}.part", delete=False
        )
    except OSError as exc:
        raise ArchiveError(f"cannot write to {directory}: {exc.strerror or exc}.") from exc
    temp = Path(handle.name)
    try:
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        with handle:
            with _open_gzip(handle) as gz:
                gz.write(signer.header)
                for page in pages:
                    for row in page:
                        line = to_json_line(row).encode("utf-8")
                        gz.write(line)
                        gz.write(signer.add(line))
                        stamp = row.get("created_at")
                        if isinstance(stamp, dt.datetime):
                            first = stamp if first is None or stamp < first else first
                            last = stamp if last is None or stamp > last else last
                first_text = first.isoformat() if first is not None else None
                last_text = last.isoformat() if last is not None else None
                gz.write(signer.trailer(first_text, last_text))
            handle.flush()
            os.fsync(handle.fileno())
        info = verify_archive(temp, ids)
        if info.rows != signer.rows or info.sha256 != signer.sha256:
            raise ArchiveError(
                f"the archive read back holds {info.rows} rows (sha256 {info.sha256}); "
                f"{signer.rows} rows (sha256 {signer.sha256}) were written."
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


def _lines(path: Path, limit: int) -> Iterator[tuple[int, bytes]]:
    """Numbered lines of a gzip file, none longer than ``limit`` bytes, with
    read errors as :class:`ArchiveError`."""
    try:
        with gzip.open(path, "rb") as gz:
            number = 0
            while line := gz.readline(limit + 1):
                number += 1
                if len(line) > limit:
                    raise ArchiveError(
                        f"{path}, line {number}: longer than {limit} bytes, the most "
                        "an archive line may hold (it was not read further)."
                    )
                yield number, line
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


def _marker(record: Any) -> tuple[str | None, dict[str, Any]]:
    """``(key, fields)`` of a header, checkpoint or trailer line; ``(None, {})``
    for a record."""
    if isinstance(record, dict) and len(record) == 1:
        ((key, fields),) = record.items()
        if key in _MARKERS and isinstance(fields, dict):
            return key, fields
    return None, {}


_MARKERS = frozenset({HEADER_KEY, CHECKPOINT_KEY, TRAILER_KEY, UNSIGNED_TRAILER_KEY})


def _unsigned(path: Path) -> ArchiveError:
    return ArchiveError(
        f"{path} is not signed: it was written before autoaudit signed its "
        "archives, or not by autoaudit_archive. Nothing proves where its rows "
        "come from; if you know, restore it with --trust-unsigned (every row is "
        "still checked)."
    )


class ArchiveReader:
    """Iterate over the checked records of an archive.

    The signature is followed line by line, so a forged file stops at its
    first checkpoint; the trailer is checked at the end, so a missing or
    wrong trailer raises :class:`ArchiveError` only *after* the records:
    code that must not act on a bad file calls :func:`verify_archive` first.
    After a complete iteration, ``rows``, ``sha256``, ``first``, ``last``
    and ``max_id`` describe the file (and ``ids`` lists every record's id if
    asked for). ``trust_unsigned`` accepts an archive of the unsigned first
    format; a signed archive whose signature does not match is never read.
    """

    def __init__(
        self, path: Path, *, ids: array[int] | None = None, trust_unsigned: bool = False
    ) -> None:
        self.path = path
        self.ids = ids
        self.trust_unsigned = trust_unsigned
        self.rows = 0
        self.sha256 = ""
        self.first: str | None = None
        self.last: str | None = None
        self.max_id = 0
        self.signed = True

    def __iter__(self) -> Iterator[dict[str, Any]]:
        path = self.path
        limit = MAX_LINE_BYTES
        checker = RecordChecker()
        signature: SignatureCheck | None = None
        sha256 = hashlib.sha256()
        rows = 0
        trailer: dict[str, Any] | None = None
        for number, line in _lines(path, limit):
            if trailer is not None:
                raise ArchiveError(f"{path}, line {number}: data after the trailer line.")
            record = _decode(path, number, line)
            kind, fields = _marker(record)
            if number == 1:
                signature = self._header(kind, fields, line)
                if signature is not None:
                    continue
            if kind == (TRAILER_KEY if signature is not None else UNSIGNED_TRAILER_KEY):
                trailer = fields
                continue
            if signature is not None:
                if kind == CHECKPOINT_KEY:
                    self._signed(number, signature.checkpoint, fields)
                    continue
                signature.add(line)
                if signature.pending > signing.CHECKPOINT_BYTES + limit:
                    raise ArchiveError(
                        f"{path}, line {number}: no signed checkpoint in the last "
                        f"{signature.pending} bytes; the file was not written by "
                        "autoaudit_archive, or was changed."
                    )
            sha256.update(line)
            rows += 1
            if not isinstance(record, dict):
                raise ArchiveError(f"{path}, line {number}: a record must be a JSON object.")
            try:
                checked = checker.check(record)
            except RecordError as exc:
                raise ArchiveError(f"{path}, line {number}: {exc}.") from None
            if self.ids is not None:
                self.ids.append(checked["id"])
            self.max_id = checked["id"]
            yield checked
        if trailer is None:
            raise ArchiveError(f"{path} has no trailer line: the file is incomplete.")
        if trailer.get("rows") != rows:
            raise ArchiveError(
                f"{path} holds {rows} rows but its trailer says {trailer.get('rows')!r}."
            )
        if trailer.get("sha256") != sha256.hexdigest():
            raise ArchiveError(f"{path}: the checksum does not match; the file is corrupt.")
        if signature is not None:
            self._signed(None, signature.trailer, trailer)
        elif trailer.get("version") != 1:
            raise ArchiveError(f"{path}: unsupported archive version {trailer.get('version')!r}.")
        self.rows = rows
        self.sha256 = sha256.hexdigest()
        self.first = trailer.get("first")
        self.last = trailer.get("last")
        self.signed = signature is not None

    def _header(
        self, kind: str | None, fields: dict[str, Any], line: bytes
    ) -> SignatureCheck | None:
        """The signature named by line 1, or ``None`` for a trusted unsigned archive."""
        if kind != HEADER_KEY or fields.get("version") == 1:
            # Records first, or the unsigned format's trailer (no records).
            if not self.trust_unsigned:
                raise _unsigned(self.path)
            return None
        version = fields.get("version")
        if version != ARCHIVE_VERSION:
            raise ArchiveError(f"{self.path}: unsupported archive version {version!r}.")
        try:
            return SignatureCheck(line, fields, archive_secrets())
        except SignatureError as exc:
            raise ArchiveError(f"{self.path}: {exc}") from None

    def _signed(self, number: int | None, check: Any, fields: dict[str, Any]) -> None:
        try:
            check(fields)
        except SignatureError as exc:
            where = f"{self.path}, line {number}" if number is not None else str(self.path)
            raise ArchiveError(f"{where}: {exc}; nothing in it can be trusted.") from None


def verify_archive(
    path: Path, ids: array[int] | None = None, *, trust_unsigned: bool = False
) -> ArchiveInfo:
    """Read a whole archive back; return what it holds or raise :class:`ArchiveError`.

    ``ids``, if given, receives the id of every record.
    """
    reader = ArchiveReader(path, ids=ids, trust_unsigned=trust_unsigned)
    for _record in reader:
        pass
    return ArchiveInfo(
        path=path,
        rows=reader.rows,
        sha256=reader.sha256,
        first=reader.first,
        last=reader.last,
        max_id=reader.max_id,
        signed=reader.signed,
    )
