"""The two statements every tracked write runs, compiled once and reused.

Building a query through the ORM costs more Python time than the database
takes to run these small statements, so the SQL of the log ``INSERT`` and of
the old-values ``SELECT`` is compiled once per model, column set and database
alias, and then executed with fresh parameters. Values still pass through the
fields' own ``get_db_prep_save`` and the compiler's converters, exactly as the
ORM would do; only the SQL text is reused.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import connections, models

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from autoaudit.models import ActivityLog

_insert_sql: dict[str, tuple[str, tuple[models.Field[Any, Any], ...]]] = {}
_select_sql: dict[tuple[Any, ...], tuple[str, dict[int, Any]] | None] = {}


def clear() -> None:
    """Forget compiled statements (tests that swap databases call this)."""
    _insert_sql.clear()
    _select_sql.clear()


def _log_insert(alias: str, connection: BaseDatabaseWrapper) -> tuple[str, tuple[Any, ...]]:
    cached = _insert_sql.get(alias)
    if cached is None:
        from autoaudit.models import ActivityLog

        meta = ActivityLog._meta
        fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column or f.attname) for f in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"
        cached = _insert_sql[alias] = (sql, fields)
    return cached


def insert_log(log: ActivityLog, alias: str) -> None:
    """``INSERT`` one log row without the ORM's per-call compilation.

    The row's id is not read back (automatic logs never need it).
    """
    connection = connections[alias]
    sql, fields = _log_insert(alias, connection)
    params = [f.get_db_prep_save(f.pre_save(log, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    log._state.adding = False
    log._state.db = alias


def insert_logs(logs: Sequence[ActivityLog], alias: str) -> None:
    """``INSERT`` many log rows with one ``executemany`` (one statement as far
    as Django's query log is concerned; the driver batches the rows)."""
    if not logs:
        return
    connection = connections[alias]
    sql, fields = _log_insert(alias, connection)
    rows = [[f.get_db_prep_save(f.pre_save(log, True), connection) for f in fields] for log in logs]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    for log in logs:
        log._state.adding = False
        log._state.db = alias


def _sentinel(pk_field: models.Field[Any, Any]) -> Any:
    if isinstance(pk_field, models.UUIDField):
        return uuid.UUID(int=1)
    if isinstance(pk_field, models.CharField | models.TextField):
        return "autoaudit-sentinel"
    if isinstance(pk_field, models.ForeignKey | models.OneToOneField):
        return _sentinel(pk_field.target_field)
    return 1


def _compile_select(
    model: type[models.Model], attnames: Sequence[str], for_update: bool, alias: str
) -> tuple[str, dict[int, Any]] | None:
    queryset = model._base_manager.using(alias).filter(pk=_sentinel(model._meta.pk))
    queryset = queryset.values_list(*attnames)
    if for_update:
        queryset = queryset.select_for_update()
    compiler = queryset.query.get_compiler(alias)
    sql, params = compiler.as_sql()
    if len(params) != 1:
        return None  # an unusual query shape: use the ORM every time
    converters = compiler.get_converters([column[0] for column in compiler.select])
    return sql, converters


def read_row(
    model: type[models.Model],
    pk: Any,
    attnames: Sequence[str],
    for_update: bool,
    alias: str,
) -> dict[str, Any] | None:
    """The current values of ``attnames`` of one row, or ``None`` if it is gone."""
    key = (model, tuple(attnames), for_update, alias)
    if key not in _select_sql:
        _select_sql[key] = _compile_select(model, attnames, for_update, alias)
    compiled = _select_sql[key]
    connection = connections[alias]
    if compiled is None:
        queryset = model._base_manager.using(alias).filter(pk=pk).values_list(*attnames)
        if for_update:
            queryset = queryset.select_for_update()
        row = queryset.first()
        return None if row is None else dict(zip(attnames, row, strict=True))
    sql, converters = compiled
    prepared = model._meta.pk.get_db_prep_value(pk, connection, prepared=False)
    with connection.cursor() as cursor:
        cursor.execute(sql, [prepared])
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
