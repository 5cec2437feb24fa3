"""Signal receivers, connected per registered model (``sender=``).

``pre_save`` reads the old values of the tracked, loaded columns in one query
(none for a create); ``post_save`` compares and writes the log; ``post_delete``
logs deletes (Django sends it inside the delete's transaction);
``m2m_changed`` logs registered many-to-many fields. The model's ``save_base``
is wrapped so that, in autocommit mode, the change and its log share one
transaction and one commit.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connections, models, router, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from autoaudit import changes, m2m, writer
from autoaudit.context import _disabled
from autoaudit.registry import Tracker, registry

_SNAPSHOT = "_autoaudit_snapshot"
_FORCE_INSERT = "_autoaudit_force_insert"
_M2M = "_autoaudit_m2m"
_NOTHING = object()


def _uid(kind: str, sender: type[models.Model] | Any) -> str:
    return f"autoaudit.{kind}.{sender._meta.label}"


# -- save -----------------------------------------------------------------
def _pre_save(
    sender: type[models.Model],
    instance: models.Model,
    raw: bool = False,
    using: str | None = None,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    data = instance.__dict__
    data.pop(_SNAPSHOT, None)
    force_insert = data.pop(_FORCE_INSERT, False)
    if _disabled.get():
        return
    tracker = registry.tracker_for(sender)
    if tracker is None or (raw and not changes.log_raw_saves()):
        return
    data[_SNAPSHOT] = changes.snapshot(tracker, instance, using, update_fields, force_insert)


def _post_save(
    sender: type[models.Model],
    instance: models.Model,
    created: bool = False,
    raw: bool = False,
    using: str | None = None,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    snapshot = instance.__dict__.pop(_SNAPSHOT, _NOTHING)
    if snapshot is _NOTHING or _disabled.get():
        return
    tracker = registry.tracker_for(sender)
    if tracker is None:
        return
    changes.log_save(tracker, instance, created, snapshot, using)


# -- delete ---------------------------------------------------------------
def _post_delete(
    sender: type[models.Model],
    instance: models.Model,
    using: str | None = None,
    origin: Any = None,
    **kwargs: Any,
) -> None:
    if _disabled.get():
        return
    tracker = registry.tracker_for(sender)
    if tracker is None or "delete" not in tracker.actions:
        return
    if _is_parent_part(instance, origin):
        return
    log = changes.delete_log(tracker, instance)
    pending = _pending_deletes.get()
    if pending is not None and pending.using == using:
        pending.logs.append(log)  # inserted together when the delete ends
    else:
        writer.insert(log, using, need_id=False)


class PendingDeletes:
    """Delete logs of one ``Collector.delete()``, inserted together at its end
    (in its transaction): one ``INSERT`` however many objects it deletes."""

    __slots__ = ("logs", "using")

    def __init__(self, using: str) -> None:
        self.using = using
        self.logs: list[Any] = []


_pending_deletes: ContextVar[PendingDeletes | None] = ContextVar(
    "autoaudit_pending_deletes", default=None
)


@contextmanager
def collecting_deletes(using: str) -> Iterator[PendingDeletes]:
    """Buffer the delete logs written inside (see :class:`PendingDeletes`)."""
    pending = PendingDeletes(using)
    token = _pending_deletes.set(pending)
    try:
        yield pending
    finally:
        _pending_deletes.reset(token)


@functools.cache
def _child_caches(model: type[models.Model]) -> tuple[str, ...]:
    """Cache names under which an MTI child links to its parent part."""
    return tuple(
        rel.cache_name for rel in model._meta.related_objects if rel.one_to_one and rel.parent_link
    )


def _is_parent_part(instance: models.Model, origin: Any) -> bool:
    # Deleting a multi-table child deletes its parent row too; the child's
    # own log covers it, so the parent part is not logged again.
    concrete = type(instance)._meta.concrete_model
    if concrete is None:
        return False
    names = _child_caches(concrete)
    if not names:
        return False
    origin_model = origin.model if isinstance(origin, models.QuerySet) else type(origin)
    if isinstance(origin_model, type) and issubclass(origin_model, models.Model):
        if origin_model._meta.concrete_model is concrete:
            return False  # the parent itself is what is being deleted
        if issubclass(origin_model, concrete):
            return True
    # A cascade from elsewhere: the collector reached this parent through
    # its child, which left the child in the parent's relation cache.
    cache = instance._state.fields_cache
    return any(cache.get(name) is not None for name in names)


# -- many-to-many -----------------------------------------------------------
def _m2m_receiver(tracker: Tracker, field: models.ManyToManyField[Any, Any]) -> Callable[..., None]:
    def receiver(
        sender: Any,
        instance: models.Model,
        action: str,
        reverse: bool,
        model: type[models.Model],
        pk_set: set[Any] | None,
        using: str | None = None,
        **kwargs: Any,
    ) -> None:
        if _disabled.get() or registry.tracker_for(tracker.model) is not tracker:
            return
        if "update" not in tracker.actions:
            return
        key = (field.name, reverse)
        store: dict[Any, Any] = instance.__dict__.setdefault(_M2M, {})
        if action.startswith("pre_"):
            store[key] = m2m.m2m_before(tracker, field, instance, reverse, pk_set, action, using)
        elif key in store:
            m2m.log_m2m(tracker, field, instance, reverse, action, pk_set, store.pop(key), using)

    return receiver


# -- wiring ---------------------------------------------------------------
def connect(tracker: Tracker) -> None:
    model = tracker.model
    pre_save.connect(_pre_save, sender=model, dispatch_uid=_uid("pre_save", model))
    post_save.connect(_post_save, sender=model, dispatch_uid=_uid("post_save", model))
    post_delete.connect(_post_delete, sender=model, dispatch_uid=_uid("post_delete", model))
    for field in tracker.m2m:
        through = field.remote_field.through
        m2m_changed.connect(
            _m2m_receiver(tracker, field),
            sender=through,
            weak=False,
            dispatch_uid=_uid(f"m2m.{field.name}", model),
        )


def disconnect(tracker: Tracker) -> None:
    model = tracker.model
    pre_save.disconnect(sender=model, dispatch_uid=_uid("pre_save", model))
    post_save.disconnect(sender=model, dispatch_uid=_uid("post_save", model))
    post_delete.disconnect(sender=model, dispatch_uid=_uid("post_delete", model))
    for field in tracker.m2m:
        through = field.remote_field.through
        m2m_changed.disconnect(sender=through, dispatch_uid=_uid(f"m2m.{field.name}", model))


def connect_route(sender: type[models.Model]) -> None:
    """Receive the signals of an unregistered proxy of a tracked model."""
    pre_save.connect(_pre_save, sender=sender, dispatch_uid=_uid("pre_save", sender))
    post_save.connect(_post_save, sender=sender, dispatch_uid=_uid("post_save", sender))
    post_delete.connect(_post_delete, sender=sender, dispatch_uid=_uid("post_delete", sender))


def disconnect_route(sender: type[models.Model]) -> None:
    pre_save.disconnect(sender=sender, dispatch_uid=_uid("pre_save", sender))
    post_save.disconnect(sender=sender, dispatch_uid=_uid("post_save", sender))
    post_delete.disconnect(sender=sender, dispatch_uid=_uid("post_delete", sender))


# -- one transaction per tracked save ---------------------------------------
def _wrap_save_base(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def save_base(self: models.Model, *args: Any, **kwargs: Any) -> Any:
        if _disabled.get():
            return original(self, *args, **kwargs)
        if kwargs.get("force_insert") or (len(args) > 1 and args[1]):
            self.__dict__[_FORCE_INSERT] = True
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        connection = connections[using]
        if connection.get_autocommit():
            # Autocommit: without this the row and its log would be two
            # commits, and a failed log insert could not undo the change.
            kwargs["using"] = using
            with write_transaction(connection, using):
                return original(self, *args, **kwargs)
        return original(self, *args, **kwargs)

    save_base._autoaudit_wrapped = True  # type: ignore[attr-defined]
    save_base._autoaudit_original = original  # type: ignore[attr-defined]
    return save_base


@contextmanager
def write_transaction(connection: Any, using: str) -> Iterator[None]:
    """``atomic(savepoint=False)``; on SQLite begun IMMEDIATE.

    Our transaction starts with a read (the old values) before the write. A
    deferred SQLite transaction would then deadlock against a concurrent
    writer ("database is locked") where the untracked single UPDATE would
    just have waited; taking the write lock up front restores the waiting.
    """
    atomic = transaction.atomic(using=using, savepoint=False)
    if connection.vendor == "sqlite" and getattr(connection, "transaction_mode", "") is None:
        connection.transaction_mode = "IMMEDIATE"
        try:
            atomic.__enter__()
        finally:
            connection.transaction_mode = None
    else:
        atomic.__enter__()
    try:
        yield
    except BaseException:
        atomic.__exit__(*sys.exc_info())  # rolls back; never swallows
        raise
    else:
        atomic.__exit__(None, None, None)


_patched: dict[type[models.Model], Any] = {}


def sync_save_wrappers(routes: Mapping[type[models.Model], Tracker]) -> None:
    """Wrap ``save_base`` of every routed model, and unwrap the others."""
    for model in list(_patched):
        if model not in routes:
            own = _patched.pop(model)
            if own is None:
                delattr(model, "save_base")
            else:
                model.save_base = own  # type: ignore[method-assign]
    for model in routes:
        current = model.save_base
        if getattr(current, "_autoaudit_wrapped", False):
            continue
        _patched[model] = model.__dict__.get("save_base")
        model.save_base = _wrap_save_base(current)  # type: ignore[method-assign]
