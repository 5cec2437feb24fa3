"""django-reversion's ``Version`` rows as snapshots.

A ``Version`` is a full copy of one object (Django's serializer format, with
its many-to-many keys) in a ``Revision`` (``date_created``, ``user``,
``comment``). reversion does not say whether a version was a create or an
update, and records no deletes: an object's first version is taken as its
create, each later one as an update (the difference from the one before),
and a delete leaves no entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from django.apps import apps
from django.core import serializers
from django.core.serializers.base import DeserializationError
from django.db import models

from autoaudit.lifecycle.importers.core import (
    Entry,
    ImportSourceError,
    Snapshot,
    content_type_rows,
    paged,
    system_actor,
)

#: reversion's model (a name, not an import: the package is optional).
_VERSION: str = "reversion.Version"


def _version_model() -> type[models.Model]:
    if not apps.is_installed("reversion"):
        raise ImportSourceError("--from reversion: django-reversion is not in INSTALLED_APPS.")
    return apps.get_model(_VERSION)


class ReversionSource:
    """``autoaudit_import --from reversion``."""

    name = "reversion"

    def __init__(self) -> None:
        self.model = _version_model()

    def _rows(self, models_: Sequence[type[models.Model]] | None) -> models.QuerySet[Any]:
        return content_type_rows(self.model, models_)

    def count(self, models_: Sequence[type[models.Model]] | None) -> int:
        return self._rows(models_).count()

    def entries(
        self,
        models_: Sequence[type[models.Model]] | None,
        since: dt.datetime | None,
        batch_size: int,
    ) -> Iterator[tuple[int, list[Entry]]]:
        rows = (
            self._rows(models_)
            .select_related("revision", "content_type")
            .order_by("content_type", "object_id", "revision__date_created", "pk")
        )
        return paged(self._snapshots(rows, batch_size), batch_size)

    def _snapshots(self, rows: models.QuerySet[Any], batch_size: int) -> Iterator[Snapshot]:
        for version in rows.iterator(chunk_size=batch_size):
            model = version.content_type.model_class()
            if model is None:  # the model is gone: its versions cannot be read
                continue
            try:
                loaded = next(
                    serializers.deserialize(
                        version.format, version.serialized_data, ignorenonexistent=True
                    )
                )
            except (DeserializationError, StopIteration, LookupError):
                continue
            obj = loaded.object
            values = {
                f.name: getattr(obj, f.attname)
                for f in model._meta.concrete_fields
                if not f.primary_key and f.attname in obj.__dict__
            }
            revision = version.revision
            extra = {"comment": revision.comment} if revision.comment else {}
            yield Snapshot(
                source_id=str(version.pk),
                when=revision.date_created,
                kind=None,
                model=model,
                pk=obj.pk,
                values=values,
                m2m={name: list(keys) for name, keys in (loaded.m2m_data or {}).items()},
                name=version.object_repr,
                user_pk=revision.user_id,
                actor=system_actor(),
                extra=extra,
            )
