"""PostgreSQL only: trigram indexes for the admin's search.

``ActivityLogAdmin.search_fields`` are ``actor_identifier``, ``actor_name``
and ``entity_name``; Django searches each with ``icontains``, which it sends
to PostgreSQL as ``UPPER("col"::text) LIKE UPPER('%term%')``. No btree can
serve a pattern that starts with a wildcard, so without these indexes every
search reads the whole log table. A GIN index with ``gin_trgm_ops`` (the
``pg_trgm`` extension) on that same expression can serve it.

The indexes are built ``CONCURRENTLY`` (the migration is not atomic), so a
large log table keeps taking writes while they are built; a build that failed
half way leaves an invalid index, which the next run drops and builds again.

``pg_trgm`` is a trusted extension (PostgreSQL 13 and later): a user with the
``CREATE`` privilege on the database may create it. If it is missing and
cannot be created, the migration fails with a message saying what to run; it
does not go on without the indexes. Reversing drops the indexes and leaves
the extension (other code may use it). SQLite and MariaDB: nothing happens.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, migrations, transaction

from autoaudit.migrations._online import concurrently, prepare

#: index name -> the searched column
TRIGRAM_INDEXES = {
    "idx_actlog_trgm_actor_id": "actor_identifier",
    "idx_actlog_trgm_actor_name": "actor_name",
    "idx_actlog_trgm_entity_name": "entity_name",
}

NO_EXTENSION = (
    "autoaudit migration 0004 could not create the PostgreSQL extension pg_trgm "
    "in database {database!r} ({error}). The admin's search needs it for its "
    "indexes. Either grant the migrating user CREATE on the database "
    "(GRANT CREATE ON DATABASE {database} TO {user}; pg_trgm is a trusted "
    "extension since PostgreSQL 13), or have a superuser run "
    "CREATE EXTENSION pg_trgm; in that database once. Then run migrate again."
)


def _postgres(schema_editor: Any) -> bool:
    return bool(schema_editor.connection.vendor == "postgresql")


def _ensure_extension(connection: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is not None:
            return
        try:
            # A savepoint (or its own transaction) so a refusal is reported
            # as itself, not as an aborted transaction.
            with transaction.atomic(using=connection.alias):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as exc:
            settings = connection.settings_dict
            raise ImproperlyConfigured(
                NO_EXTENSION.format(
                    database=settings.get("NAME"),
                    user=settings.get("USER") or "<user>",
                    error=str(exc).strip(),
                )
            ) from exc


def create_indexes(apps: Any, schema_editor: Any) -> None:
    if not _postgres(schema_editor):
        return
    connection = schema_editor.connection
    _ensure_extension(connection)
    model = apps.get_model("autoaudit", "ActivityLog")
    quote = connection.ops.quote_name
    table = model._meta.db_table
    how = concurrently(connection)
    with connection.cursor() as cursor:
        for name, field_name in TRIGRAM_INDEXES.items():
            if prepare(connection, name):
                continue  # built already
            column = quote(model._meta.get_field(field_name).column)
            cursor.execute(
                f"CREATE INDEX{how} {quote(name)} ON {quote(table)} "
                f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
            )


def drop_indexes(apps: Any, schema_editor: Any) -> None:
    if not _postgres(schema_editor):
        return
    connection = schema_editor.connection
    how = concurrently(connection)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for name in TRIGRAM_INDEXES:
            cursor.execute(f"DROP INDEX{how} IF EXISTS {quote(name)}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("autoaudit", "0003_user_no_db_constraint"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
