"""Hand-made archives for the restore tests: signed as ``autoaudit_archive``
signs (with this installation's key or another), in the unsigned first
format, or forged."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from django.core.management import call_command

from autoaudit.lifecycle.export import FIELDS
from autoaudit.lifecycle.signing import ArchiveSigner


def restore(*args: str) -> tuple[str, str]:
    """``autoaudit_restore`` with these arguments: ``(stdout, stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    call_command("autoaudit_restore", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def archive_all(directory: Path) -> Path:
    """Archive every log row into ``directory`` (``--older-than 0``)."""
    out = io.StringIO()
    call_command(
        "autoaudit_archive",
        "--older-than",
        "0",
        "--output-dir",
        str(directory),
        stdout=out,
        stderr=io.StringIO(),
    )
    return Path(out.getvalue().strip())


def record(pk: Any, **fields: Any) -> dict[str, Any]:
    """A valid archived guest record (any field may be replaced by a bad one)."""
    values: dict[str, Any] = dict.fromkeys(FIELDS)
    values.update(
        id=pk,
        created_at="2023-01-05T10:00:00+00:00",
        actor_type="guest",
        action="create",
        entity="product",
        computed_entity="testapp.Product",
        new_values={"name": "x"},
    )
    values.update(fields)
    return values


def line(value: Any) -> bytes:
    # ASCII: a lone surrogate (\ud800) goes in escaped, as JSON allows.
    return (json.dumps(value, separators=(",", ":")) + "\n").encode()


def signed_bytes(records: list[Any], *, secret: bytes | None = None) -> bytes:
    """The uncompressed lines of an archive of ``records``, signed with
    ``secret`` (default: this installation's archive key)."""
    signer = ArchiveSigner(secret)
    body = [signer.header]
    for item in records:
        body.append(line(item))
        body.append(signer.add(body[-1]))
    body.append(signer.trailer("2023-01-05T10:00:00+00:00", "2023-01-05T10:00:00+00:00"))
    return b"".join(body)


def unsigned_bytes(records: list[Any], *, trailer: bool = True) -> bytes:
    """The first format: records, then a trailer with a plain SHA-256 of them."""
    body = b"".join(line(item) for item in records)
    if trailer:
        info = {"version": 1, "rows": len(records), "sha256": hashlib.sha256(body).hexdigest()}
        body += line({"autoaudit_archive": info})
    return body


def write(directory: Path, data: bytes, name: str = "hand-made.jsonl.gz") -> Path:
    path = directory / name
    path.write_bytes(gzip.compress(data))
    return path


def signed(directory: Path, records: list[Any], *, secret: bytes | None = None) -> Path:
    return write(directory, signed_bytes(records, secret=secret))


def unsigned(directory: Path, records: list[Any], *, trailer: bool = True) -> Path:
    return write(directory, unsigned_bytes(records, trailer=trailer))


def lines_of(path: Path) -> list[bytes]:
    return gzip.decompress(path.read_bytes()).splitlines(keepends=True)


def rewrite(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(gzip.compress(b"".join(lines)))
    return path


def resum(lines: list[bytes]) -> list[bytes]:
    """``lines`` with the trailer's plain SHA-256 recomputed over the records
    (what anyone can do without the key)."""
    *body, last = lines
    trailer = json.loads(last)
    (key, info), *_ = trailer.items()
    records = [item for item in body if not item.startswith(b'{"autoaudit_')]
    info["sha256"] = hashlib.sha256(b"".join(records)).hexdigest()
    info["rows"] = len(records)
    return [*body, line({key: info})]
