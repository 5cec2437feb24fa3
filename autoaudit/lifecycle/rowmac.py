"""The keyed MAC of one log row, computed from the row as stored.

A seal covers MACs, not raw values, so autoaudit can rewrite or drop a
sealed row (forget, prune, archive) and record the row's old MAC at that
moment: verify then knows the row was redacted, not tampered with, without
the old values being kept anywhere.

**Canonical form (MAC format 1).** Every concrete column of
``ActivityLog``, by column attname, is put in one JSON object with sorted
keys, no spaces and ASCII escapes; a NULL column is left out (so a nullable
column added later is NULL in old rows and does not change their MAC);
datetimes are ISO 8601 in UTC with microseconds; inside JSON values keys are
sorted and a float with an integral value is written as an integer (the
databases disagree on ``1.0``: PostgreSQL's ``jsonb`` keeps it, but writes
``1e3`` as ``1000``). A column dropped later, or a change to these rules,
needs a new :data:`MAC_VERSION`; seals record the version they were made with.

**Two MACs per row.** ``user`` has ``on_delete=SET_NULL``: deleting a user
sets ``user_id`` to NULL on that user's logs, which is Django, not
tampering. Each row therefore has a MAC of every column but ``user_id``
(``rest``) and a MAC of that MAC plus ``user_id`` (``full``). A row whose
``full`` MAC differs but whose ``rest`` MAC matches and whose ``user_id`` is
now NULL lost only its user link; every other column is still proven.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.crypto import salted_hmac

from autoaudit.conf import seal_secret
from autoaudit.lifecycle.signing import key_id

MAC_VERSION = 1
#: Bytes kept of each HMAC-SHA256 (128 bits: far beyond forging by trial).
MAC_BYTES = 16

_SALT = "autoaudit.lifecycle.rowmac.seal"
_USER_COLUMN = "user_id"


@dataclass(frozen=True)
class RowMac:
    """The two MACs of one row (see the module docstring)."""

    full: bytes
    rest: bytes

    def hex(self) -> str:
        return (self.full + self.rest).hex()

    @classmethod
    def from_hex(cls, text: str) -> RowMac:
        raw = bytes.fromhex(text)
        return cls(raw[:MAC_BYTES], raw[MAC_BYTES:])


class SealKey:
    """The MAC key of seals: derived from :func:`autoaudit.conf.seal_secret`
    (or ``secret``) with a salt used for nothing else."""

    def __init__(self, secret: bytes | None = None) -> None:
        secret = secret if secret is not None else seal_secret()
        self.id = key_id(secret)
        self._key = salted_hmac(_SALT, b"key", secret, algorithm="sha256").digest()

    def mac(self, *parts: bytes) -> bytes:
        """HMAC-SHA256 of ``parts`` (each length-prefixed, so no two part lists collide)."""
        message = b"".join(len(part).to_bytes(4, "big") + part for part in parts)
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def row(self, row: dict[str, Any]) -> RowMac:
        """The MACs of one row, a dict of every column by attname."""
        user = row.get(_USER_COLUMN)
        rest = {k: v for k, v in row.items() if k != _USER_COLUMN}
        rest_mac = self.mac(b"row1", canonical(rest))[:MAC_BYTES]
        user_text = b"" if user is None else str(user).encode()
        full_mac = self.mac(b"user1", rest_mac, user_text)[:MAC_BYTES]
        return RowMac(full_mac, rest_mac)

    def user_unlinked(self, mac: RowMac) -> bool:
        """Whether ``mac`` is of a row whose ``user_id`` is NULL."""
        return hmac.compare_digest(mac.full, self.mac(b"user1", mac.rest, b"")[:MAC_BYTES])


def continues(key: SealKey, now: RowMac, then: RowMac) -> bool:
    """Whether a row with MAC ``now`` is the row that had MAC ``then``,
    unchanged but for a user link that ``SET_NULL`` may have cleared."""
    if hmac.compare_digest(now.full, then.full):
        return True
    return hmac.compare_digest(now.rest, then.rest) and key.user_unlinked(now)


def canonical(row: dict[str, Any]) -> bytes:
    """The canonical bytes of a row (see the module docstring)."""
    values = {name: _value(value) for name, value in row.items() if value is not None}
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _value(value: Any) -> Any:
    # Dispatch on the exact type first: this runs for every value of every
    # row sealed or verified (str, int and JSON containers are most of them).
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {str(key): _value(item) for key, item in value.items()}
    if kind is list:
        return [_value(item) for item in value]
    if kind is float:
        return int(value) if value.is_integer() else value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dict):
        return {str(key): _value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_value(item) for item in value]
    if isinstance(value, float):
        return int(value) if value.is_integer() else float(value)
    if isinstance(value, int):
        return int(value)
    return str(value)  # inet, Decimal, anything a backend returns as an object


def columns() -> tuple[str, ...]:
    """The attnames of every concrete column of ``ActivityLog``, ``id`` first."""
    from autoaudit.models import ActivityLog

    return tuple(field.attname for field in ActivityLog._meta.concrete_fields)


def rows(values: Iterable[Sequence[Any]], names: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Dicts of ``values_list`` tuples."""
    for value in values:
        yield dict(zip(names, value, strict=True))
