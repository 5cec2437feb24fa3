"""Wave 2 columns: ``request_id``, ``tags``, the related entity, ``changes_summary``.

Every column is nullable with no default, so adding it is a catalogue change
on PostgreSQL (no table rewrite) and an instant ``ADD COLUMN`` on MariaDB's
InnoDB. The two indexes are built ``CONCURRENTLY`` on PostgreSQL when the
migration runs outside a transaction (the usual ``migrate``), so a large log
table keeps taking writes while they are built; MariaDB builds them in place
without locking out writes; SQLite has no concurrent writers to protect.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

from autoaudit.migrations._online import prepare


class AddIndexOnline(migrations.AddIndex):
    """``AddIndex`` that does not lock out writes on PostgreSQL.

    Outside a transaction it builds ``CONCURRENTLY`` (see
    :mod:`autoaudit.migrations._online`); inside one (a test's migration
    executor) it builds plainly, as ``AddIndex`` does.
    """

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        connection = schema_editor.connection
        if not self.allow_migrate_model(connection.alias, model):
            return
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            schema_editor.add_index(model, self.index)
            return
        if prepare(connection, self.index.name):
            return  # built already by a run that failed later
        schema_editor.add_index(model, self.index, concurrently=True)


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("autoaudit", "0004_admin_search_trigram"),
    ]

    operations = [
        migrations.AddField(
            model_name="activitylog",
            name="request_id",
            field=models.CharField(
                blank=True, max_length=64, null=True, verbose_name="request id"
            ),
        ),
        migrations.AddField(
            model_name="activitylog",
            name="tags",
            field=models.JSONField(blank=True, null=True, verbose_name="tags"),
        ),
        migrations.AddField(
            model_name="activitylog",
            name="related_entity_type",
            field=models.CharField(
                blank=True, max_length=100, null=True, verbose_name="related entity type"
            ),
        ),
        migrations.AddField(
            model_name="activitylog",
            name="related_entity_id",
            field=models.CharField(
                blank=True, max_length=255, null=True, verbose_name="related entity id"
            ),
        ),
        migrations.AddField(
            model_name="activitylog",
            name="changes_summary",
            field=models.CharField(
                blank=True, max_length=255, null=True, verbose_name="changes summary"
            ),
        ),
        AddIndexOnline(
            model_name="activitylog",
            index=models.Index(fields=["request_id"], name="idx_actlog_request"),
        ),
        AddIndexOnline(
            model_name="activitylog",
            index=models.Index(
                fields=["related_entity_type", "related_entity_id", "-created_at"],
                name="idx_actlog_related_time",
            ),
        ),
    ]
