"""Every patch of Django internals autoaudit makes, in one place.

Each patch says why no public hook serves. The patches of Django internals
are installed only while at least one model is tracked (:func:`sync` is
subscribed to the registry), and each first asks the registry about the
model and hands untracked models straight to Django's own method,
unchanged. django-crum's storage is replaced once, at start-up.

The yardstick is Django's own test suite run with every model registered
(``compat/``): with these patches in place Django must return, raise and
route exactly as without them; only the number of queries may differ.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import Any

import crum
from django.db import models, router
from django.db.models.deletion import Collector
from django.db.models.query import QuerySet

from autoaudit.actors.request import ContextLocal
from autoaudit.actors.scopes import is_disabled
from autoaudit.tracking import bulk, deletes, store
from autoaudit.tracking.atomic import write_transaction
from autoaudit.tracking.registry import Routes, Tracker, registry
from autoaudit.tracking.snapshot import SaveFrame, saving

_originals: dict[str, Callable[..., Any]] = {}
#: True while a tracked ``bulk_update()`` runs: the ``QuerySet.update()`` calls
#: Django makes inside it are not logged a second time.
_inside_bulk_update: ContextVar[bool] = ContextVar("autoaudit_bulk_update", default=False)


def _bulk_tracker(queryset: QuerySet[Any], action: str) -> Tracker | None:
    if is_disabled() or _inside_bulk_update.get():
        return None
    tracker = registry.tracker_for(queryset.model)
    if tracker is None or not tracker.options.bulk or action not in tracker.actions:
        return None
    return tracker


# -- Model.save_base ------------------------------------------------------------------
# Why: in autocommit mode Django commits a model's row before it sends
# ``post_save`` (no transaction at all for a model without parents), so a log
# written by the receiver would be a second commit, and a failed log insert
# could not undo the change. No signal runs before the row is written with a
# transaction we could open. Patched on ``Model`` itself, so every save passes
# (``loaddata`` calls ``Model.save_base`` directly); the saves of untracked
# models go straight to Django's method.
_SAVE_BASE_ARGS = ("raw", "force_insert", "force_update", "using", "update_fields")


def save_base(self: models.Model, *args: Any, **kwargs: Any) -> Any:
    original = _originals["save_base"]
    tracker = None if is_disabled() else registry.tracker_for(type(self))
    if tracker is None:
        return original(self, *args, **kwargs)
    given = {**dict(zip(_SAVE_BASE_ARGS, args, strict=False)), **kwargs}
    using = given.get("using") or router.db_for_write(type(self), instance=self)
    # Pass the database on the way Django's own caller passed it (Django would
    # ask the router again otherwise), positional or keyword.
    if len(args) > _SAVE_BASE_ARGS.index("using"):
        position = _SAVE_BASE_ARGS.index("using")
        args = (*args[:position], using, *args[position + 1 :])
    else:
        kwargs["using"] = using
    frame = SaveFrame(
        self, tracker, bool(given.get("force_insert")), bool(given.get("force_update"))
    )
    with write_transaction(using), saving(frame):
        return original(self, *args, **kwargs)


# -- QuerySet.update / bulk_create / bulk_update ----------------------------------------
# Why: Django sends no signal for these. Wrapping them on ``QuerySet`` covers
# every manager and custom queryset class without changing their type.
def update(self: QuerySet[Any], **kwargs: Any) -> Any:
    tracker = _bulk_tracker(self, "update")
    if tracker is None:
        return _originals["update"](self, **kwargs)
    return bulk.update(tracker, self, _originals["update"], kwargs)


def bulk_create(self: QuerySet[Any], objs: Iterable[Any], *args: Any, **kwargs: Any) -> Any:
    tracker = _bulk_tracker(self, "create")
    if tracker is None:
        return _originals["bulk_create"](self, objs, *args, **kwargs)
    return bulk.bulk_create(tracker, self, _originals["bulk_create"], objs, args, kwargs)


def bulk_update(
    self: QuerySet[Any], objs: Iterable[Any], fields: Sequence[str], *args: Any, **kwargs: Any
) -> Any:
    tracker = _bulk_tracker(self, "update")
    if tracker is None:
        return _originals["bulk_update"](self, objs, fields, *args, **kwargs)
    token = _inside_bulk_update.set(True)
    try:
        return bulk.bulk_update(
            tracker, self, _originals["bulk_update"], objs, fields, args, kwargs
        )
    finally:
        _inside_bulk_update.reset(token)


# -- Collector.delete ---------------------------------------------------------------------
# Why: every delete (``Model.delete()``, ``QuerySet.delete()``, cascades) ends
# here, with the plan of what goes; a ``post_delete`` receiver instead would
# switch off Django's fast delete and change its statements (see
# ``tracking/deletes.py``). The drafts are built before Django deletes the
# rows and inserted right after, in one statement, in the same transaction.
def collector_delete(self: Collector) -> Any:
    original = _originals["collector_delete"]
    if is_disabled() or not deletes.tracks_any(self):
        return original(self)
    with write_transaction(self.using):
        drafts = deletes.drafts_for(self)
        result = original(self)
        store.write(drafts, self.using)
    return result


_QUERYSET_PATCHES: dict[str, Callable[..., Any]] = {
    "update": update,
    "bulk_create": bulk_create,
    "bulk_update": bulk_update,
}


def _install() -> None:
    for name, wrapper in _QUERYSET_PATCHES.items():
        if name not in _originals:
            _originals[name] = getattr(QuerySet, name)
            functools.update_wrapper(wrapper, _originals[name])
            setattr(QuerySet, name, wrapper)
    if "save_base" not in _originals:
        _originals["save_base"] = models.Model.save_base
        functools.update_wrapper(save_base, models.Model.save_base)
        models.Model.save_base = save_base  # type: ignore[method-assign]
    if "collector_delete" not in _originals:
        _originals["collector_delete"] = Collector.delete
        functools.update_wrapper(collector_delete, Collector.delete)
        Collector.delete = collector_delete  # type: ignore[method-assign]


def _uninstall() -> None:
    for name, original in list(_originals.items()):
        if name == "collector_delete":
            Collector.delete = original  # type: ignore[method-assign]
        elif name == "save_base":
            models.Model.save_base = original  # type: ignore[method-assign]
        else:
            setattr(QuerySet, name, original)
        del _originals[name]


# -- django-crum's storage ------------------------------------------------------------------
# Why: crum keeps the current request in a ``threading.local``; under ASGI many
# requests share the event loop's thread, so one request's user would be handed
# to another. crum has no setting for its storage (its ASGI fix never landed),
# so the module attribute is replaced by a drop-in whose attributes live in a
# ContextVar: same API, correct under ASGI for everyone, unchanged under WSGI.
def install_crum_storage() -> ContextLocal:
    """Make django-crum's storage context-local (idempotent)."""
    storage = getattr(crum, "_thread_locals", None)
    if isinstance(storage, ContextLocal):
        return storage
    storage = ContextLocal("crum_locals")
    crum._thread_locals = storage
    return storage


def sync(routes: Routes) -> None:
    """Subscribed to the registry: the patches are in place while anything is tracked."""
    if routes:
        _install()
    else:
        _uninstall()
