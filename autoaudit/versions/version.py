"""The value object of :func:`autoaudit.as_of`: one object as it was."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models


@dataclass(frozen=True, eq=False)
class Version:
    """One object as its logs say it was at ``when``.

    ``values`` maps field names to Python values (``Decimal``, ``date``,
    aware ``datetime``, ``UUID``, a foreign key's related primary key,
    JSON as stored, many-to-many fields as lists of related primary keys);
    the primary key's fields are in it. ``missing`` names the fields whose
    value the logs cannot know (see :mod:`autoaudit.versions.asof`); they are
    not in ``values``.
    """

    model: type[models.Model]
    pk: Any
    values: Mapping[str, Any]
    missing: frozenset[str]
    when: datetime.datetime

    def instance(self) -> models.Model:
        """An unsaved instance of ``model`` with ``values`` (foreign keys by
        their ``_id`` attribute); missing fields keep their defaults and
        many-to-many values are left out (an unsaved instance has no links)."""
        kwargs = {}
        for name, value in self.values.items():
            field = self.model._meta.get_field(name)
            if not field.many_to_many:
                kwargs[field.attname] = value  # type: ignore[union-attr]
        return self.model(**kwargs)

    def __repr__(self) -> str:
        return (
            f"<Version {self.model._meta.label} {self.pk!r} at {self.when.isoformat()}: "
            f"{len(self.values)} values, missing {sorted(self.missing)}>"
        )
