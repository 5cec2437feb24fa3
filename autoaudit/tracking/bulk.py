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

import copy
import logging
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import Any

from django.db import connections, models
from django.db.models.constants import OnConflict

from autoaudit.tracking import store
from autoaudit.tracking.atomic import write_transaction
from autoaudit.tracking.record import LogDraft, assemble, shared_actor
from autoaudit.tracking.registry import Tracker
from autoaudit.tracking.rows import chunks, clean_queryset, lock, locked_rows, read_rows
from autoaudit.tracking.snapshot import compare, current_values, is_expression, parent_part
from autoaudit.values.keys import pk_fields, pk_is_set, stored_pk

logger = logging.getLogger("autoaudit")


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
                    instance=parent_part(tracker, obj),
                    tracker=tracker,
                    old=old,
                    new=new,
                    changed=changed,
                    actor=actor,
                )
            )
    return drafts


class _Phantom(Exception):
    """Django's statement changed more rows than were read and locked."""


#: Attempts of a bulk write that met a phantom row before it logs what it can.
ATTEMPTS = 5


def _phantom_safe(using: str, attempt: Callable[[bool], Any]) -> Any:
    """Run ``attempt`` in the write's transaction, again if it met a phantom.

    A locking read cannot lock a row that does not exist yet: at ``READ
    COMMITTED`` (PostgreSQL; Django's default on MySQL) a row another
    transaction inserts and commits between the read and Django's statement
    (a re-created primary key, a row that starts to match) is changed by the
    statement but was not read. ``attempt(retry)`` compares Django's count
    with the rows it read and raises :class:`_Phantom` while ``retry`` is
    true; in the transaction autoaudit opened that undoes the attempt and
    the next one reads the row. Inside a caller's transaction nothing can
    be undone: the rows without a log are reported (``autoaudit`` logger).
    """
    owned = connections[using].get_autocommit()
    for number in range(1, ATTEMPTS + 1):
        try:
            with write_transaction(using):
                return attempt(owned and number < ATTEMPTS)
        except _Phantom:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _check_phantoms(count: int, read: int, retry: bool, model: type[models.Model]) -> None:
    if count <= read:
        return
    if retry:
        raise _Phantom
    logger.warning(
        "autoaudit: %d %s row(s) changed by a bulk write were inserted by a concurrent "
        "transaction after autoaudit read the rows; they have no log",
        count - read,
        model._meta.label,
    )


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

    def attempt(retry: bool) -> int:
        instances = locked_rows(queryset, using)
        pks = [obj.pk for obj in instances]
        # Django's own statement on the caller's own queryset, unchanged.
        count = original(queryset, **kwargs)
        _check_phantoms(count, len(instances), retry, queryset.model)
        by_attname = {f.attname: kwargs.get(f.name, kwargs.get(f.attname)) for f in fields}
        attnames = [f.attname for f in fields]
        old_rows = {obj.pk: {a: obj.__dict__.get(a) for a in attnames} for obj in instances}
        if any(is_expression(value) for value in by_attname.values()):
            new_rows: dict[Any, Any] = read_rows(queryset.model, pks, attnames, using)
        else:
            new_rows = dict.fromkeys(pks, by_attname)
        store.write(_update_drafts(tracker, instances, fields, old_rows, new_rows), using)
        return count

    result: int = _phantom_safe(using, attempt)
    return result


class _Inserted:
    """The rows ``INSERT ... RETURNING`` reported for one tracked
    ``bulk_create(ignore_conflicts=True)``: exactly those inserted."""

    def __init__(self, model: type[models.Model], using: str) -> None:
        self.model = model._meta.concrete_model or model
        self.using = using
        self.rows: list[models.Model] = []


_inserting: ContextVar[_Inserted | None] = ContextVar("autoaudit_inserting", default=None)


def insert_returning(compiler: Any, returning_fields: Any) -> list[Any] | None:
    """Called for every ``SQLInsertCompiler.execute_sql()`` while anything is
    tracked: inside a tracked ``bulk_create(ignore_conflicts=True)``, run
    Django's ``INSERT`` with a ``RETURNING`` of every column and keep the
    rows it inserted; ``None`` (Django runs it as it is) for anything else.
    Django asks for nothing back here and discards the result."""
    capture = _inserting.get()
    query = compiler.query
    if (
        capture is None
        or returning_fields
        or query.on_conflict != OnConflict.IGNORE
        or query.model._meta.concrete_model is not capture.model
    ):
        return None
    meta = capture.model._meta
    fields = list(meta.concrete_fields)
    compiler.returning_fields = fields
    statements = compiler.as_sql()
    if len(statements) != 1:  # pragma: no cover - every backend with RETURNING
        compiler.returning_fields = None
        return None
    with compiler.connection.cursor() as cursor:
        cursor.execute(*statements[0])
        rows = cursor.fetchall()
    converters = compiler.get_converters([f.get_col(meta.db_table) for f in fields])
    if converters:
        rows = list(compiler.apply_converters(rows, converters))
    attnames = [f.attname for f in fields]
    capture.rows.extend(capture.model.from_db(capture.using, attnames, row) for row in rows)
    return []


def _conflict_targets(
    model: type[models.Model], unique_fields: Sequence[str] | None
) -> list[tuple[str, ...]]:
    """The column sets a conflicting row can share with an object: the
    ``unique_fields`` given, or (MySQL, where any unique key conflicts)
    the primary key and every unique field and constraint."""
    meta = model._meta

    def attnames(names: Iterable[str]) -> tuple[str, ...]:
        return tuple(
            getattr(meta.pk if n == "pk" else meta.get_field(n), "attname", n) for n in names
        )

    if unique_fields:
        return [attnames(unique_fields)]
    targets = [tuple(f.attname for f in pk_fields(model))]
    targets += [(f.attname,) for f in meta.concrete_fields if f.unique and not f.primary_key]
    targets += [attnames(names) for names in meta.unique_together]
    targets += [
        attnames(c.fields)
        for c in meta.constraints
        if isinstance(c, models.UniqueConstraint) and c.fields and c.condition is None
    ]
    return targets


def _existing(
    model: type[models.Model], objs: list[Any], unique_fields: Sequence[str] | None, using: str
) -> tuple[dict[int, models.Model], list[models.Model]]:
    """``{position in objs: the row it conflicts with}`` and every row read,
    locked, before ``bulk_create(update_conflicts=True)`` (one query per
    batch). Values are compared as the fields prepare them ("7" is 7)."""
    targets = _conflict_targets(model, unique_fields)
    keyed: list[tuple[int, tuple[str, ...], tuple[Any, ...]]] = []
    for position, obj in enumerate(objs):
        for target in targets:
            values = tuple(obj.__dict__.get(a) for a in target)
            if all(v is not None for v in values):  # NULL conflicts with nothing
                keyed.append((position, target, values))
    found: dict[int, models.Model] = {}
    every: list[models.Model] = []
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}

    def same(a: str, row_value: Any, value: Any) -> bool:
        field = by_attname.get(a)
        try:
            return bool(row_value == value or (field and field.get_prep_value(value) == row_value))
        except Exception:
            return False

    for chunk in chunks(keyed):
        condition = models.Q()
        for _position, target, values in chunk:
            condition |= models.Q(**dict(zip(target, values, strict=True)))
        rows = list(lock(clean_queryset(model, using).filter(condition)))
        every += rows
        for position, target, values in chunk:
            for row in rows:
                if position not in found and all(
                    same(a, row.__dict__.get(a), v) for a, v in zip(target, values, strict=True)
                ):
                    found[position] = row
    return found, every


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
    """``queryset.bulk_create(objs, ...)`` with one log per row it wrote.

    Plain: a create log per object. ``ignore_conflicts=True``: a create log
    per row the database really inserted, from ``INSERT ... RETURNING``
    (PostgreSQL, SQLite, MariaDB; on MySQL, which cannot say, only objects
    with a primary key that was not taken before). ``update_conflicts=True``:
    the rows it would conflict with are read, locked, first; an object that
    met one is an update log of its ``update_fields`` (which row it met is
    the key the database handed back, where it does: PostgreSQL, SQLite,
    MariaDB), any other a create.
    """
    objs = list(objs)
    using = _write_db(queryset)
    given = {**dict(zip(_BULK_CREATE_ARGS, args, strict=False)), **kwargs}
    model = queryset.model
    ignore, upsert = given.get("ignore_conflicts"), given.get("update_conflicts")
    with write_transaction(using):
        existing: dict[int, models.Model] = {}
        met: list[models.Model] = []
        capture = None
        if upsert and objs:
            existing, met = _existing(model, objs, given.get("unique_fields"), using)
        elif ignore and objs:
            if connections[using].features.can_return_rows_from_bulk_insert:
                capture = _Inserted(model, using)
            else:  # MySQL: the objects whose key was free
                taken = read_rows(model, [o.pk for o in objs if pk_is_set(o)], [], using)
                existing = {i: o for i, o in enumerate(objs) if pk_is_set(o) and o.pk in taken}
        token = _inserting.set(capture)
        try:
            created = original(queryset, objs, *args, **kwargs)
        finally:
            _inserting.reset(token)
        if met and all(pk_is_set(obj) for obj in objs):
            # The database handed every key back: an object met the row
            # whose key it got (the database's idea of equal, a collation's
            # too, decides; not Python's).
            rows = {stored_pk(model, row.pk): row for row in met}
            found = ((i, rows.get(stored_pk(model, obj.pk))) for i, obj in enumerate(objs))
            existing = {i: row for i, row in found if row is not None}
        actor = shared_actor(tracker)
        drafts = []
        if capture is not None:
            inserted: Iterable[Any] = capture.rows
        else:
            # An upsert's object that met no row was inserted: without
            # RETURNING (MySQL) its key is unknown, as in a plain bulk_create().
            inserted = [
                obj
                for i, obj in enumerate(objs)
                if i not in existing and (not ignore or pk_is_set(obj))
            ]
        for obj in inserted:
            new = current_values(tracker.fields, obj)
            drafts.append(assemble("create", instance=obj, tracker=tracker, new=new, actor=actor))
        if upsert:
            drafts += _upsert_drafts(tracker, objs, existing, given.get("update_fields") or ())
        store.write(drafts, using)
    return created


def _upsert_drafts(
    tracker: Tracker, objs: list[Any], existing: dict[int, models.Model], names: Sequence[str]
) -> list[LogDraft]:
    """Update drafts of the objects ``update_conflicts`` turned into updates."""
    fields = _fields_named(tracker, names)
    attnames = [f.attname for f in fields]
    rows, old_rows, new_rows = [], {}, {}
    for position, row in existing.items():
        after = copy.copy(row)
        after.__dict__.update({a: objs[position].__dict__.get(a) for a in attnames})
        rows.append(after)
        old_rows[row.pk] = {a: row.__dict__.get(a) for a in attnames}
        new_rows[row.pk] = after.__dict__
    return _update_drafts(tracker, rows, fields, old_rows, new_rows)


def _batches(
    queryset: models.QuerySet[Any], objs: list[Any], names: Sequence[str], given: dict[str, Any]
) -> list[list[Any]]:
    """The batches Django's ``bulk_update()`` will send (its own formula)."""
    meta = queryset.model._meta
    connection = connections[queryset.db]
    try:
        fields = [meta.get_field(name) for name in names]
        largest = connection.ops.bulk_batch_size([meta.pk, meta.pk, *fields], objs)
    except Exception:  # Django raises its own error for bad names next
        largest = len(objs)
    size = given.get("batch_size")
    size = min(size, largest) if size else largest
    size = max(int(size or 1), 1)
    return [objs[i : i + size] for i in range(0, len(objs), size)]


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
    batches = _batches(
        queryset, objs, names, {**dict(zip(("batch_size",), args, strict=False)), **kwargs}
    )
    # An object given twice: each batch's CASE applies its first one, and a
    # later batch overwrites an earlier one.
    final = {obj.pk: obj for batch in batches for obj in reversed(batch)}
    first = [final[pk] for pk in dict.fromkeys(obj.pk for obj in objs)]  # in the caller's order
    pks = [obj.pk for obj in first]

    def attempt(retry: bool) -> Any:
        old_rows = read_rows(model, pks, attnames, using, for_update=True)
        result = original(queryset, objs, names, *args, **kwargs)
        if isinstance(result, int) and len(old_rows) < len(pks):
            # Only a key missing when read can be a phantom (a re-created
            # row). Django counts a row once per batch that holds it.
            read = sum(len({o.pk for o in batch} & set(old_rows)) for batch in batches)
            _check_phantoms(result, read, retry, model)
        if any(is_expression(obj.__dict__.get(a)) for obj in first for a in attnames):
            new_rows: dict[Any, Any] = read_rows(model, pks, attnames, using)
        else:
            new_rows = {obj.pk: obj.__dict__ for obj in first}
        store.write(_update_drafts(tracker, first, fields, old_rows, new_rows), using)
        return result

    return _phantom_safe(using, attempt)
