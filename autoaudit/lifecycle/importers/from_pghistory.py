"""django-pghistory's event tables as snapshots (PostgreSQL).

Each event model (a subclass of ``pghistory.models.Event``, one per tracked
model and tracker set) holds a full copy of the row with ``pgh_created_at``,
``pgh_label`` (``insert``, ``update``, ``delete`` for the standard trackers,
anything for custom ones), ``pgh_obj`` (the tracked row) and
``pgh_context`` (a ``Context`` row, or its JSON, whose ``metadata`` has
``user`` and ``url`` when the middleware set them). Event models are found
among the loaded models by their ``pgh_tracked_model``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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

_KINDS = {"insert": "create", "update": "update", "delete": "delete"}


def event_models() -> list[type[models.Model]]:
    """Every concrete pghistory event model."""
    if not apps.is_installed("pghistory"):
        raise ImportSourceError("--from pghistory: django-pghistory is not in INSTALLED_APPS.")
    found = []
    for model in apps.get_models():
        tracked = getattr(model, "pgh_tracked_model", None)
        if not isinstance(tracked, type) or model._meta.proxy:
            continue
        try:
            model._meta.get_field("pgh_label")
        except FieldDoesNotExist:
            continue
        found.append(model)
    return found


def _select(models_: Sequence[type[models.Model]] | None) -> list[type[models.Model]]:
    tables = event_models()
    if models_ is None:
        return tables
    wanted = set(models_)
    return [t for t in tables if getattr(t, "pgh_tracked_model", None) in wanted]


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any] | None:
    try:
        found = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return found if isinstance(found, models.Field) else None


class PghistorySource(SnapshotTables):
    """``autoaudit_import --from pghistory``."""

    name = "pghistory"

    def __init__(self) -> None:
        event_models()  # the package is installed

    def tables(self, models_: Sequence[type[models.Model]] | None) -> list[type[models.Model]]:
        return _select(models_)

    def snapshots(self, table: type[models.Model], batch_size: int) -> Iterator[Snapshot]:
        model: type[models.Model] = table.pgh_tracked_model  # type: ignore[attr-defined]
        pk_name = model._meta.pk.name
        obj = _field(table, "pgh_obj")
        key = obj.attname if obj is not None else pk_name
        copied = [f for f in table._meta.concrete_fields if not f.name.startswith("pgh_")]
        context = _field(table, "pgh_context")
        rows: models.QuerySet[Any] = table._default_manager.order_by(
            key, "pgh_created_at", "pgh_id"
        )
        if isinstance(context, models.ForeignKey):
            rows = rows.select_related("pgh_context")
        label = table._meta.label
        for row in rows.iterator(chunk_size=batch_size):
            metadata = _metadata(row, context)
            extra: dict[str, Any] = {}
            if metadata.get("url"):
                extra["url"] = metadata["url"]
            other = {k: v for k, v in metadata.items() if k not in ("user", "url")}
            if other:
                extra["context"] = other
            if row.pgh_label not in _KINDS:
                extra["label"] = row.pgh_label
            yield Snapshot(
                source_id=f"{label}:{row.pgh_id}",
                when=row.pgh_created_at,
                kind=_KINDS.get(row.pgh_label),
                model=model,
                pk=getattr(row, key),
                values={f.name: getattr(row, f.attname) for f in copied if f.name != pk_name},
                user_pk=metadata.get("user"),
                actor=system_actor(),
                extra=extra,
            )


def _metadata(row: Any, context: models.Field[Any, Any] | None) -> Mapping[str, Any]:
    """The event's context metadata (a ``Context`` row's, or the JSON copy's)."""
    if context is None:
        return {}
    if isinstance(context, models.ForeignKey):
        found = row.pgh_context
        metadata = found.metadata if found is not None else None
    else:
        metadata = getattr(row, context.attname)
    return metadata if isinstance(metadata, Mapping) else {}
