"""PostgreSQL only: a GIN index on ``tags`` for ``ActivityLog.objects.tagged()``.

``tagged(tag)`` asks ``tags @> '["tag"]'``; a btree cannot serve
containment, a GIN index with ``jsonb_path_ops`` can (and is smaller than
the default ``jsonb_ops``, which also serves key-exists queries nobody asks
here). It is built ``CONCURRENTLY`` (the migration is not atomic), so a
large log table keeps taking writes while it is built; a build that failed
half way leaves an invalid index, which the next run drops and builds
again, as migration 0005 does for its indexes. Inside a transaction (a
test's migration executor) it is built plainly.

The index is not in the model's state: it exists on PostgreSQL only.
SQLite and MariaDB: nothing happens (``tagged()`` reads ``json_each`` on
SQLite and ``JSON_CONTAINS`` on MariaDB without an index; add a generated
column there if tag queries on a large table matter).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from autoaudit.migrations._online import concurrently, prepare

INDEX = "idx_actlog_tags_gin"


def _create(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    name, table = quote(INDEX), quote(apps.get_model("autoaudit", "ActivityLog")._meta.db_table)
    if prepare(connection, INDEX):
        return  # built already
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX{concurrently(connection)} {name} ON {table} USING gin (tags jsonb_path_ops)"
        )


def _drop(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        how = concurrently(connection)
        cursor.execute(f"DROP INDEX{how} IF EXISTS {connection.ops.quote_name(INDEX)}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("autoaudit", "0007_seal"),
    ]

    operations = [
        migrations.RunPython(_create, _drop, elidable=False),
    ]
