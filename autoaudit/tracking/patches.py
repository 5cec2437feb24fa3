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
from django.db.models.sql.compiler import SQLInsertCompiler
from django.db.models.sql.subqueries import DeleteQuery

from autoaudit.actors.request import ContextLocal
from autoaudit.actors.scopes import is_disabled
from autoaudit.tracking import bulk, deletes, saves, store
from autoaudit.tracking.atomic import deferred_write_transaction, write_transaction
from autoaudit.tracking.registry import Routes, Tracker, registry
from autoaudit.tracking.rows import claim_write_lock
from autoaudit.tracking.snapshot import (
    SaveFrame,
    is_parent_route,
    keeps_loaded,
    remember_loaded,
    remember_saved,
    saving,
)

_originals: dict[str, Callable[..., Any]] = {}
#: True while a tracked ``bulk_update()`` runs: the ``QuerySet.update()`` calls
#: Django makes inside it are not logged a second time.
_inside_bulk_update: ContextVar[bool] = ContextVar("autoaudit_bulk_update", default=False)


def _bulk_tracker(queryset: QuerySet[Any], action: str) -> Tracker | None:
    if is_disabled() or _inside_bulk_update.get():
        return None
    tracker = registry.route(queryset.model)
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
    tracker = None if is_disabled() else registry.route(type(self))
    if tracker is None:
        return original(self, *args, **kwargs)
    given = {**dict(zip(_SAVE_BASE_ARGS, args, strict=False)), **kwargs}
    if given.get("raw") and is_parent_route(tracker, type(self)):
        # A raw save (loaddata) of an unregistered multi-table child writes
        # only the child's own table: the tracked parent's row is untouched.
        return original(self, *args, **kwargs)
    using = given.get("using") or router.db_for_write(type(self), instance=self)
    # Pass the database on the way Django's own caller passed it (Django would
    # ask the router again otherwise), positional or keyword.
    if len(args) > _SAVE_BASE_ARGS.index("using"):
        position = _SAVE_BASE_ARGS.index("using")
        args = (*args[:position], using, *args[position + 1 :])
    else:
        kwargs["using"] = using
    frame = SaveFrame(self, tracker, given.get("force_insert"), bool(given.get("force_update")))
    if saves.combines(frame, using, given):
        # The log goes in with Django's INSERT (see insert_execute_sql).
        with deferred_write_transaction(using) as frame.begin, saving(frame):
            result = original(self, *args, **kwargs)
        remember_saved(frame, using, given.get("update_fields"))
        return result
    with write_transaction(using), saving(frame):
        return original(self, *args, **kwargs)


# -- Model._do_update ---------------------------------------------------------------------
# Why: the one place that knows both the instance and Django's UPDATE of it
# (``pre_save`` comes before the row's values are final; the statement
# itself does not name the instance). On PostgreSQL the UPDATE of a tracked
# save is sent with its log, as one statement (see ``tracking/saves.py``);
# every other save's is Django's own.
def do_update(self: models.Model, *args: Any, **kwargs: Any) -> Any:
    frame = saves.combining_frame(self)
    if frame is None:
        return _originals["do_update"](self, *args, **kwargs)
    return saves.update(frame, self, _originals["do_update"], args, kwargs)


# -- the from_db of tracked models -------------------------------------------------------
# Why: an update on PostgreSQL needs no read of the old values if the values
# its row was loaded with are kept (its UPDATE is guarded by them: see
# ``tracking/saves.py``). The one signal of a load, ``post_init``, is sent
# for every instance of every model, also those made in Python; ``from_db``
# is the model's own documented hook for a loaded row, so only the classes
# writes through which are tracked get one that keeps them.
_loaders: dict[type[models.Model], Any] = {}  # class -> the from_db it defined itself


def _loading_from_db(cls: type[models.Model]) -> Any:
    own = cls.__dict__.get("from_db")
    # The function the class's from_db would run without us, whose
    # signature ours shows (``__wrapped__``): Django 6.1 passes
    # ``fetch_mode`` only to a from_db() that accepts it (and warns about
    # one that does not), as it would untracked.
    inner = own if own is not None else super(cls, cls).from_db  # type: ignore[misc]
    function = getattr(inner, "__func__", inner)

    def from_db(klass: type[models.Model], db: str, *args: Any, **kwargs: Any) -> Any:
        if own is not None:
            new = own.__get__(None, klass)(db, *args, **kwargs)
        else:
            new = super(cls, klass).from_db(db, *args, **kwargs)  # type: ignore[misc]
        tracker = registry.route(klass)
        if tracker is not None and not is_parent_route(tracker, klass) and keeps_loaded(db):
            remember_loaded(tracker, new, db)
        return new

    return classmethod(functools.wraps(function)(from_db))


def _sync_loaders(routes: Routes) -> None:
    wanted = {cls for cls, tracker in routes.items() if not is_parent_route(tracker, cls)}
    for cls in set(_loaders) - wanted:
        own = _loaders.pop(cls)
        if own is None:
            del cls.from_db
        else:
            cls.from_db = own  # type: ignore[method-assign]
    for cls in wanted - set(_loaders):
        _loaders[cls] = cls.__dict__.get("from_db")
        cls.from_db = _loading_from_db(cls)  # type: ignore[method-assign]


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


# -- Collector.delete and DeleteQuery.do_query -------------------------------------------
# Why: every delete (``Model.delete()``, ``QuerySet.delete()``, cascades) ends
# in ``Collector.delete()``, with the plan of what goes; a ``post_delete``
# receiver instead would switch off Django's fast delete and change its
# statements (see ``tracking/deletes.py``). The plan's reads run before
# Django deletes, the drafts are inserted right after, in one statement, in
# the same transaction. Django's pk-batch ``DELETE`` statements all pass
# through ``DeleteQuery.do_query()``: inside a tracked collector's delete,
# those of a planned model run with ``RETURNING``, so the log holds the rows
# the database removed; every other call is Django's own.
def collector_delete(self: Collector) -> Any:
    original = _originals["collector_delete"]
    if is_disabled() or not deletes.tracks_any(self):
        return original(self)
    # PostgreSQL: the log of a lone row may go in with Django's DELETE
    # (see delete_do_query); the transaction is begun only if it cannot.
    known = deletes.combines(self)
    scope = write_transaction if known is None else deferred_write_transaction
    with scope(self.using) as begin:
        plan = deletes.DeletePlan(self, known, begin)
        with deletes.deleting(plan):
            result = original(self)
        if not plan.done:
            store.write(plan.drafts(), self.using)
    return result


def delete_do_query(self: DeleteQuery, table: str, where: Any, using: str) -> Any:
    plan = deletes.current_plan()
    if plan is not None and self.model is not None:
        self.alias_map = {table: self.alias_map[table]}  # what Django's method does
        self.where = where
        count = plan.delete(self, self.get_compiler(using))
        if count is not None:
            return count
    return _originals["delete_do_query"](self, table, where, using)


# -- SQLInsertCompiler.execute_sql ----------------------------------------------------------
# Why: with ``ignore_conflicts=True`` Django asks the database for nothing
# back, so neither it nor we could tell which rows were inserted (an int key
# is never set; a preset key is set whether or not its row went in). Inside
# a tracked ``bulk_create(ignore_conflicts=True)`` its ``INSERT`` gets a
# ``RETURNING`` clause (see ``tracking/bulk.py``); every other insert is
# Django's own.
#
# Also why: no hook lets a statement of Django's carry a second one. The
# ``INSERT`` of a tracked create on PostgreSQL is sent with its log, as one
# statement (see ``tracking/saves.py``).
def insert_execute_sql(self: SQLInsertCompiler, returning_fields: Any = None) -> Any:
    frame = saves.inserting_frame(self)
    if frame is not None:
        return saves.insert(frame, self, _originals["insert_execute_sql"], returning_fields)
    rows = bulk.insert_returning(self, returning_fields)
    if rows is not None:
        return rows
    return _originals["insert_execute_sql"](self, returning_fields)


# -- the related managers' _add_items ----------------------------------------------------------
# Why: ``add()`` reads which links are missing before it writes, inside its
# own transaction, once any ``m2m_changed`` receiver listens (without one it
# writes first: ``INSERT ... ON CONFLICT DO NOTHING``). On SQLite a
# transaction that read first cannot wait for a concurrent writer: it fails
# at once ("database is locked") where the untracked ``add()`` waits. No
# signal comes before that read, so the related-manager classes of tracked
# many-to-many fields (both sides) claim SQLite's write lock first (nothing
# happens on other databases).
_managers: dict[type, Callable[..., Any]] = {}


def _claiming_add_items(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def _add_items(self: Any, source: str, target: str, *objs: Any, **kwargs: Any) -> Any:
        if objs and not is_disabled():
            db = kwargs.get("using") or router.db_for_write(self.through, instance=self.instance)
            claim_write_lock(self.through, db)
        return original(self, source, target, *objs, **kwargs)

    return _add_items


def _manager_classes(routes: Routes) -> set[type]:
    classes: set[type] = set()
    for tracker in set(routes.values()):
        for field in tracker.m2m:
            descriptors = [getattr(field.model, field.name, None)]
            accessor = field.remote_field.get_accessor_name()
            if accessor:
                descriptors.append(getattr(field.remote_field.model, accessor, None))
            classes.update(d.related_manager_cls for d in descriptors if d is not None)
    return classes


def _sync_managers(routes: Routes) -> None:
    wanted = _manager_classes(routes)
    for cls in set(_managers) - wanted:
        cls._add_items = _managers.pop(cls)  # type: ignore[attr-defined]
    for cls in wanted - set(_managers):
        _managers[cls] = cls._add_items  # type: ignore[attr-defined]
        cls._add_items = _claiming_add_items(_managers[cls])  # type: ignore[attr-defined]


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
    if "do_update" not in _originals:
        _originals["do_update"] = models.Model._do_update
        functools.update_wrapper(do_update, models.Model._do_update)
        models.Model._do_update = do_update  # type: ignore[method-assign]
    if "collector_delete" not in _originals:
        _originals["collector_delete"] = Collector.delete
        functools.update_wrapper(collector_delete, Collector.delete)
        Collector.delete = collector_delete  # type: ignore[method-assign]
    if "insert_execute_sql" not in _originals:
        _originals["insert_execute_sql"] = SQLInsertCompiler.execute_sql
        functools.update_wrapper(insert_execute_sql, SQLInsertCompiler.execute_sql)
        SQLInsertCompiler.execute_sql = insert_execute_sql  # type: ignore[method-assign]
    if "delete_do_query" not in _originals:
        _originals["delete_do_query"] = DeleteQuery.do_query
        functools.update_wrapper(delete_do_query, DeleteQuery.do_query)
        DeleteQuery.do_query = delete_do_query  # type: ignore[method-assign]


def _uninstall() -> None:
    for name, original in list(_originals.items()):
        if name == "collector_delete":
            Collector.delete = original  # type: ignore[method-assign]
        elif name == "insert_execute_sql":
            SQLInsertCompiler.execute_sql = original  # type: ignore[method-assign]
        elif name == "delete_do_query":
            DeleteQuery.do_query = original  # type: ignore[method-assign]
        elif name == "save_base":
            models.Model.save_base = original  # type: ignore[method-assign]
        elif name == "do_update":
            models.Model._do_update = original  # type: ignore[method-assign]
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
    _sync_managers(routes)
    _sync_loaders(routes)
