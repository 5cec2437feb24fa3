"""Tracking of ``QuerySet.update()``, ``bulk_create()`` and ``bulk_update()``,
and one log ``INSERT`` per ``QuerySet.delete()``.

Django sends no signals for these, so while any model is tracked the three
``QuerySet`` methods are wrapped (custom managers and querysets inherit the
wrapper). For an untracked model, or a model registered with ``bulk=False``,
the wrapper is one dictionary lookup and a call to Django's method.

For a tracked model each call costs a constant number of extra queries:
one locking read of the affected rows' old values, one ``executemany`` insert
of the logs (the driver sends the rows in batches), and, only when values are expressions such as
``F("stock") - 1``, one read of the new values. ``QuerySet.update()`` is
applied to exactly the rows that were read (in primary-key batches), so a row
inserted concurrently can never be changed without its log.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connections, models
from django.db.models.deletion import Collector
from django.db.models.query import ModelIterable, QuerySet

from autoaudit import changes, statements, writer
from autoaudit.actors import resolve_actor
from autoaudit.conf import get_settings
from autoaudit.context import _disabled
from autoaudit.receivers import collecting_deletes, write_transaction
from autoaudit.registry import Tracker, registry

#: Primary keys per ``UPDATE ... WHERE pk IN (...)`` and per log insert batch.
BATCH_SIZE = 900

_inside: ContextVar[bool] = ContextVar("autoaudit_inside_bulk", default=False)
_originals: dict[str, Callable[..., Any]] = {}


def _tracker(queryset: QuerySet[Any]) -> Tracker | None:
    if _disabled.get() or _inside.get():
        return None
    tracker = registry.tracker_for(queryset.model)
    if tracker is None or not tracker.options.bulk:
        return None
    return tracker


@contextmanager
def _scope(using: str) -> Iterator[None]:
    """One transaction (if none is open) during which nested calls pass through."""
    token = _inside.set(True)
    try:
        connection = connections[using]
        if connection.get_autocommit():
            with write_transaction(connection, using):
                yield
        else:
            yield
    finally:
        _inside.reset(token)


def _chunks(items: Sequence[Any], size: int = BATCH_SIZE) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _locked(queryset: QuerySet[Any]) -> QuerySet[Any]:
    connection = connections[queryset.db]
    if not connection.features.has_select_for_update:
        return queryset
    if connection.features.has_select_for_update_of:
        return queryset.select_for_update(of=("self",))
    return queryset.select_for_update()


def _insert(logs: list[Any], using: str) -> None:
    if not logs:
        return
    if get_settings().ON_ERROR == "raise":
        if len(logs) == 1:
            statements.insert_log(logs[0], using)  # a plain INSERT beats COPY for one row
        else:
            statements.insert_logs(logs, using)
        return
    for log in logs:  # one savepoint each, so one bad row costs only its log
        writer.insert(log, using)


def _actor(tracker: Tracker) -> dict[str, Any] | None:
    # Resolved once per call; models with guest_fields resolve per row.
    return None if tracker.options.guest_fields else resolve_actor()


def _fields_named(tracker: Tracker, names: Iterable[str]) -> list[models.Field[Any, Any]]:
    wanted = set(names)
    return [f for f in tracker.fields if f.name in wanted or f.attname in wanted]


def _rows_of(queryset: QuerySet[Any], base: QuerySet[Any]) -> QuerySet[Any]:
    """Whole instances (for ``str()`` and old values) of the rows ``queryset``
    would update, selected with the caller's own filter where possible."""
    if queryset._iterable_class is ModelIterable and not queryset.query.combinator:
        plain = queryset.order_by()
        plain.query.select_related = False
        return plain.defer(None)
    # values(), values_list() and friends: the same rows, as instances. A
    # subquery, since a self-join the planner misjudges can be very slow.
    return base.filter(pk__in=queryset.order_by().values("pk"))


# -- QuerySet.update ----------------------------------------------------------------
def update(self: QuerySet[Any], **kwargs: Any) -> Any:
    original = _originals["update"]
    tracker = _tracker(self)
    if tracker is None or "update" not in tracker.actions:
        return original(self, **kwargs)
    fields = _fields_named(tracker, kwargs)
    if not fields or self.query.is_sliced:
        return original(self, **kwargs)  # Django raises for a sliced queryset
    using = self.db
    model = self.model
    with _scope(using):
        base = model._base_manager.using(using)
        instances = list(_locked(_rows_of(self, base)))
        pks = [obj.pk for obj in instances]
        count = 0
        for chunk in _chunks(pks):
            count += original(base.filter(pk__in=chunk), **kwargs)
        by_attname = {f.attname: kwargs.get(f.name, kwargs.get(f.attname)) for f in fields}
        if any(changes.is_expression(value) for value in by_attname.values()):
            attnames = [f.attname for f in fields]
            new_rows = {
                row[0]: dict(zip(attnames, row[1:], strict=True))
                for chunk in _chunks(pks)
                for row in base.filter(pk__in=chunk).values_list("pk", *attnames)
            }
        else:
            new_rows = dict.fromkeys(pks, by_attname)
        actor = _actor(tracker)
        logs = []
        for obj in instances:
            old_row = {f.attname: obj.__dict__.get(f.attname) for f in fields}
            log = changes.update_log(tracker, obj, fields, old_row, new_rows.get(obj.pk, {}), actor)
            if log is not None:
                logs.append(log)
        _insert(logs, using)
    return count


# -- bulk_create ------------------------------------------------------------------------
def bulk_create(self: QuerySet[Any], objs: Iterable[Any], *args: Any, **kwargs: Any) -> Any:
    original = _originals["bulk_create"]
    tracker = _tracker(self)
    if tracker is None or "create" not in tracker.actions:
        return original(self, objs, *args, **kwargs)
    objs = list(objs)
    using = self.db
    with _scope(using):
        created = original(self, objs, *args, **kwargs)
        conflicts = kwargs.get("ignore_conflicts") or kwargs.get("update_conflicts")
        actor = _actor(tracker)
        # With conflict handling, rows without a primary key back were not
        # inserted (or the database cannot say): they get no create log.
        logs = [
            changes.create_log(tracker, obj, actor)
            for obj in objs
            if not conflicts or obj.pk is not None
        ]
        _insert(logs, using)
    return created


# -- bulk_update ------------------------------------------------------------------------
def bulk_update(
    self: QuerySet[Any], objs: Iterable[Any], fields: Sequence[str], *args: Any, **kwargs: Any
) -> Any:
    original = _originals["bulk_update"]
    tracker = _tracker(self)
    if tracker is None or "update" not in tracker.actions:
        return original(self, objs, fields, *args, **kwargs)
    objs = list(objs)
    tracked = _fields_named(tracker, fields)
    if not tracked or not objs:
        return original(self, objs, fields, *args, **kwargs)
    using = self.db
    attnames = [f.attname for f in tracked]
    base = self.model._base_manager.using(using)
    pks = [obj.pk for obj in objs]
    with _scope(using):
        old_rows = {
            row[0]: dict(zip(attnames, row[1:], strict=True))
            for chunk in _chunks(pks)
            for row in _locked(base.filter(pk__in=chunk)).values_list("pk", *attnames)
        }
        result = original(self, objs, fields, *args, **kwargs)
        if any(changes.is_expression(obj.__dict__.get(a)) for obj in objs for a in attnames):
            new_rows = {
                row[0]: dict(zip(attnames, row[1:], strict=True))
                for chunk in _chunks(pks)
                for row in base.filter(pk__in=chunk).values_list("pk", *attnames)
            }
        else:
            new_rows = {obj.pk: obj.__dict__ for obj in objs}
        actor = _actor(tracker)
        logs = []
        for obj in objs:
            old_row = old_rows.get(obj.pk)
            if old_row is None:
                continue  # not in the database: Django updated nothing
            log = changes.update_log(tracker, obj, tracked, old_row, new_rows[obj.pk], actor)
            if log is not None:
                logs.append(log)
        _insert(logs, using)
    return result


# -- QuerySet.delete(), cascades and Model.delete() ---------------------------------------
def collector_delete(self: Collector) -> Any:
    """Django's ``Collector.delete()``, with the delete logs of its tracked
    objects inserted together at its end, inside its transaction.

    ``post_delete`` still builds each object's log as it is deleted; only the
    ``INSERT`` waits, so ``QuerySet.delete()`` of any number of tracked
    objects (cascades included) costs one extra statement, not one per object.
    """
    original = _originals["collector_delete"]
    if _disabled.get() or not any(registry.tracker_for(model) for model in self.data):
        return original(self)
    using = self.using
    connection = connections[using]
    with (
        write_transaction(connection, using)
        if connection.get_autocommit()
        else contextlib.nullcontext()
    ):
        with collecting_deletes(using) as pending:
            result = original(self)
        _insert(pending.logs, using)
    return result


_WRAPPERS: dict[str, Callable[..., Any]] = {
    "update": update,
    "bulk_create": bulk_create,
    "bulk_update": bulk_update,
}


def install() -> None:
    """Wrap the three ``QuerySet`` methods and ``Collector.delete`` (idempotent)."""
    for name, wrapper in _WRAPPERS.items():
        if name not in _originals:
            _originals[name] = getattr(QuerySet, name)
            wrapper.__doc__ = _originals[name].__doc__
            setattr(QuerySet, name, wrapper)
    if "collector_delete" not in _originals:
        _originals["collector_delete"] = Collector.delete
        collector_delete.__doc__ = Collector.delete.__doc__
        Collector.delete = collector_delete  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore Django's methods (when no model is tracked any more)."""
    for name, original in list(_originals.items()):
        if name == "collector_delete":
            Collector.delete = original  # type: ignore[method-assign]
        else:
            setattr(QuerySet, name, original)
        del _originals[name]
