"""django-simple-history's ``Historical<Model>`` tables as snapshots.

Each historical row is a full copy of the object with ``history_type``
(``+`` create, ``~`` update, ``-`` delete), ``history_date``,
``history_user`` and ``history_change_reason``; the changes are the
differences between consecutive rows of one object
(:func:`~autoaudit.lifecycle.importers.core.diffed`). Historical tables are
found among the loaded models (those with ``instance_type`` and a
``history_type`` field), so custom ``HistoricalRecords`` options work too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from autoaudit.lifecycle.importers.core import (
    ImportSourceError,
    Snapshot,
    SnapshotTables,
    system_actor,
)

_KINDS = {"+": "create", "~": "update", "-": "delete"}
#: The historical model's own columns (not copies of the tracked model's).
_OWN = frozenset(
    {
        "history_id",
        "history_date",
        "history_type",
        "history_user",
        "history_change_reason",
        "history_relation",
    }
)


def historical_models() -> list[type[models.Model]]:
    """Every historical model simple-history made, by its tracked model."""
    if not apps.is_installed("simple_history"):
        raise ImportSourceError(
            "--from simple-history: django-simple-history is not in INSTALLED_APPS."
        )
    found = []
    for model in apps.get_models():
        tracked = getattr(model, "instance_type", None)
        if not isinstance(tracked, type) or model._meta.proxy:
            continue
        try:
            model._meta.get_field("history_type")
        except FieldDoesNotExist:
            continue
        found.append(model)
    return found


def _select(models_: Sequence[type[models.Model]] | None) -> list[type[models.Model]]:
    tables = historical_models()
    if models_ is None:
        return tables
    wanted = set(models_)
    return [t for t in tables if getattr(t, "instance_type", None) in wanted]


class SimpleHistorySource(SnapshotTables):
    """``autoaudit_import --from simple-history``."""

    name = "simple-history"

    def __init__(self) -> None:
        historical_models()  # the package is installed

    def tables(self, models_: Sequence[type[models.Model]] | None) -> list[type[models.Model]]:
        return _select(models_)

    def snapshots(self, table: type[models.Model], batch_size: int) -> Iterator[Snapshot]:
        model: type[models.Model] = table.instance_type  # type: ignore[attr-defined]
        pk_name = model._meta.pk.name
        copied = [
            f
            for f in table._meta.concrete_fields
            if f.name not in _OWN and f.name != pk_name and not f.primary_key
        ]
        has_reason = any(f.name == "history_change_reason" for f in table._meta.fields)
        rows: models.QuerySet[Any] = table._default_manager.order_by(
            pk_name, "history_date", "history_id"
        )
        label = table._meta.label
        for row in rows.iterator(chunk_size=batch_size):
            extra = {}
            if has_reason and row.history_change_reason:
                extra["change_reason"] = row.history_change_reason
            yield Snapshot(
                source_id=f"{label}:{row.history_id}",
                when=row.history_date,
                kind=_KINDS.get(row.history_type),
                model=model,
                pk=getattr(row, pk_name),
                values={f.name: getattr(row, f.attname) for f in copied},
                user_pk=getattr(row, "history_user_id", None),
                actor=system_actor(),
                extra=extra,
            )
