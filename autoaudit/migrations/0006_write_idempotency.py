"""``write_id``: the key that makes a retried ``write_logs`` task insert nothing twice.

The column is nullable with no default (a catalogue change on PostgreSQL, an
instant ``ADD COLUMN`` on MariaDB's InnoDB); every log not written by a task
keeps it NULL, and NULLs never clash in a unique index. On PostgreSQL, outside
a transaction (the usual ``migrate``), the unique index is built
``CONCURRENTLY`` and then attached as the constraint (``USING INDEX``: a
brief lock, no scan), so a large log table keeps taking writes.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

from autoaudit.migrations._online import prepare


class AddUniqueOnline(migrations.AddConstraint):
    """``AddConstraint`` of a plain ``UniqueConstraint`` that does not lock
    out writes on PostgreSQL while its index is built (see the module
    docstring); inside a transaction, and elsewhere, it is ``AddConstraint``."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        connection = schema_editor.connection
        if not self.allow_migrate_model(connection.alias, model):
            return
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            schema_editor.add_constraint(model, self.constraint)
            return
        quote = connection.ops.quote_name
        fields = self.constraint.fields  # type: ignore[attr-defined]  # a UniqueConstraint
        name = self.constraint.name
        table = quote(model._meta.db_table)
        columns = ", ".join(
            quote(model._meta.get_field(field).column) for field in fields
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", [name])
            if cursor.fetchone() is not None:
                return  # attached already by a run that failed later
            if not prepare(connection, name):
                cursor.execute(
                    f"CREATE UNIQUE INDEX CONCURRENTLY {quote(name)} ON {table} ({columns})"
                )
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} UNIQUE USING INDEX {quote(name)}"
            )


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("autoaudit", "0005_wave2_columns"),
    ]

    operations = [
        migrations.AddField(
            model_name="activitylog",
            name="write_id",
            field=models.UUIDField(blank=True, editable=False, null=True, verbose_name="write id"),
        ),
        AddUniqueOnline(
            model_name="activitylog",
            constraint=models.UniqueConstraint(
                fields=("write_id", "created_at", "actor_type"), name="uniq_actlog_write"
            ),
        ),
    ]
