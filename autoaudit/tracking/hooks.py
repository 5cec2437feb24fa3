"""``pre_log`` and ``post_log``: the project's say over each log row.

The store calls :func:`approved` on every draft before it writes it (every
path: saves, deletes, M2M, bulk, the manual helpers, auth and view events
all reach the store), and :func:`written` once the rows are in. With no
receiver connected each costs one list check.

- ``pre_log`` is sent with ``draft``, a :class:`PendingLog` (the row's
  columns, masked, as attributes a receiver may change), and ``using``.
  A receiver that returns ``False`` vetoes the row: nothing is written
  (the change itself still is). What a receiver sets is written as given,
  after masking (JSON columns are made JSON-safe and size-limited again).
  A receiver that raises stops the write like any error of the log: the
  change rolls back with it.
- ``post_log`` is sent with ``draft`` (the :class:`~autoaudit.tracking.record.LogDraft`
  written) and ``using``, after the transaction that wrote the row commits
  (right away in autocommit mode), so a receiver sees only rows that are
  there for good. It is sent robustly: a receiver that raises is reported to
  the ``autoaudit`` logger and the change and its log stay committed.

``sender`` is the model class the log is about (``computed_entity``), or
``None`` for a log of something that is not an installed model.

The ``SINKS`` (dotted paths of callables) are called at the same moment as
``post_log``, each with every committed row as a JSON-safe dict
(:meth:`~autoaudit.tracking.record.LogDraft.as_json`), in the same robust
way: a sink that raises (or cannot be imported) is reported to the
``autoaudit`` logger and the other sinks and rows go on. They run no query.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.dispatch import Signal
from django.utils.module_loading import import_string

from autoaudit.conf import get_settings
from autoaudit.tracking.record import COLUMNS, LogDraft
from autoaudit.values.serialization import NAME_LENGTH, safe_str, shorten, to_json

logger = logging.getLogger("autoaudit")

#: Sent before a log row is written; see the module docstring.
pre_log = Signal()
#: Sent after a log row is written and committed; see the module docstring.
post_log = Signal()

#: A ``SINKS`` entry: called with each committed row as a dict.
Sink = Callable[[dict[str, Any]], Any]

_JSON_COLUMNS = ("old_values", "new_values", "changed_fields", "extra_data", "actor_metadata")


class PendingLog:
    """A log row on its way to the table, as a ``pre_log`` receiver sees it.

    Every column of ``ActivityLog`` is an attribute (``action``, ``entity``,
    ``computed_entity``, ``entity_pk``, ``old_values``, ``new_values``,
    ``changed_fields``, ``description``, ``extra_data``, ``user``,
    ``actor_type``, ``actor_name``, ``actor_metadata`` ...), already masked;
    set one to change what is written. ``created_at`` and ``id`` are the
    database's (an imported row keeps its source's time).
    """

    __slots__ = ("_columns", "_created_at")

    def __init__(self, draft: LogDraft) -> None:
        object.__setattr__(self, "_created_at", draft.created_at)
        columns = draft.columns()
        for name in _JSON_COLUMNS:  # a receiver may change them in place
            columns[name] = copy.deepcopy(columns[name])
        object.__setattr__(self, "_columns", columns)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._columns[name]
        except KeyError:
            raise AttributeError(f"a pending log has no column {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._columns:
            raise AttributeError(
                f"a pending log has no column {name!r}; columns: {', '.join(COLUMNS)}."
            )
        self._columns[name] = value

    def __repr__(self) -> str:
        return f"<PendingLog {self._columns['action']} {self._columns['computed_entity']}>"

    def draft(self) -> LogDraft:
        """The draft as changed, JSON columns made JSON-safe and bounded again."""
        settings = get_settings()
        bounds = {"max_items": settings.MAX_ITEMS, "max_bytes": settings.MAX_VALUE_BYTES}
        columns = dict(self._columns)
        for name in _JSON_COLUMNS:
            if columns[name] is not None:
                columns[name] = to_json(columns[name], settings.MAX_VALUE_LENGTH, **bounds)
        if columns["entity_name"] is not None:
            columns["entity_name"] = shorten(safe_str(columns["entity_name"]), NAME_LENGTH)
        if columns["description"] is not None:
            columns["description"] = safe_str(columns["description"])
        return LogDraft(**columns, created_at=self._created_at)


def sender_of(computed_entity: str) -> type[models.Model] | None:
    """The model a log is about, by its ``"app_label.Model"`` label."""
    app_label, _, name = computed_entity.partition(".")
    try:
        return apps.get_registered_model(app_label, name)
    except LookupError:
        return None


def listened(signal: Signal, sender: type[models.Model] | None) -> bool:
    """Whether ``signal`` has a receiver for ``sender`` (one list check if none at all)."""
    return bool(signal.receivers) and signal.has_listeners(sender)


def combinable(model: type[models.Model], key_known: bool) -> bool:
    """Whether a save of ``model`` may write its log in Django's own statement
    (PostgreSQL): not while ``post_log`` has receivers for it (they are sent
    after the statement, which the combined path does not wait for), nor
    for a new row whose key the database gives while ``pre_log`` has (the
    receiver would see a stand-in for the key)."""
    if listened(post_log, model) or get_settings().SINKS:
        return False  # and sinks, sent as post_log is
    return key_known or not listened(pre_log, model)


def approve(draft: LogDraft, using: str) -> LogDraft | None:
    """``draft`` as the ``pre_log`` receivers leave it; ``None`` if one vetoed it."""
    if not pre_log.receivers:
        return draft
    sender = sender_of(draft.computed_entity)
    if not pre_log.has_listeners(sender):
        return draft
    pending = PendingLog(draft)
    responses: list[tuple[Any, Any]] = pre_log.send(sender=sender, draft=pending, using=using)
    if any(response is False for _receiver, response in responses):
        return None
    return pending.draft()


def approved(drafts: Sequence[LogDraft], using: str) -> Sequence[LogDraft]:
    """The drafts no ``pre_log`` receiver vetoed, as they left them."""
    if not pre_log.receivers:
        return drafts
    return [d for d in (approve(draft, using) for draft in drafts) if d is not None]


@functools.lru_cache(maxsize=8)
def _sinks(paths: tuple[str, ...]) -> tuple[tuple[str, Sink | None], ...]:
    """The ``SINKS`` callables by path (``None`` for one that does not import)."""
    found: list[tuple[str, Sink | None]] = []
    for path in paths:
        try:
            found.append((path, import_string(path)))
        except ImportError:
            logger.exception("autoaudit: the sink %r cannot be imported (autoaudit.E001)", path)
            found.append((path, None))
    return tuple(found)


def _deliver(drafts: Sequence[LogDraft], paths: tuple[str, ...]) -> None:
    sinks = _sinks(paths)
    for draft in drafts:
        row = draft.as_json()
        for path, sink in sinks:
            if sink is None:
                continue
            try:
                sink(dict(row))  # each its own copy
            except Exception:
                logger.exception(
                    "autoaudit: the sink %r raised on the %s log of %s %s",
                    path,
                    draft.action,
                    draft.computed_entity,
                    draft.entity_pk,
                )


def written(drafts: Sequence[LogDraft], using: str) -> None:
    """Send ``post_log`` for each of ``drafts``, and hand them to the
    ``SINKS``, once ``using`` commits (at once outside a transaction)."""
    if not drafts:
        return
    paths = get_settings().SINKS
    senders = []
    if post_log.receivers:
        senders = [(sender_of(draft.computed_entity), draft) for draft in drafts]
    if not any(post_log.has_listeners(sender) for sender, _draft in senders):
        senders = []
    if not senders and not paths:
        return

    def send() -> None:
        if paths:
            _deliver(drafts, paths)
        for sender, draft in senders:
            for receiver, result in post_log.send_robust(sender=sender, draft=draft, using=using):
                if isinstance(result, Exception):
                    logger.error(
                        "autoaudit: the post_log receiver %r raised on the %s log of %s %s",
                        receiver,
                        draft.action,
                        draft.computed_entity,
                        draft.entity_pk,
                        exc_info=result,
                    )

    transaction.on_commit(send, using=using)
