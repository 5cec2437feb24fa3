"""Building an index on PostgreSQL without locking out writes (migrations 0004-0008).

Not a migration (the loader skips modules whose name starts with ``_``).
``CREATE INDEX CONCURRENTLY`` runs only outside a transaction (the usual
``migrate`` of a non-atomic migration); inside one (a test's migration
executor) the indexes are built plainly. A concurrent build that failed half
way leaves an *invalid* index behind, which ``IF NOT EXISTS`` would keep:
:func:`prepare` drops it, so the next run builds it again.
"""

from __future__ import annotations

from typing import Any


def concurrently(connection: Any) -> str:
    """``" CONCURRENTLY"`` outside a transaction, else ``""``."""
    return "" if connection.in_atomic_block else " CONCURRENTLY"


def prepare(connection: Any, name: str) -> bool:
    """Whether a valid index ``name`` exists already (nothing to build); an
    invalid one is dropped first, so the caller builds it again."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
            [name],
        )
        row = cursor.fetchone()
        if row is None:
            return False
        if row[0]:
            return True
        how = concurrently(connection)
        cursor.execute(f"DROP INDEX{how} IF EXISTS {connection.ops.quote_name(name)}")
        return False
