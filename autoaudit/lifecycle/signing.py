"""The signature of an archive: a keyed HMAC-SHA256 over its lines.

An archive (format 2) is::

    {"autoaudit_archive":{"version":2,"key":"<key id>"}}        header
    {"id":1,...}                                                 records
    {"autoaudit_checkpoint":{"rows":N,"hmac":"..."}}              every CHECKPOINT_BYTES
    {"id":...}
    {"autoaudit_trailer":{"rows":N,"sha256":"...","first":...,"last":...,"hmac":"..."}}

The HMAC runs over the header line and every record line, as written. A
checkpoint holds the HMAC so far, so a reader refuses a forged or edited
file after at most ``CHECKPOINT_BYTES`` (plus one line) of it, however
large it claims to be; the trailer's HMAC also covers the trailer's own
fields (after a NUL byte, which no JSON line holds), so nothing in the file
can be changed, dropped or added without the key.

The key is derived from a secret of :func:`autoaudit.conf.archive_secrets`
with Django's ``salted_hmac`` and a salt used for nothing else: the same
secret keys the ``hash`` masks (``MASK_HASH_KEY`` defaults to
``SECRET_KEY``), and a masked value must never be a valid signature. The
header names the key by an id derived with another salt, which tells which
secret to use and says nothing about it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from django.utils.crypto import salted_hmac

from autoaudit.conf import archive_secrets

ARCHIVE_VERSION = 2
HEADER_KEY = "autoaudit_archive"
CHECKPOINT_KEY = "autoaudit_checkpoint"
TRAILER_KEY = "autoaudit_trailer"

#: Record bytes between two checkpoints (the writer adds one after the line
#: that reaches it).
CHECKPOINT_BYTES = 1 << 20

_SALT = "autoaudit.lifecycle.signing.archive"
_ID_SALT = "autoaudit.lifecycle.signing.key-id"


class SignatureError(Exception):
    """A signature is missing or does not match (the message says which)."""


def key_id(secret: bytes) -> str:
    """A public name for ``secret``: which key signed an archive."""
    return salted_hmac(_ID_SALT, b"", secret, algorithm="sha256").hexdigest()[:16]


def _line(key: str, info: dict[str, Any]) -> bytes:
    return (json.dumps({key: info}, separators=(",", ":")) + "\n").encode()


def _signed_fields(info: dict[str, Any]) -> bytes:
    fields = {name: value for name, value in info.items() if name != "hmac"}
    return b"\0" + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


class _Running:
    """The HMAC and row count of the lines so far."""

    def __init__(self, secret: bytes, header: bytes) -> None:
        self.mac = salted_hmac(_SALT, header, secret, algorithm="sha256")
        self.rows = 0
        #: Record bytes since the header or the last checkpoint.
        self.pending = 0

    def add(self, line: bytes) -> None:
        self.mac.update(line)
        self.rows += 1
        self.pending += len(line)

    def checkpoint(self) -> str:
        self.pending = 0
        return self.mac.copy().hexdigest()

    def final(self, info: dict[str, Any]) -> str:
        mac = self.mac.copy()
        mac.update(_signed_fields(info))
        return mac.hexdigest()


class ArchiveSigner:
    """The lines an archive's records are written between, signed with the
    current archive key (or ``secret``)."""

    def __init__(self, secret: bytes | None = None) -> None:
        secret = secret if secret is not None else archive_secrets()[0]
        self.header = _line(HEADER_KEY, {"version": ARCHIVE_VERSION, "key": key_id(secret)})
        self._running = _Running(secret, self.header)
        self._sha256 = hashlib.sha256()

    @property
    def rows(self) -> int:
        return self._running.rows

    @property
    def sha256(self) -> str:
        """Of the record lines: a checksum anyone can check, not a signature."""
        return self._sha256.hexdigest()

    def add(self, line: bytes) -> bytes:
        """Take one record line; return the checkpoint line to write after it, or ``b""``."""
        running = self._running
        running.add(line)
        self._sha256.update(line)
        if running.pending < CHECKPOINT_BYTES:
            return b""
        return _line(CHECKPOINT_KEY, {"rows": running.rows, "hmac": running.checkpoint()})

    def trailer(self, first: str | None, last: str | None) -> bytes:
        info: dict[str, Any] = {"rows": self.rows, "sha256": self.sha256}
        info.update(first=first, last=last)
        info["hmac"] = self._running.final(info)
        return _line(TRAILER_KEY, info)


class SignatureCheck:
    """Follows the signature of an archive as it is read.

    Built from the header (line 1), it picks the secret whose key id the
    header names, or raises :class:`SignatureError` at once.
    """

    def __init__(self, header: bytes, info: dict[str, Any], secrets: Sequence[bytes]) -> None:
        named = info.get("key")
        matching = [secret for secret in secrets if key_id(secret) == named]
        if not matching:
            raise SignatureError(
                f"it is signed with an archive key this installation does not have "
                f"(key id {named!r}). If it was made before ARCHIVE_KEY or SECRET_KEY "
                "changed, list the old key in ARCHIVE_KEY_FALLBACKS (or Django's "
                "SECRET_KEY_FALLBACKS while ARCHIVE_KEY is unset)."
            )
        self._running = [_Running(secret, header) for secret in matching]

    @property
    def rows(self) -> int:
        return self._running[0].rows

    @property
    def pending(self) -> int:
        return self._running[0].pending

    def add(self, line: bytes) -> None:
        for running in self._running:
            running.add(line)

    def checkpoint(self, info: dict[str, Any]) -> None:
        if info.get("rows") != self.rows:
            raise SignatureError(f"a checkpoint counts {info.get('rows')!r} rows, not {self.rows}")
        self._keep(info, [running.checkpoint() for running in self._running])

    def trailer(self, info: dict[str, Any]) -> None:
        self._keep(info, [running.final(info) for running in self._running])

    def _keep(self, info: dict[str, Any], digests: list[str]) -> None:
        given = info.get("hmac")
        kept = [
            running
            for running, digest in zip(self._running, digests, strict=True)
            if isinstance(given, str) and hmac.compare_digest(given.encode(), digest.encode())
        ]
        if not kept:
            raise SignatureError(
                "the signature does not match: the file was changed after it was "
                "written (edited, forged or corrupt)"
            )
        self._running = kept
