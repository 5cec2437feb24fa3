"""One transaction around a change and its log, in autocommit mode."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connections, transaction

from autoaudit.tracking.rows import holds_write_lock


@contextlib.contextmanager
def write_transaction(using: str) -> Iterator[None]:
    """The change and its log in one transaction, if none is open yet.

    Inside an open transaction (``atomic()``, ``ATOMIC_REQUESTS``) this does
    nothing: the caller's transaction already holds both. In autocommit mode
    it is ``atomic(savepoint=False)``, so the row and its log commit together
    (one commit, not two) and a failed log insert undoes the change.

    On SQLite the transaction is begun ``IMMEDIATE``: it starts with a read
    (the old values) before the write, and a deferred SQLite transaction
    would then fail against a concurrent writer ("database is locked") where
    the untracked single statement would just have waited for the lock.
    Inside a caller's transaction the locking reads of :mod:`.rows` claim
    that lock instead (:func:`~autoaudit.tracking.rows.claim_write_lock`).
    """
    connection: Any = connections[using]  # SQLite's has transaction_mode
    if not connection.get_autocommit():
        yield
        return
    atomic = transaction.atomic(using=using, savepoint=False)
    if connection.vendor == "sqlite" and getattr(connection, "transaction_mode", "") is None:
        connection.transaction_mode = "IMMEDIATE"
        try:
            atomic.__enter__()
        finally:
            connection.transaction_mode = None
        holds_write_lock(connection)
    else:
        atomic.__enter__()
    try:
        yield
    except BaseException:
        atomic.__exit__(*sys.exc_info())  # rolls back; never swallows
        raise
    else:
        atomic.__exit__(None, None, None)


@contextlib.contextmanager
def deferred_write_transaction(using: str) -> Iterator[Callable[[], None]]:
    """:func:`write_transaction`, begun only if and when the ``begin``
    function this yields is called (once; later calls do nothing), and ended
    with the block."""
    with contextlib.ExitStack() as stack:
        begun = False

        def begin() -> None:
            nonlocal begun
            if not begun:
                begun = True
                stack.enter_context(write_transaction(using))

        yield begin
