"""Old values before a write, and what changed after it.

Old values are read with a *clean* primary-key query: a plain
``QuerySet`` of the concrete model (no manager, so no manager annotations or
filters), no ordering (so no ``Meta.ordering`` joins), no ``select_related``.
Where the backend can lock it is a locking read, so the row cannot change
between this read and the write and concurrent saves log a true chain of
old -> new values (and MySQL's REPEATABLE READ snapshot cannot hand us a
stale row). Only the tracked columns loaded on the instance are read, and
values assigned as expressions (``F("stock") - 1``) are computed by the same
query, so the log holds the number the database stores.

Building a query through the ORM costs more Python time than the database
takes to run it, so the single-row read is compiled once per model, column
set and database and then executed with fresh parameters; values still pass
through the fields' own ``get_db_prep_value`` and the compiler's converters.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models.query import ModelIterable
from django.utils import timezone

from autoaudit.tracking.registry import Tracker
from autoaudit.values.diff import json_differs

#: Primary keys per ``pk IN (...)`` batch of the bulk paths.
BATCH_SIZE = 900
_EXPR_PREFIX = "_autoaudit_expr_"
#: Set on an instance by the ``save_base`` patch for the ``pre_save``
#: receiver (popped there): Django does not pass ``force_insert`` to it.
FORCE_INSERT = "_autoaudit_force_insert"

_select_sql: dict[tuple[Any, ...], tuple[str, dict[int, Any]] | None] = {}


def clear() -> None:
    """Forget compiled statements (tests that swap databases call this)."""
    _select_sql.clear()


# -- primary keys ---------------------------------------------------------------
def pk_fields(model: type[models.Model]) -> tuple[models.Field[Any, Any], ...]:
    """The fields of the primary key: one, or several for a composite key."""
    return tuple(model._meta.pk_fields)


def pk_is_set(instance: models.Model) -> bool:
    """Whether every part of the instance's primary key has a value."""
    return all(instance.__dict__.get(f.attname) is not None for f in pk_fields(type(instance)))


def stored_pk(model: type[models.Model], pk: Any) -> Any:
    """The key as the database holds it (``get_prep_value`` of each part), so
    that a key type whose ``str()`` is unusable still names its row in
    ``entity_pk``; the key itself where the field cannot prepare it."""
    keys = pk_fields(model)
    parts = pk if len(keys) > 1 and isinstance(pk, tuple) else (pk,)
    if len(parts) != len(keys):
        return pk
    try:
        prepared = tuple(f.get_prep_value(v) for f, v in zip(keys, parts, strict=True))
    except Exception:
        return pk
    return prepared if len(keys) > 1 else prepared[0]


def chunks(items: Sequence[Any], size: int = BATCH_SIZE) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- queries ------------------------------------------------------------------------
def clean_queryset(model: type[models.Model], using: str) -> models.QuerySet[Any]:
    """A plain queryset of ``model``'s rows: no manager, ordering or joins of ours."""
    concrete = model._meta.concrete_model or model
    return models.QuerySet(model=concrete, using=using).order_by()


def _lock_paths(model: type[models.Model]) -> tuple[str, ...]:
    """``select_for_update(of=...)``: the model's own table and its MTI parents'."""
    paths = ["self"]

    def walk(current: type[models.Model], prefix: str) -> None:
        for parent, link in current._meta.parents.items():
            if link is not None:
                paths.append(prefix + link.name)
                walk(parent, f"{prefix}{link.name}__")

    walk(model._meta.concrete_model or model, "")
    return tuple(paths)


def lock(queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """``queryset`` as a locking read where the backend has one.

    Only the rows of the model's own tables are locked (``of=``), so joins
    the caller's filters need, outer joins included, do not stop it.
    """
    features = connections[queryset.db].features
    if not features.has_select_for_update:
        return queryset
    if features.has_select_for_update_of:
        return queryset.select_for_update(of=_lock_paths(queryset.model))
    return queryset.select_for_update()


def _sentinel(field: models.Field[Any, Any], index: int) -> Any:
    if isinstance(field, models.ForeignKey):
        return _sentinel(field.target_field, index)
    if isinstance(field, models.UUIDField):
        return uuid.UUID(int=index + 1)
    if isinstance(field, models.CharField | models.TextField):
        return f"autoaudit-sentinel-{index}"
    if isinstance(field, models.IntegerField):
        return index + 1
    return None  # a key type we do not guess: use the ORM every time


def _pk_value(fields: Sequence[models.Field[Any, Any]], values: Sequence[Any]) -> Any:
    return values[0] if len(fields) == 1 else tuple(values)


def _compile_read(
    model: type[models.Model], attnames: Sequence[str], for_update: bool, alias: str
) -> tuple[str, dict[int, Any]] | None:
    keys = pk_fields(model)
    sentinels = [_sentinel(f, i) for i, f in enumerate(keys)]
    if any(s is None for s in sentinels):
        return None
    queryset = clean_queryset(model, alias).filter(pk=_pk_value(keys, sentinels))
    queryset = queryset.values_list(*attnames)
    if for_update:
        queryset = lock(queryset)
    compiler = queryset.query.get_compiler(alias)
    sql, params = compiler.as_sql()
    connection = connections[alias]
    expected = [f.get_db_prep_value(s, connection) for f, s in zip(keys, sentinels, strict=True)]
    if list(params) != expected:
        return None  # an unusual query shape: use the ORM every time
    converters = compiler.get_converters([column[0] for column in compiler.select])
    return sql, converters


def read_row(
    model: type[models.Model], pk: Any, attnames: Sequence[str], for_update: bool, alias: str
) -> dict[str, Any] | None:
    """The current values of ``attnames`` of one row, or ``None`` if it is gone."""
    key = (model, tuple(attnames), for_update, alias)
    if key not in _select_sql:
        _select_sql[key] = _compile_read(model, attnames, for_update, alias)
    compiled = _select_sql[key]
    connection = connections[alias]
    if compiled is None:
        queryset = clean_queryset(model, alias).filter(pk=pk).values_list(*attnames)
        rows = list((lock(queryset) if for_update else queryset)[:1])
        return dict(zip(attnames, rows[0], strict=True)) if rows else None
    sql, converters = compiled
    parts = pk if isinstance(pk, tuple) else (pk,)
    params = [
        f.get_db_prep_value(value, connection, prepared=False)
        for f, value in zip(pk_fields(model), parts, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    # What SQLCompiler.apply_converters does, with this thread's connection.
    for position, (functions, expression) in converters.items():
        value = values[position]
        for function in functions:
            value = function(value, expression, connection)
        values[position] = value
    return dict(zip(attnames, values, strict=True))


def read_rows(
    model: type[models.Model],
    pks: Sequence[Any],
    attnames: Sequence[str],
    using: str,
    *,
    for_update: bool = False,
) -> dict[Any, dict[str, Any]]:
    """``{pk: {attname: value}}`` of the rows with these keys (batched)."""
    keys = [f.attname for f in pk_fields(model)]
    columns = [*keys, *(a for a in attnames if a not in keys)]
    positions = [columns.index(a) for a in attnames]
    width = len(keys)
    rows: dict[Any, dict[str, Any]] = {}
    for chunk in chunks(pks):
        queryset = clean_queryset(model, using).filter(pk__in=chunk)
        if for_update:
            queryset = lock(queryset)
        for row in queryset.values_list(*columns):
            pk = row[0] if width == 1 else tuple(row[:width])
            rows[pk] = {a: row[i] for a, i in zip(attnames, positions, strict=True)}
    return rows


def _lockable(queryset: models.QuerySet[Any]) -> bool:
    """Whether the rows can be locked with the caller's own filters in one
    read: whole instances, and nothing a locking read refuses (``DISTINCT``,
    ``GROUP BY``, aggregates, window functions, set operations)."""
    query = queryset.query
    if queryset._iterable_class is not ModelIterable or query.combinator or query.distinct:
        return False
    if query.group_by is not None:
        return False
    return not any(
        getattr(a, "contains_aggregate", False) or getattr(a, "contains_over_clause", False)
        for a in query.annotations.values()
    )


def locked_rows(queryset: models.QuerySet[Any], using: str) -> list[models.Model]:
    """The rows ``queryset`` selects (for an update or a delete), as whole
    instances, locked.

    One read with the caller's filters where a locking read of that shape
    is allowed; otherwise the primary keys first (with the caller's query
    as it is), then those rows, locked, by primary key.
    """
    if _lockable(queryset):
        rows = queryset.order_by()
        rows.query.select_related = False
        return list(lock(rows.defer(None)))
    pks = list(queryset.order_by().values_list("pk", flat=True))
    found: list[models.Model] = []
    for chunk in chunks(pks):
        found.extend(lock(clean_queryset(queryset.model, using).filter(pk__in=chunk)))
    return found


# -- before a save ---------------------------------------------------------------------
class Snapshot:
    """Old values of one instance, read before its save (``values is None``: a create)."""

    __slots__ = ("computed", "fields", "values")

    def __init__(
        self,
        fields: tuple[models.Field[Any, Any], ...],
        values: Mapping[str, Any] | None,
        computed: Mapping[str, Any],
    ) -> None:
        self.fields = fields
        self.values = values
        self.computed = computed


def is_expression(value: Any) -> bool:
    return hasattr(value, "resolve_expression")


def before_save(
    tracker: Tracker,
    instance: models.Model,
    using: str | None,
    update_fields: Iterable[str] | None,
    force_insert: bool,
    raw: bool,
) -> Snapshot | None:
    """Old values for an update; ``None`` for a create (no query)."""
    state = instance._state
    model = tracker.model
    if not pk_is_set(instance):
        return None
    if state.adding and not raw:
        keys = pk_fields(model)
        # Django inserts without trying an UPDATE first in these cases.
        if force_insert or all(f.has_default() or f.has_db_default() for f in keys):
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
    alias = using or "default"
    connection = connections[alias]
    for_update = connection.features.has_select_for_update and not connection.get_autocommit()
    attnames = [f.attname for f in fields]
    expressions = {
        f"{_EXPR_PREFIX}{f.attname}": data[f.attname]
        for f in fields
        if is_expression(data[f.attname])
    }
    if not expressions:
        row = read_row(model, instance.pk, attnames, for_update, alias)
        return None if row is None else Snapshot(fields, row, {})
    queryset = clean_queryset(model, alias).filter(pk=instance.pk).annotate(**expressions)
    if for_update:
        queryset = lock(queryset)
    rows = list(queryset.values(*attnames, *expressions)[:1])
    if not rows:
        return None  # an explicit pk that does not exist yet: a create
    row = rows[0]
    computed = {name[len(_EXPR_PREFIX) :]: row.pop(name) for name in expressions}
    return Snapshot(fields, row, computed)


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
