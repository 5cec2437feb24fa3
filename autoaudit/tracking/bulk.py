"""Logs of ``QuerySet.update()``, ``bulk_create()`` and ``bulk_update()``.

Django sends no signals for these; :mod:`autoaudit.tracking.patches` routes
calls on tracked models here with Django's own method as ``original``. Each
function leaves the caller's queryset as it is: Django's method runs on it,
with its filters, annotations, aliases, ordering and database, and sends
exactly the statements it would send untracked, so Django validates and
raises exactly as it would without us.

Each call costs a constant number of extra queries: one locking read of the
affected rows' old values, one insert of the logs and, only when values are
expressions such as ``F("stock") - 1``, one read of the new values. All of it
runs in the change's transaction (one is opened in autocommit mode).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import models

from autoaudit.tracking import store
from autoaudit.tracking.atomic import write_transaction
from autoaudit.tracking.record import LogDraft, assemble, shared_actor
from autoaudit.tracking.registry import Tracker
from autoaudit.tracking.rows import locked_rows, read_rows
from autoaudit.tracking.snapshot import compare, current_values, is_expression
from autoaudit.values.keys import pk_is_set


def _write_db(queryset: models.QuerySet[Any]) -> str:
    """The database Django's method will write to: it marks the queryset for
    writing before it asks for ``.db``, so the write router decides (asking
    first would route through ``db_for_read``)."""
    queryset._for_write = True  # type: ignore[attr-defined]
    return queryset.db


def _fields_named(tracker: Tracker, names: Iterable[str]) -> list[models.Field[Any, Any]]:
    wanted = set(names)
    return [f for f in tracker.fields if f.name in wanted or f.attname in wanted]


def _update_drafts(
    tracker: Tracker,
    instances: Iterable[models.Model],
    fields: Sequence[models.Field[Any, Any]],
    old_rows: dict[Any, dict[str, Any]],
    new_rows: dict[Any, Any],
) -> list[LogDraft]:
    actor = shared_actor(tracker)
    drafts = []
    for obj in instances:
        old_row = old_rows.get(obj.pk)
        if old_row is None:
            continue  # not in the database: Django updated nothing
        change = compare(fields, old_row, new_rows.get(obj.pk, {}))
        if change is not None:
            old, new, changed = change
            drafts.append(
                assemble(
                    "update",
                    instance=obj,
                    tracker=tracker,
                    old=old,
                    new=new,
                    changed=changed,
                    actor=actor,
                )
            )
    return drafts


def update(
    tracker: Tracker,
    queryset: models.QuerySet[Any],
    original: Callable[..., int],
    kwargs: dict[str, Any],
) -> int:
    """``queryset.update(**kwargs)`` with one update log per changed row."""
    fields = _fields_named(tracker, kwargs)
    query = queryset.query
    if not fields or query.is_sliced or query.combinator:
        return original(queryset, **kwargs)  # nothing tracked, or Django raises
    using = _write_db(queryset)
    with write_transaction(using):
        instances = locked_rows(queryset, using)
        pks = [obj.pk for obj in instances]
        # Django's own statement on the caller's own queryset, unchanged. The
        # rows read stay locked until the commit; a row inserted meanwhile
        # (READ COMMITTED) and matched by the UPDATE gets no log.
        count = original(queryset, **kwargs)
        by_attname = {f.attname: kwargs.get(f.name, kwargs.get(f.attname)) for f in fields}
        attnames = [f.attname for f in fields]
        old_rows = {obj.pk: {a: obj.__dict__.get(a) for a in attnames} for obj in instances}
        if any(is_expression(value) for value in by_attname.values()):
            new_rows: dict[Any, Any] = read_rows(queryset.model, pks, attnames, using)
        else:
            new_rows = dict.fromkeys(pks, by_attname)
        store.write(_update_drafts(tracker, instances, fields, old_rows, new_rows), using)
    return count


#: ``bulk_create()``'s arguments after ``objs``, as they may come positionally.
_BULK_CREATE_ARGS = (
    "batch_size",
    "ignore_conflicts",
    "update_conflicts",
    "update_fields",
    "unique_fields",
)


def bulk_create(
    tracker: Tracker,
    queryset: models.QuerySet[Any],
    original: Callable[..., Any],
    objs: Iterable[Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """``queryset.bulk_create(objs, ...)`` with one create log per row inserted."""
    objs = list(objs)
    using = _write_db(queryset)
    given = {**dict(zip(_BULK_CREATE_ARGS, args, strict=False)), **kwargs}
    with write_transaction(using):
        created = original(queryset, objs, *args, **kwargs)
        conflicts = given.get("ignore_conflicts") or given.get("update_conflicts")
        actor = shared_actor(tracker)
        # With conflict handling, rows without a primary key back were not
        # inserted (or the database cannot say): they get no create log.
        drafts = [
            assemble(
                "create",
                instance=obj,
                tracker=tracker,
                new=current_values(tracker.fields, obj),
                actor=actor,
            )
            for obj in objs
            if not conflicts or pk_is_set(obj)
        ]
        store.write(drafts, using)
    return created


def bulk_update(
    tracker: Tracker,
    queryset: models.QuerySet[Any],
    original: Callable[..., Any],
    objs: Iterable[Any],
    names: Sequence[str],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """``queryset.bulk_update(objs, fields, ...)`` with one log per changed row."""
    objs = list(objs)
    fields = _fields_named(tracker, names)
    if not fields or not objs or not all(pk_is_set(obj) for obj in objs):
        return original(queryset, objs, names, *args, **kwargs)  # nothing to log, or Django raises
    using = _write_db(queryset)
    model = queryset.model
    attnames = [f.attname for f in fields]
    # An object given twice: Django's CASE applies the first one.
    first = list({obj.pk: obj for obj in reversed(objs)}.values())[::-1]
    pks = [obj.pk for obj in first]
    with write_transaction(using):
        old_rows = read_rows(model, pks, attnames, using, for_update=True)
        result = original(queryset, objs, names, *args, **kwargs)
        if any(is_expression(obj.__dict__.get(a)) for obj in first for a in attnames):
            new_rows: dict[Any, Any] = read_rows(model, pks, attnames, using)
        else:
            new_rows = {obj.pk: obj.__dict__ for obj in first}
        store.write(_update_drafts(tracker, first, fields, old_rows, new_rows), using)
    return result
