"""Reads of the rows a write touches: clean primary-key queries and locking.

A *clean* query is a plain ``QuerySet`` of the concrete model: no manager
(so no manager annotations or filters), no ordering (so no ``Meta.ordering``
joins), no ``select_related`` or ``prefetch_related``. Where the backend can
lock, reads lock only the model's own tables (``FOR UPDATE OF``), so joins
the caller's filters need, outer joins included, do not stop them.

Building a query through the ORM costs more Python time than the database
takes to run it, so the single-row read of a save is compiled once per
model, column set and database and then executed with fresh parameters;
values still pass through the fields' own ``get_db_prep_value`` and the
compiler's converters.

SQLite has no row locks: a locking read there holds the database's write
lock (:func:`claim_write_lock`). That is also what lets it wait: SQLite
refuses at once ("database is locked", no busy timeout) a transaction that
read first and writes second while another connection writes, where a
transaction whose first statement writes waits for the lock. Untracked,
Django's write usually comes first; tracked, our read does, so it takes
the lock first and waits, or fails, exactly where Django's write would.
"""

from __future__ import annotations

import hashlib
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from django.apps import apps
from django.db import connections, models
from django.db.models.query import ModelIterable

from autoaudit.values.keys import pk_fields, stored_pk
from autoaudit.values.serialization import safe_str

#: Primary keys per ``pk IN (...)`` batch of the bulk paths.
BATCH_SIZE = 900

_select_sql: dict[tuple[Any, ...], tuple[str, dict[int, Any]] | None] = {}

#: SQLite connection -> its ``run_on_commit`` list when its transaction was
#: last known to hold the write lock. Django replaces that list whenever a
#: transaction ends (commit or rollback), so the same list means the same
#: transaction.
_write_locked: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()
_LOCKING_MODES = frozenset({"IMMEDIATE", "EXCLUSIVE"})


def clear() -> None:
    """Forget compiled statements (when a database alias is reconfigured)."""
    _select_sql.clear()
    _returning.clear()


def chunks(items: Sequence[Any], size: int = BATCH_SIZE) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- SQLite's write lock -------------------------------------------------------------
def holds_write_lock(connection: Any) -> None:
    """Note that ``connection``'s open transaction holds SQLite's write lock
    (it was begun ``IMMEDIATE``, or a write of ours just went through)."""
    if connection.vendor == "sqlite" and not connection.get_autocommit():
        _write_locked[connection] = connection.run_on_commit


def claim_write_lock(model: type[models.Model], using: str) -> None:
    """Before a locking read on SQLite: take the database's write lock.

    One write that changes nothing (``DELETE FROM activity_logs WHERE 0``),
    once per transaction (known only inside ``atomic()``: Django renews its
    ``run_on_commit`` list when an atomic transaction ends). Nothing on
    other databases, in autocommit mode, in a transaction begun
    ``IMMEDIATE`` or ``EXCLUSIVE``
    (``OPTIONS["transaction_mode"]``), in one marked for rollback (Django
    raises its own error next) or in one known to hold the lock.
    """
    connection: Any = connections[using]
    if connection.vendor != "sqlite" or connection.get_autocommit() or connection.needs_rollback:
        return
    if getattr(connection, "transaction_mode", None) in _LOCKING_MODES:
        return
    if connection.in_atomic_block and _write_locked.get(connection) is connection.run_on_commit:
        return
    # The log table: it is there (the logs go to this database) and it is
    # a table (a model's could be a view).
    log_table = apps.get_registered_model("autoaudit", "ActivityLog")._meta.db_table
    table = connection.ops.quote_name(log_table)
    # A lock, like the IMMEDIATE of a BEGIN: sent on the driver's connection
    # (errors still Django's), so Django's query log and a test's captured
    # queries hold Django's statements and autoaudit's reads and writes.
    with connection.wrap_database_errors:
        connection.connection.execute(f"DELETE FROM {table} WHERE 0")
    holds_write_lock(connection)


# -- key locks (PostgreSQL) -------------------------------------------------------------
#: The first key of autoaudit's advisory locks ("aa"); the second is a 32-bit
#: hash of the table and the key (a collision only makes two writes wait).
_ADVISORY_SPACE = 0x6161


def _advisory_key(table: str, key: Any) -> int:
    # A key whose str() fails shares one lock with its kind: they only wait.
    digest = hashlib.blake2b(f"{table}\0{safe_str(key)}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_keys(
    model: type[models.Model],
    keys: Sequence[Any],
    using: str,
    rows: models.QuerySet[Any] | None = None,
) -> bool:
    """On PostgreSQL, lock these key values of ``model``'s table until the
    transaction ends, whether or not rows with them exist; ``False``
    elsewhere (nothing done).

    A row lock needs a row: a write that found no row (a primary key being
    re-created by another transaction, a link being added to a row being
    re-created) has nothing to wait on. Transaction-scoped advisory locks
    (``pg_advisory_xact_lock``, taken in key order) fill the gap; they block
    no statement of Django's, only each other. ``rows`` (a queryset of the
    rows with these keys) are locked first, in the same statement: every
    writer takes a row's lock before its key's, so none waits for the other
    in the opposite order.
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or not keys:
        return connection.vendor == "postgresql"
    if connection.in_atomic_block and connection.needs_rollback:
        # Nothing can commit here; a query of ours would turn the error
        # Django raises next (often before any query) into its own.
        return True
    table = (model._meta.concrete_model or model)._meta.db_table
    locks = sorted({_advisory_key(table, key) for key in keys})
    sql = "SELECT pg_advisory_xact_lock(%s, k) FROM unnest(%s::integer[]) AS k"
    params: list[Any] = [_ADVISORY_SPACE, locks]
    if rows is not None:  # an InitPlan: run once, before the keys are locked
        first, first_params = lock(rows).query.get_compiler(using).as_sql()
        sql += f" WHERE (SELECT count(*) FROM ({first}) AS locked) >= 0"
        params += list(first_params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return True


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
    the caller's filters need, outer joins included, do not stop it. On
    SQLite the write lock is claimed now (:func:`claim_write_lock`): call
    this right before the read.
    """
    claim_write_lock(queryset.model, queryset.db)
    features = connections[queryset.db].features
    if not features.has_select_for_update:
        return queryset
    # PostgreSQL: FOR NO KEY UPDATE, the lock Django's own UPDATE takes, so
    # rows that reference this one can still be inserted meanwhile.
    no_key = features.has_select_for_no_key_update
    if features.has_select_for_update_of:
        return queryset.select_for_update(of=_lock_paths(queryset.model), no_key=no_key)
    return queryset.select_for_update(no_key=no_key)


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
    if for_update:
        claim_write_lock(model, alias)
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
    return dict(zip(attnames, _convert(row, converters, connection), strict=True))


def read_committed(
    model: type[models.Model], pk: Any, attnames: Sequence[str], alias: str
) -> dict[str, Any] | None:
    """The values of ``attnames`` of one row as other transactions see it:
    its last committed version, read on a connection of its own (opened for
    this read and closed after it), which neither waits for this thread's
    locks nor sees its uncommitted writes."""
    own = connections[alias]
    side = type(own)(own.settings_dict, alias)
    try:
        query = clean_queryset(model, alias).filter(pk=pk).values_list(*attnames).query
        rows = list(query.get_compiler(connection=side).results_iter())
    finally:
        side.close()
    return dict(zip(attnames, rows[0], strict=True)) if rows else None


def _convert(row: Sequence[Any], converters: dict[int, Any], connection: Any) -> list[Any]:
    """What ``SQLCompiler.apply_converters`` does, with this thread's connection."""
    values = list(row)
    for position, (functions, expression) in converters.items():
        value = values[position]
        for function in functions:
            value = function(value, expression, connection)
        values[position] = value
    return values


# -- DELETE ... RETURNING ------------------------------------------------------------
_returning: dict[tuple[Any, ...], tuple[str, tuple[str, ...], dict[int, Any]]] = {}


def can_return_deleted(using: str) -> bool:
    """Whether ``DELETE ... RETURNING`` exists here: PostgreSQL, SQLite 3.35+
    and MariaDB 10.5+ (Django's test for ``INSERT ... RETURNING``; MariaDB
    has had it for ``DELETE`` longer), not MySQL."""
    return bool(connections[using].features.can_return_columns_from_insert)


def delete_returning(
    compiler: Any, model: type[models.Model], attnames: Sequence[str]
) -> list[dict[str, Any]]:
    """Run ``compiler``'s ``DELETE`` (one table, as Django built it) with a
    ``RETURNING`` of the primary key and ``attnames`` columns; the rows it
    removed, as ``{attname: value}`` (values converted as a read would)."""
    connection = compiler.connection
    key = (model, tuple(attnames), connection.alias)
    if key not in _returning:
        meta = model._meta
        wanted = [*(f.attname for f in pk_fields(model)), *attnames]
        names = tuple(dict.fromkeys(wanted))
        fields = [next(f for f in meta.concrete_fields if f.attname == n) for n in names]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        reader = clean_queryset(model, connection.alias).query.get_compiler(connection.alias)
        converters = reader.get_converters([f.get_col(meta.db_table) for f in fields])
        _returning[key] = (f" RETURNING {columns}", names, converters)
    clause, names, converters = _returning[key]
    sql, params = compiler.as_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql + clause, params)
        rows = cursor.fetchall()
    return [dict(zip(names, _convert(row, converters, connection), strict=True)) for row in rows]


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
    # Keyed by the keys asked for ("5" finds the row of 5), as the database
    # holds them.
    asked = {stored_pk(model, pk): pk for pk in pks}
    for chunk in chunks(pks):
        queryset = clean_queryset(model, using).filter(pk__in=chunk)
        if for_update:
            queryset = lock(queryset)
        for row in queryset.values_list(*columns):
            pk = row[0] if width == 1 else tuple(row[:width])
            pk = asked.get(stored_pk(model, pk), pk)
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


#: True while autoaudit loads instances for itself (:func:`locked_rows`).
_OWN_READ: ContextVar[bool] = ContextVar("autoaudit_own_read", default=False)


def in_own_read() -> bool:
    """Whether the rows being loaded now are autoaudit's own (the instances
    a bulk update or delete reads to log them), which never reach the
    caller and so need no load snapshot."""
    return _OWN_READ.get()


def locked_rows(queryset: models.QuerySet[Any], using: str) -> list[models.Model]:
    """The rows ``queryset`` selects (for an update or a delete), as whole
    instances, locked, each once (a filter across a multi-valued relation
    repeats rows).

    One read with the caller's filters where a locking read of that shape
    is allowed; otherwise the primary keys first (with the caller's query
    as it is), then those rows, locked, by primary key. ``prefetch_related``
    and ``distinct()`` are dropped: Django's ``update()`` and ``delete()``
    ignore them too (Django 5.2 updates every matching row of a
    ``distinct(*fields)`` queryset; 6.0 refuses it, after this read).
    """
    queryset = queryset.order_by().prefetch_related(None)
    queryset.query.distinct, queryset.query.distinct_fields = False, ()
    claim_write_lock(queryset.model, using)  # before the first read
    token = _OWN_READ.set(True)
    try:
        if _lockable(queryset):
            queryset.query.select_related = False
            found = list(lock(queryset.defer(None)))
        else:
            pks = list(dict.fromkeys(queryset.values_list("pk", flat=True)))
            found = []
            for chunk in chunks(pks):
                found.extend(lock(clean_queryset(queryset.model, using).filter(pk__in=chunk)))
    finally:
        _OWN_READ.reset(token)
    return list({obj.pk: obj for obj in found}.values())
