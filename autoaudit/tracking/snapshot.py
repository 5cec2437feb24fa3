"""What one save knows: its frame, the old values read before it, and what
changed after it.

The ``save_base`` patch opens a :class:`SaveFrame` for every save of a
tracked model (:func:`saving`): a stack in a ``ContextVar``, so nested saves
(a ``post_save`` receiver that saves again) each keep their own, nothing is
left on the instance, and the frame is gone when the save ends, also when it
fails. The ``pre_save`` receiver fills the frame's snapshot with
:func:`before_save`; the ``post_save`` receiver takes it.

Old values are read with a clean primary-key query (:mod:`.rows`), locked
where the backend can lock, so the row cannot change between this read and
the write and concurrent saves log a true chain of old -> new values (and
MySQL's REPEATABLE READ snapshot cannot hand us a stale row). Only the
tracked columns loaded on the instance are read, and values assigned as
expressions (``F("stock") - 1``) are computed by the same query, so the log
holds the number the database stores.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import decimal
import marshal
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models.base import ModelState
from django.utils import timezone

from autoaudit.tracking.registry import Tracker
from autoaudit.tracking.rows import (
    clean_queryset,
    in_own_read,
    lock,
    lock_keys,
    read_committed,
    read_row,
)
from autoaudit.values.diff import json_differs
from autoaudit.values.keys import pk_fields, pk_is_set

_EXPR_PREFIX = "_autoaudit_expr_"


# -- the frame of one save ------------------------------------------------------------
class Snapshot:
    """Old values of one instance, read before its save."""

    __slots__ = ("computed", "fields", "values")

    def __init__(
        self,
        fields: tuple[models.Field[Any, Any], ...],
        values: Mapping[str, Any],
        computed: Mapping[str, Any],
    ) -> None:
        self.fields = fields
        self.values = values
        self.computed = computed


class SaveFrame:
    """One ``save_base()`` call of a tracked instance."""

    __slots__ = (
        "as_parent",
        "begin",
        "done",
        "force_insert",
        "force_update",
        "instance",
        "missed",
        "snapshot",
        "tracker",
    )

    def __init__(
        self, instance: models.Model, tracker: Tracker, force_insert: Any, force_update: bool
    ) -> None:
        self.instance = instance
        self.tracker = tracker
        #: A save through an unregistered multi-table child, logged as its
        #: tracked ancestor's row: Django saves that row without
        #: ``force_update`` and force-inserts it only when it is named in
        #: ``force_insert=(Parent, ...)``.
        self.as_parent = is_parent_route(tracker, type(instance))
        if self.as_parent:
            named = force_insert if isinstance(force_insert, tuple) else ()
            force_insert = any(isinstance(m, type) and issubclass(tracker.model, m) for m in named)
            force_update = False
        self.force_insert = bool(force_insert)
        self.force_update = force_update
        #: Filled by ``pre_save``: ``None`` for a create (or before it ran).
        self.snapshot: Snapshot | None = None
        #: The fields ``pre_save`` read of a row it did not find.
        self.missed: tuple[models.Field[Any, Any], ...] = ()
        #: Set once ``post_save`` has logged this save.
        self.done = False
        #: For a create whose log goes in with Django's ``INSERT``: begins the
        #: write transaction, where that falls back (see ``saves``).
        self.begin: Callable[[], Any] | None = None


_frames: ContextVar[tuple[SaveFrame, ...]] = ContextVar("autoaudit_save_frames", default=())


@contextlib.contextmanager
def saving(frame: SaveFrame) -> Iterator[SaveFrame]:
    """Make ``frame`` the innermost save of this thread or task while inside."""
    token = _frames.set((*_frames.get(), frame))
    try:
        yield frame
    finally:
        _frames.reset(token)


def frame_of(instance: models.Model) -> SaveFrame | None:
    """The innermost open save of this very instance, if any."""
    for frame in reversed(_frames.get()):
        if frame.instance is instance:
            return frame
    return None


# -- writes through an unregistered multi-table child -----------------------------------
def is_parent_route(tracker: Tracker, model: type[models.Model]) -> bool:
    """Whether writes through ``model`` are logged by an ancestor's tracker:
    ``model`` is a multi-table child that is not registered itself."""
    return tracker.model._meta.concrete_model is not model._meta.concrete_model


def parent_key(instance: models.Model, parent: type[models.Model]) -> Any:
    """The primary key of ``instance``'s row of its multi-table ancestor
    ``parent``: taken along the parent links as Django's ``_save_parents()``
    copies it (``Restaurant(pk=5)`` is ``Place`` 5; a child with a primary
    key of its own keeps its parent's in the parent's key field)."""
    data = instance.__dict__
    synced: dict[str, Any] = {}
    current = type(instance)._meta.concrete_model or type(instance)
    while current is not parent:
        step, link = next(
            (p, link)
            for p, link in current._meta.parents.items()
            if p is parent or parent in p._meta.get_parent_list()
        )
        attname = step._meta.pk.attname
        value = synced.get(attname, data.get(attname))
        if value is None and link is not None:
            value = synced.get(link.attname, data.get(link.attname))
        synced[attname] = value
        current = step
    return synced.get(parent._meta.pk.attname)


def parent_part(tracker: Tracker, instance: models.Model) -> models.Model:
    """What a log of a write of ``instance`` is about: ``instance``, or, for a
    write through an unregistered multi-table child, its row of the tracked
    ancestor, as an instance of that model (made from the child's loaded
    values: no query, no ``__init__`` and no signals, like ``copy.copy()``)."""
    if not is_parent_route(tracker, type(instance)):
        return instance
    model = tracker.model
    part = model.__new__(model)
    part._state = ModelState()
    part._state.db = instance._state.db
    part._state.adding = instance._state.adding
    data = instance.__dict__
    loaded = {f.attname: data[f.attname] for f in model._meta.concrete_fields if f.attname in data}
    part.__dict__.update(loaded)
    part.__dict__[model._meta.pk.attname] = parent_key(instance, model)
    return part


# -- what a row held when it was loaded ----------------------------------------------
#: The key on ``instance._state`` of its load snapshot: ``(db, pk, {attname:
#: value})`` of its tracked fields, as loaded or last saved through autoaudit.
_LOADED = "autoaudit_loaded"
_MISSING = object()


def _kept(value: Any) -> Any:
    """``value`` as the snapshot keeps it: a copy of a JSON value (changed in
    place, it must not change the snapshot with it); :data:`_MISSING` for
    one that cannot be copied (too deep, or holding what cannot be): that
    field is read before its save, as without a snapshot."""
    if not isinstance(value, dict | list):
        return value
    try:
        # marshal copies plain JSON (dicts, lists, str, numbers) exactly,
        # in C, about three times faster than deepcopy(), and refuses the
        # rest (a custom decoder's objects, subclasses): those take deepcopy().
        return marshal.loads(marshal.dumps(value))
    except ValueError:
        pass
    try:
        return copy.deepcopy(value)
    except Exception:  # RecursionError included
        return _MISSING


#: alias -> whether its writes can use a load snapshot (PostgreSQL's
#: one-statement writes are its only readers).
_SNAPSHOT_DATABASES: dict[str, bool] = {}


def keeps_loaded(db: str) -> bool:
    """Whether an instance loaded from ``db`` now gets a load snapshot: only
    on PostgreSQL, whose one-statement updates and deletes read it, and not
    for the rows autoaudit loads for itself (:func:`rows.in_own_read`)."""
    wanted = _SNAPSHOT_DATABASES.get(db)
    if wanted is None:
        wanted = _SNAPSHOT_DATABASES[db] = connections[db].vendor == "postgresql"
    return wanted and not in_own_read()


def remember_loaded(tracker: Tracker, instance: models.Model, db: str) -> None:
    """Keep the tracked values ``instance`` was just loaded with (its model's
    ``from_db``): an update on PostgreSQL then needs no read of the old
    values. The snapshot is only ever a guess: the ``UPDATE`` is guarded by
    it (``saves._guard``), so a stale one costs a read, never a wrong log."""
    data = instance.__dict__
    values = {a: _kept(data[a]) for a, _f in tracker.attnames if a in data}
    if any(v is _MISSING for v in values.values()):
        values = {a: v for a, v in values.items() if v is not _MISSING}
    instance._state.__dict__[_LOADED] = (db, instance.pk, values)


def remember_saved(frame: SaveFrame, using: str, update_fields: Iterable[str] | None) -> None:
    """After a save: the values it wrote become the snapshot (as the log
    gives them, so the next log's old values are this one's new ones)."""
    instance, tracker = frame.instance, frame.tracker
    state, data = instance._state, instance.__dict__
    held = state.__dict__.get(_LOADED)
    wanted = None if update_fields is None else frozenset(update_fields)
    values: dict[str, Any] = {}
    if wanted is not None and held is not None and held[:2] == (using, instance.pk):
        values.update(held[2])
    for attname, f in tracker.attnames:
        if wanted is not None and f.name not in wanted and attname not in wanted:
            continue
        value = data.get(attname, _MISSING)
        if value is not _MISSING and not is_expression(value):
            value = _kept(python_value(f, value))
        if value is _MISSING or is_expression(value):
            values.pop(attname, None)  # deferred, or known only to the database
        else:
            values[attname] = value
    state.__dict__[_LOADED] = (using, instance.pk, values)


def known_values(
    instance: models.Model, alias: str, fields: Iterable[models.Field[Any, Any]]
) -> dict[str, Any] | None:
    """The load snapshot's values of ``fields``, if it holds them all, for
    this row on this database; else ``None``."""
    held = instance._state.__dict__.get(_LOADED)
    if held is None or held[0] != alias or held[1] != instance.pk:
        return None
    values = held[2]
    try:
        return {f.attname: values[f.attname] for f in fields}
    except KeyError:
        return None


# -- before a save ---------------------------------------------------------------------
def is_expression(value: Any) -> bool:
    return hasattr(value, "resolve_expression")


def before_save(
    frame: SaveFrame,
    using: str | None,
    update_fields: Iterable[str] | None,
    raw: bool,
    fresh: bool = False,
) -> Snapshot | None:
    """Old values for an update; ``None`` for a create (no query).

    A save whose ``UPDATE`` is guarded (one statement on PostgreSQL: the
    frame has ``begin``) takes them from the load snapshot where it holds
    them, unless ``fresh``: no query either."""
    instance, tracker = frame.instance, frame.tracker
    state = instance._state
    model = tracker.model
    if frame.as_parent:
        pk = parent_key(instance, model)
        if pk is None:
            return None
    elif pk_is_set(instance):
        pk = instance.pk
    else:
        return None
    alias = using or "default"
    if state.adding and not raw and not frame.force_update:
        keys = pk_fields(model)
        defaulted = all(f.has_default() or f.has_db_default() for f in keys)
        if not defaulted:
            # A primary key given by the caller: it may be one another
            # transaction is writing at this moment (PostgreSQL; see read()).
            lock_keys(model, [pk], alias)
        # Django inserts without trying an UPDATE first in these cases.
        if frame.force_insert or defaulted:
            return None
    data = instance.__dict__
    wanted = None if update_fields is None else frozenset(update_fields)
    fields = tuple(
        f
        for f in tracker.fields
        if f.attname in data and (wanted is None or f.name in wanted or f.attname in wanted)
    )
    if not fields:
        return Snapshot((), {}, {}) if not state.adding else None
    connection = connections[alias]
    for_update = not connection.get_autocommit()  # inside the write's transaction
    attnames = [f.attname for f in fields]
    expressions = {
        f"{_EXPR_PREFIX}{f.attname}": data[f.attname]
        for f in fields
        if is_expression(data[f.attname])
    }

    if not expressions and not fresh and frame.begin is not None and not state.adding:
        loaded = known_values(instance, alias, fields)
        if loaded is not None:
            return Snapshot(fields, loaded, {})

    def read() -> Snapshot | None:
        if not expressions:
            row = read_row(model, pk, attnames, for_update, alias)
            return None if row is None else Snapshot(fields, row, {})
        queryset = clean_queryset(model, alias).filter(pk=pk).annotate(**expressions)
        if for_update:
            queryset = lock(queryset)
        rows = list(queryset.values(*attnames, *expressions)[:1])
        if not rows:
            return None  # an explicit pk that does not exist yet: a create
        found = rows[0]
        computed = {name[len(_EXPR_PREFIX) :]: found.pop(name) for name in expressions}
        return Snapshot(fields, found, computed)

    snapshot = read()
    if snapshot is None and not state.adding and lock_keys(model, [pk], alias):
        # An update that found no row: had another transaction just deleted
        # and re-created it, Django's UPDATE would change that row unread.
        # Creates of a given key lock it too: read again once it is ours.
        snapshot = read()
    if snapshot is None:
        frame.missed = fields  # Django tries an UPDATE first: see missed_row()
    return snapshot


def read_again(frame: SaveFrame, alias: str) -> Snapshot | None:
    """The old values of the fields ``frame``'s first read took, read again
    (locked, inside the write transaction begun since)."""
    snap = frame.snapshot
    if snap is None:
        return None
    return before_save(frame, alias, [f.attname for f in snap.fields], raw=False, fresh=True)


def missed_row(frame: SaveFrame, alias: str) -> Snapshot | None:
    """The old values of a row Django's ``UPDATE`` changed although the read
    before it found none: another transaction inserted the key in between
    (MariaDB and MySQL at ``READ COMMITTED`` have no lock for a key without
    a row; PostgreSQL's key lock covers only tracked creates).

    That transaction has committed (the ``UPDATE`` waited for its lock) and
    no one can change the row since (the ``UPDATE`` holds the lock), so its
    committed version, read on a connection of its own
    (:func:`~autoaudit.tracking.rows.read_committed`), is exactly what the
    ``UPDATE`` replaced. Fields saved from expressions are read back on this
    connection. ``None`` if that row is gone too (nothing can remove it:
    only a save that really inserted gets here without ``created``).
    """
    fields, model, instance = frame.missed, frame.tracker.model, frame.instance
    pk = parent_key(instance, model) if frame.as_parent else instance.pk
    attnames = [f.attname for f in fields]
    old = read_committed(model, pk, attnames, alias)
    if old is None:
        return None
    data = instance.__dict__
    computed = [a for a in attnames if a not in data or is_expression(data[a])]
    saved = read_row(model, pk, computed, False, alias) if computed else {}
    return Snapshot(fields, old, saved or {})


def after_save(snap: Snapshot, instance: models.Model) -> dict[str, Any]:
    """The saved values by attname: the instance's. A field saved from an
    expression is what Django left of it: refreshed (Django 6 with ``UPDATE
    ... RETURNING``): that value; deferred (Django 6 without, e.g. MariaDB):
    loaded now, the one read Django itself makes when it is next used; still
    the expression (Django 5.2): the value the old-values read computed."""
    data = instance.__dict__
    new = dict(data)
    for field in snap.fields:
        if field.attname not in data:  # deferred by Django after the save
            new[field.attname] = getattr(instance, field.attname)
    for attname, value in snap.computed.items():
        if attname not in data:
            new[attname] = getattr(instance, attname)  # Django's deferred load
        elif is_expression(data[attname]):
            new[attname] = value
    return new


# -- what changed ---------------------------------------------------------------------
def python_value(field: models.Field[Any, Any], value: Any) -> Any:
    """The value as the database would give it back, for comparison."""
    if value is None:
        return None
    try:
        if isinstance(field, models.ForeignKey):
            if isinstance(value, models.Model):
                value = getattr(value, field.target_field.attname)
            value = field.target_field.to_python(value)
        elif not isinstance(field, models.JSONField):
            value = field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return value
    if isinstance(value, decimal.Decimal) and isinstance(field, models.DecimalField):
        places = field.decimal_places
        if places is not None and value.is_finite():
            with contextlib.suppress(decimal.InvalidOperation):
                value = value.quantize(decimal.Decimal(1).scaleb(-places))
    elif (
        isinstance(value, datetime.datetime) and django_settings.USE_TZ and timezone.is_naive(value)
    ):
        value = timezone.make_aware(value, datetime.UTC)
    return value


def differs(field: models.Field[Any, Any], old: Any, new: Any) -> bool:
    if type(old) is type(new) and not isinstance(old, dict | list) and old == new:
        return False
    if isinstance(old, dict | list) or isinstance(new, dict | list):
        return json_differs(old, new)
    new = python_value(field, new)
    try:
        return bool(old != new)
    except Exception:
        return True


Change = tuple[dict[str, Any], dict[str, Any], list[str]]


def compare(
    fields: Iterable[models.Field[Any, Any]],
    old_row: Mapping[str, Any],
    new_row: Mapping[str, Any],
) -> Change | None:
    """``(old, new, changed)`` by field name for the fields that differ, or
    ``None`` if none does. The rows map attnames to values."""
    old_values: dict[str, Any] = {}
    new_values: dict[str, Any] = {}
    changed: list[str] = []
    for f in fields:
        old = old_row[f.attname]
        new = new_row.get(f.attname)
        if differs(f, old, new):
            changed.append(f.name)
            old_values[f.name] = old
            new_values[f.name] = python_value(f, new)
    return (old_values, new_values, changed) if changed else None


def current_values(
    fields: Iterable[models.Field[Any, Any]], instance: models.Model
) -> dict[str, Any]:
    """Every tracked, loaded field of ``instance`` by name (a create or a delete).

    Deferred columns are not fetched, and a value still holding an
    expression (Django < 6 does not refresh it after save) is not a value.
    """
    data = instance.__dict__
    return {
        f.name: python_value(f, data[f.attname])
        for f in fields
        if f.attname in data and not is_expression(data[f.attname])
    }
