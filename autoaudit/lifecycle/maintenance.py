"""Transactions that may touch sealed rows, and the lock of the seal chain.

:func:`chain_lock` is one lock, taken by the sealer and by every command
that rewrites or deletes log rows (forget, prune, archive), so a seal never
reads a row halfway through such a change and the chain never forks:

* PostgreSQL: ``pg_advisory_xact_lock`` (released with the transaction);
* MariaDB/MySQL: ``GET_LOCK`` around the transaction (a session lock,
  released right after it ends);
* SQLite: a write as the transaction's first statement, which takes the
  database's write lock at once (SQLite has one writer at a time).

:func:`maintenance` is that transaction for the lifecycle commands: it also
marks the transaction (``autoaudit.maintenance``, PostgreSQL only) so the
triggers of ``autoaudit_protect`` let it through, and gives a
:class:`Ledger` that records what it did to sealed rows as
:class:`~autoaudit.models.SealEvent` rows, in the same transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from django.db import OperationalError, connections, transaction
from django.db.models import Max
from django.utils import timezone

from autoaudit.lifecycle.rowmac import RowMac, SealKey, columns, rows

if TYPE_CHECKING:
    from autoaudit.models import SealEvent

#: ``pg_advisory_xact_lock`` key of the seal chain ("autoaudi" in ASCII).
ADVISORY_LOCK = 0x6175746F61756469
#: ``GET_LOCK`` name on MariaDB/MySQL.
NAMED_LOCK = "autoaudit.seal_chain"
#: Seconds to wait for the lock on MariaDB/MySQL.
LOCK_TIMEOUT = 600
#: The transaction-local setting ``autoaudit_protect``'s triggers check.
MAINTENANCE_SETTING = "autoaudit.maintenance"


class ChainLockError(RuntimeError):
    """The seal chain's lock could not be taken (the message says why)."""


@contextlib.contextmanager
def chain_lock(alias: str) -> Iterator[None]:
    """A transaction on ``alias`` holding the seal chain's lock."""
    from autoaudit.models import Seal

    connection = connections[alias]
    vendor = connection.vendor
    if vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, %s)", [NAMED_LOCK, LOCK_TIMEOUT])
            (got,) = cursor.fetchone() or (None,)
        if got != 1:
            raise ChainLockError(
                f"could not take the seal chain lock {NAMED_LOCK!r} within "
                f"{LOCK_TIMEOUT} s: another autoaudit command holds it."
            )
    try:
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            if vendor == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK])
            elif vendor == "sqlite":
                _sqlite_write_lock(cursor, connection.ops.quote_name(Seal._meta.db_table))
            yield
    finally:
        if vendor == "mysql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT RELEASE_LOCK(%s)", [NAMED_LOCK])


def _sqlite_write_lock(cursor: Any, table: str) -> None:
    """Take SQLite's write lock, waiting up to :data:`LOCK_TIMEOUT`.

    The connection's own busy timeout (5 s by default) can run out while
    another process takes the lock again and again (one seal after the
    other); a locked database leaves this transaction usable, so try again.
    """
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            cursor.execute(f"UPDATE {table} SET id = id WHERE 0 = 1")
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            return


class Ledger:
    """Records what a maintenance transaction does to sealed rows."""

    def __init__(self, alias: str) -> None:
        from autoaudit.models import Seal

        self.alias = alias
        #: The highest sealed id (``None``: nothing is sealed, nothing to record).
        self.sealed_to: int | None = Seal.objects.using(alias).aggregate(top=Max("last_id"))["top"]
        self._key: SealKey | None = None

    @property
    def key(self) -> SealKey:
        if self._key is None:
            self._key = SealKey()
        return self._key

    def snapshot(self, ids: Iterable[int]) -> dict[int, RowMac]:
        """The MACs of the sealed rows among ``ids``, as they are now."""
        from autoaudit.models import ActivityLog

        if self.sealed_to is None:
            return {}
        wanted = [i for i in ids if i <= self.sealed_to]
        if not wanted:
            return {}
        names = columns()
        found = ActivityLog.objects.using(self.alias).filter(id__in=wanted).order_by()
        return {row["id"]: self.key.row(row) for row in rows(found.values_list(*names), names)}

    def record(self, kind: str, before: dict[int, RowMac]) -> int:
        """Write a :class:`SealEvent` for every row of ``before`` that changed
        or is gone since; return how many."""
        from autoaudit.models import SealEvent

        if not before:
            return 0
        after = self.snapshot(before)
        now = timezone.now()
        events = []
        for row_id, old in before.items():
            new = after.get(row_id)
            if new == old:
                continue
            events.append(self.event(row_id, kind, old, new, now))
        SealEvent.objects.using(self.alias).bulk_create(events, batch_size=1000)
        return len(events)

    def event(
        self, row_id: int, kind: str, old: RowMac, new: RowMac | None, when: dt.datetime
    ) -> SealEvent:
        """One keyed event (unsaved)."""
        from autoaudit.models import SealEvent

        event = SealEvent(
            row_id=row_id,
            kind=kind,
            old_mac=old.hex(),
            new_mac=new.hex() if new is not None else "",
            created_at=when,
            key_id=self.key.id,
        )
        event.mac = event_mac(self.key, event)
        return event


def event_mac(key: SealKey, event: SealEvent) -> str:
    """The MAC of an event's fields (``created_at`` excluded: a database may
    round it; the order of events is their ids')."""
    return key.mac(
        b"event1",
        str(event.row_id).encode(),
        event.kind.encode(),
        event.old_mac.encode(),
        event.new_mac.encode(),
    ).hex()


@contextlib.contextmanager
def maintenance(alias: str) -> Iterator[Ledger]:
    """A transaction of autoaudit's own that changes or deletes log rows.

    Holds :func:`chain_lock`, lets ``autoaudit_protect``'s triggers through
    (PostgreSQL) and yields the :class:`Ledger` of its changes to sealed rows.
    """
    with chain_lock(alias):
        connection = connections[alias]
        flagged = connection.vendor == "postgresql"
        if flagged:
            _flag(alias, "on")
        yield Ledger(alias)
        if flagged:
            # Inside an outer transaction the flag would outlive this block
            # (it lasts until the transaction ends): clear it. On an error
            # the rollback clears it.
            _flag(alias, "")


def _flag(alias: str, value: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [MAINTENANCE_SETTING, value])
