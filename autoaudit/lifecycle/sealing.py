"""Sealing the log and verifying the seals (``autoaudit_seal``, ``autoaudit_verify``).

A seal covers the ids ``first_id .. last_id`` (each seal starts where the
previous one ended, so every id ever assigned falls in exactly one seal).
It stores every covered row's MAC (:mod:`autoaudit.lifecycle.rowmac`) and a
digest keyed over those MACs, its range, count, time, key id and the
previous seal's digest. Someone who can write to the tables but does not
hold the key can neither change a sealed row nor forge a seal to match.

Seals take only rows older than ``SEAL_DELAY``, in id order, stopping at
the first newer row: a row whose transaction is still open when a seal is
made, but whose id is lower than the seal's last id, becomes visible after
the seal. Verify reports such a row as *late* if it was created before the
seal was made, and as *inserted* otherwise.
"""

from __future__ import annotations

import datetime as dt
import hmac
import struct
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from autoaudit.conf import get_settings, seal_secret
from autoaudit.lifecycle.maintenance import chain_lock, event_mac
from autoaudit.lifecycle.rowmac import MAC_BYTES, MAC_VERSION, RowMac, SealKey, columns, continues
from autoaudit.lifecycle.rowmac import rows as as_dicts
from autoaudit.lifecycle.selection import log_alias

if TYPE_CHECKING:
    from autoaudit.models import Seal, SealEvent

#: Rows per seal by default.
DEFAULT_BATCH = 10_000
#: One covered row in ``Seal.macs``: its id, then its ``full`` and ``rest`` MACs.
_ENTRY = struct.Struct(f">q{MAC_BYTES}s{MAC_BYTES}s")


def _stamp(when: dt.datetime) -> bytes:
    if timezone.is_aware(when):
        when = when.astimezone(dt.UTC)
    return when.isoformat(timespec="microseconds").encode()


def seal_digest(key: SealKey, seal: Seal) -> str:
    """The keyed digest of a seal's fields (all but ``digest`` itself)."""
    return key.mac(
        b"seal1",
        seal.previous_digest.encode(),
        str(seal.first_id).encode(),
        str(seal.last_id).encode(),
        str(seal.row_count).encode(),
        _stamp(seal.created_at),
        seal.key_id.encode(),
        str(seal.mac_version).encode(),
        bytes(seal.macs),
    ).hex()


def _pages(alias: str, first: int, last: int | None, size: int) -> Iterator[list[dict[str, Any]]]:
    """Every column of the rows with ids from ``first`` (to ``last``), in id order."""
    from autoaudit.models import ActivityLog

    names = columns()
    queryset = ActivityLog.objects.using(alias).order_by("id")
    if last is not None:
        queryset = queryset.filter(id__lte=last)
    start = first
    while True:
        page = list(as_dicts(queryset.filter(id__gte=start).values_list(*names)[:size], names))
        if page:
            yield page
        if len(page) < size:
            return
        start = page[-1]["id"] + 1


def seal(
    *,
    delay: int | None = None,
    batch_size: int = DEFAULT_BATCH,
    limit: int | None = None,
    alias: str | None = None,
) -> list[Seal]:
    """Seal, in order, every row older than ``delay`` seconds (default
    ``SEAL_DELAY``) not sealed yet, ``batch_size`` rows per seal, each seal
    in its own transaction under the chain lock; at most ``limit`` seals.
    Returns the new seals."""
    from autoaudit.models import Seal

    alias = alias or log_alias()
    delay = get_settings().SEAL_DELAY if delay is None else delay
    key = SealKey()
    made: list[Seal] = []
    while limit is None or len(made) < limit:
        with chain_lock(alias):
            head = Seal.objects.using(alias).order_by("-first_id").first()
            first = head.last_id + 1 if head is not None else 1
            now = timezone.now()
            cutoff = now - dt.timedelta(seconds=delay)
            entries: list[bytes] = []
            last = first - 1
            page = next(_pages(alias, first, None, batch_size), [])
            for row in page:
                if row["created_at"] >= cutoff:
                    break
                mac = key.row(row)
                entries.append(_ENTRY.pack(row["id"], mac.full, mac.rest))
                last = row["id"]
            if not entries:
                break
            new = Seal(
                first_id=first,
                last_id=last,
                row_count=len(entries),
                previous_digest=head.digest if head is not None else "",
                created_at=now,
                key_id=key.id,
                mac_version=MAC_VERSION,
                macs=b"".join(entries),
            )
            new.digest = seal_digest(key, new)
            new.save(using=alias)
            made.append(new)
        if len(entries) < batch_size:
            break  # stopped at a row newer than the delay, or at the last row
    return made


# -- verify ---------------------------------------------------------------------


@dataclass
class Report:
    """What verify found; every list holds row ids or seal descriptions."""

    seals: int = 0
    rows: int = 0
    unsealed: int = 0
    head: str = ""
    changed: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    inserted: list[int] = field(default_factory=list)
    late: list[int] = field(default_factory=list)
    broken_seals: list[str] = field(default_factory=list)
    missing_seals: list[str] = field(default_factory=list)
    forged_events: list[int] = field(default_factory=list)
    #: Rows autoaudit itself changed or removed, by kind (anonymised, pruned ...).
    accounted: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    #: Rows whose user link ``on_delete=SET_NULL`` cleared.
    user_unlinked: list[int] = field(default_factory=list)

    @property
    def tampered(self) -> bool:
        return bool(
            self.changed
            or self.deleted
            or self.inserted
            or self.broken_seals
            or self.missing_seals
            or self.forged_events
        )


def _keys() -> dict[str, SealKey]:
    key = SealKey(seal_secret())
    return {key.id: key}


def _unpack(macs: bytes | memoryview) -> dict[int, RowMac]:
    return {row_id: RowMac(full, rest) for row_id, full, rest in _ENTRY.iter_unpack(bytes(macs))}


def _events(alias: str, first: int, last: int) -> dict[int, list[SealEvent]]:
    from autoaudit.models import SealEvent

    found: dict[int, list[SealEvent]] = defaultdict(list)
    for event in (
        SealEvent.objects.using(alias).filter(row_id__gte=first, row_id__lte=last).order_by("id")
    ):
        found[event.row_id].append(event)
    return found


def verify(*, alias: str | None = None, page_size: int = DEFAULT_BATCH) -> Report:
    """Recompute every seal and every sealed row's MAC; see :class:`Report`."""
    from autoaudit.models import ActivityLog, Seal

    alias = alias or log_alias()
    keys = _keys()
    report = Report()
    previous: Seal | None = None
    for current in Seal.objects.using(alias).order_by("first_id").iterator(chunk_size=20):
        report.seals += 1
        _check_link(report, previous, current)
        previous = current
        key = keys.get(current.key_id)
        where = f"seal {current.first_id}-{current.last_id}"
        if key is None:
            report.broken_seals.append(
                f"{where}: made with key id {current.key_id!r}, not this SEAL_KEY's"
            )
            continue
        expected = seal_digest(key, current)
        if not hmac.compare_digest(expected, current.digest):
            report.broken_seals.append(f"{where}: its digest does not match its contents")
            continue
        sealed = _unpack(current.macs)
        if len(sealed) != current.row_count:
            report.broken_seals.append(
                f"{where}: holds {len(sealed)} rows, not {current.row_count}"
            )
            continue
        _check_rows(report, key, current, sealed, alias, page_size)
    if previous is not None:
        report.head = previous.digest
        report.unsealed = ActivityLog.objects.using(alias).filter(id__gt=previous.last_id).count()
    else:
        report.unsealed = ActivityLog.objects.using(alias).count()
    return report


def _check_link(report: Report, previous: Seal | None, current: Seal) -> None:
    expected_first = previous.last_id + 1 if previous is not None else 1
    expected_digest = previous.digest if previous is not None else ""
    if current.first_id != expected_first or current.previous_digest != expected_digest:
        after = f"after seal {previous.first_id}-{previous.last_id}" if previous else "first"
        report.missing_seals.append(
            f"before seal {current.first_id}-{current.last_id} ({after}): ids "
            f"{expected_first}-{current.first_id - 1} or a seal between are missing"
            if current.first_id != expected_first
            else f"seal {current.first_id}-{current.last_id} does not chain to the seal "
            f"before it ({after}): a seal was removed or replaced"
        )


def _check_rows(
    report: Report,
    key: SealKey,
    current: Seal,
    sealed: dict[int, RowMac],
    alias: str,
    page_size: int,
) -> None:
    events = _events(alias, current.first_id, current.last_id)
    seen: set[int] = set()
    for page in _pages(alias, current.first_id, current.last_id, page_size):
        for row in page:
            row_id = row["id"]
            seen.add(row_id)
            then = sealed.get(row_id)
            if then is None:
                (report.late if row["created_at"] < current.created_at else report.inserted).append(
                    row_id
                )
                continue
            report.rows += 1
            _follow(report, key, row_id, then, key.row(row), events.get(row_id, []))
    for row_id in sorted(set(sealed) - seen):
        report.rows += 1
        _follow(report, key, row_id, sealed[row_id], None, events.get(row_id, []))


def _follow(
    report: Report,
    key: SealKey,
    row_id: int,
    then: RowMac,
    now: RowMac | None,
    events: list[SealEvent],
) -> None:
    """Walk a sealed row's recorded events from its sealed MAC to now."""
    expected: RowMac | None = then
    kinds: list[str] = []
    #: The MAC of the row when autoaudit removed it (archive, prune, erase).
    removed: RowMac | None = None
    for event in events:
        if not hmac.compare_digest(event_mac(key, event), event.mac):
            report.forged_events.append(event.pk)
            return
        old = RowMac.from_hex(event.old_mac)
        if expected is None or not continues(key, old, expected):
            break  # a record that does not follow: the row was changed in between
        expected = RowMac.from_hex(event.new_mac) if event.new_mac else None
        removed = old if expected is None else None
        kinds.append(event.kind)
    else:
        if now is None and expected is None:
            report.accounted[kinds[-1]].append(row_id)
            return
        if now is not None and removed is not None and continues(key, now, removed):
            report.accounted["restored"].append(row_id)  # autoaudit_restore, as it was
            return
        if now is not None and expected is not None and continues(key, now, expected):
            if kinds:
                report.accounted[kinds[-1]].append(row_id)
            if now.full != expected.full:
                report.user_unlinked.append(row_id)
            return
    (report.deleted if now is None else report.changed).append(row_id)


def id_ranges(ids: list[int], most: int = 50) -> str:
    """``1-4, 7, 9-10`` for ``[1, 2, 3, 4, 7, 9, 10]``, at most ``most`` ranges."""
    parts: list[str] = []
    ordered = sorted(ids)
    start = prev = ordered[0] if ordered else 0
    for value in [*ordered[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if value is not None:
            start = prev = value
    if len(parts) > most:
        return ", ".join(parts[:most]) + f" ... and {len(parts) - most} more ranges"
    return ", ".join(parts)
