"""Logs written after their change commits: ``WRITE_MODE`` ``"on_commit"``
and ``"task"``, and a ``DATABASE`` other than the change's.

The store hands the drafts of each write to :func:`defer` instead of
inserting them. They wait in a :class:`_Batch`, the callback that
``transaction.on_commit`` keeps for that write on the change's connection:

- a rolled-back transaction, or a rolled-back savepoint, makes Django forget
  the callbacks registered inside it, and with them their drafts (the
  connection holds the only reference to a batch; the queue only a weak one);
- after the commit, the first batch of the transaction to run takes the
  drafts of every batch still waiting (those Django kept) and hands them to
  the store's ``flush`` at once, so one transaction's logs go in as one
  statement (or one task); the batches after it find nothing left.

Outside a transaction (autocommit, no ``atomic``) Django runs the callback
at once: the log is written right after the statement that made the change.
A ``flush`` that fails is reported to the ``autoaudit`` logger and never
raises into the code whose change already committed.

That the forgotten batches are gone at once relies on reference counting
(CPython); elsewhere a rolled-back batch could be flushed by a later commit.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from django.db import connections, transaction

from autoaudit.tracking.record import LogDraft

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger("autoaudit")

#: Writes the drafts of one committed transaction to the target alias.
Flush = Callable[[Sequence[LogDraft], str], None]


class _Queue:
    """The batches one transaction on one connection defers."""

    __slots__ = ("__weakref__", "batches", "flush", "target")

    def __init__(self, flush: Flush, target: str) -> None:
        self.batches: list[weakref.ref[_Batch]] = []
        self.flush = flush
        self.target = target

    def waiting(self) -> list[_Batch]:
        """The batches Django still holds (not rolled back, not yet run)."""
        return [batch for batch in (ref() for ref in self.batches) if batch is not None]

    def run(self) -> None:
        batches = self.waiting()
        self.batches = []
        drafts = [draft for batch in batches for draft in batch.drafts]
        for batch in batches:
            batch.drafts = ()
        if not drafts:
            return  # an earlier batch of this transaction flushed them all
        try:
            self.flush(drafts, self.target)
        except Exception:
            logger.exception(
                "autoaudit could not write %d log(s) on %r after their changes committed; "
                "they are lost (first: the %s log of %s %s)",
                len(drafts),
                self.target,
                drafts[0].action,
                drafts[0].computed_entity,
                drafts[0].entity_pk,
            )


class _Batch:
    """The drafts of one write, waiting in Django's on_commit list."""

    __slots__ = ("__weakref__", "drafts", "queue")

    def __init__(self, drafts: Sequence[LogDraft], queue: _Queue) -> None:
        self.drafts = drafts
        self.queue = queue

    def __call__(self) -> None:
        self.queue.run()


_queues: weakref.WeakKeyDictionary[BaseDatabaseWrapper, _Queue] = weakref.WeakKeyDictionary()


def defer(drafts: Sequence[LogDraft], using: str, target: str, flush: Flush) -> None:
    """Have ``flush(drafts, target)`` run once the transaction on ``using``
    commits (at once in autocommit mode), with the drafts of every other
    write of that transaction that was not rolled back."""
    connection = connections[using]
    queue = _queues.get(connection)
    if queue is None or queue.target != target or not queue.waiting():
        # A new transaction (the last one's batches were run or dropped).
        queue = _queues[connection] = _Queue(flush, target)
    batch = _Batch(drafts, queue)
    queue.batches.append(weakref.ref(batch))
    transaction.on_commit(batch, using=using, robust=True)


def pending(using: str) -> int:
    """How many drafts wait for the transaction on ``using`` to commit."""
    queue = _queues.get(connections[using])
    return 0 if queue is None else sum(len(batch.drafts) for batch in queue.waiting())
