"""The guard of a write whose old values autoaudit holds already
(PostgreSQL): Django's ``UPDATE`` or ``DELETE`` of one row, by its primary
key, changed so that it touches the row only if its tracked columns still
hold those values. A guard that matches no row means someone changed the
row (or removed it) since the values were known: nothing was written, and
the caller takes the usual path, with a locked read.

Each column is compared by its text form, byte by byte (``::text COLLATE
"C"``), not by its type's equality: that would let a concurrent change
through where distinct values compare equal (``citext``, a case-insensitive
collation, ``jsonb``'s ``1`` and ``1.0``, ``-0.0``). A column that held
NULL is ``IS NULL`` (a JSON field: or JSON ``null``, which reads back the
same).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

#: (field, database alias) -> (the check of a value, the check of NULL);
#: ``None``: a field without a database type to cast to.
_checks: dict[tuple[models.Field[Any, Any], str], tuple[str, str] | None] = {}


def _check(field: models.Field[Any, Any], connection: Any) -> tuple[str, str] | None:
    key = (field, connection.alias)
    if key not in _checks:
        quote = connection.ops.quote_name
        column = f"{quote(field.model._meta.db_table)}.{quote(field.column)}"
        db_type = field.db_type(connection)
        if not db_type:
            _checks[key] = None
        else:
            null = f" OR {column} = 'null'::jsonb" if isinstance(field, models.JSONField) else ""
            _checks[key] = (
                f'{column}::text COLLATE "C" = (CAST(%s AS {db_type}))::text COLLATE "C"',
                f"({column} IS NULL{null})",
            )
    return _checks[key]


def guarded(
    sql: str,
    params: Iterable[Any],
    model: type[models.Model],
    fields: Iterable[models.Field[Any, Any]],
    values: Mapping[str, Any],
    connection: Any,
) -> tuple[str, list[Any]] | None:
    """``sql`` (``... WHERE <table>.<pk> = %s`` or ``IN (%s)``, then nothing
    or ``RETURNING ...``) with the guard that ``fields`` still hold
    ``values`` (by attname); ``None`` if the statement is not of that shape
    or a field cannot be compared."""
    meta = (model._meta.concrete_model or model)._meta
    quote = connection.ops.quote_name
    where = f" WHERE {quote(meta.db_table)}.{quote(meta.pk.column)}"
    start = sql.rfind(where)
    if start < 0:
        return None
    end = start + len(where)
    for key in (" = %s", " IN (%s)"):
        if sql.startswith(key, end):
            end += len(key)
            break
    else:
        return None
    if sql[end:] and not sql[end:].startswith(" RETURNING "):
        return None
    checks, extra = [], []
    for f in fields:
        check = _check(f, connection)
        if check is None:
            return None
        value = values[f.attname]
        if value is None:
            checks.append(check[1])
        else:
            checks.append(check[0])
            extra.append(f.get_db_prep_value(value, connection, prepared=False))
    if not checks:
        return sql, list(params)
    return f"{sql[:end]} AND {' AND '.join(checks)}{sql[end:]}", [*params, *extra]
