"""Primary keys of every shape: one field, or the parts of a composite key."""

from __future__ import annotations

from typing import Any

from django.db import models


def pk_fields(model: type[models.Model]) -> tuple[models.Field[Any, Any], ...]:
    """The fields of the primary key: one, or several for a composite key."""
    return tuple(model._meta.pk_fields)


def pk_is_set(instance: models.Model) -> bool:
    """Whether every part of the instance's primary key has a value."""
    return all(instance.__dict__.get(f.attname) is not None for f in pk_fields(type(instance)))


def stored_pk(model: type[models.Model], pk: Any) -> Any:
    """The key as the database holds it (``get_prep_value`` of each part), so
    that a key type whose ``str()`` is unusable still names its row in
    ``entity_pk``; the key itself where the field cannot prepare it."""
    keys = pk_fields(model)
    parts = pk if len(keys) > 1 and isinstance(pk, tuple) else (pk,)
    if len(parts) != len(keys):
        return pk
    try:
        prepared = tuple(f.get_prep_value(v) for f, v in zip(keys, parts, strict=True))
    except Exception:
        return pk
    return prepared if len(keys) > 1 else prepared[0]
