"""Many-to-many changes of registered ``m2m_fields``, logged as updates.

Before the change one query reads the related primary keys of every tracked
object it touches; after it, each object whose list changed gets an update
log with ``old_values={field: [pks before]}`` and ``new_values={field: [pks
after]}``. Both sides of the relation are handled (``product.tags.add(t)``
and ``tag.products.add(p)``).
"""

from __future__ import annotations

from typing import Any

from django.db import models

from autoaudit import writer
from autoaudit.changes import build_log
from autoaudit.conf import get_settings
from autoaudit.registry import Tracker
from autoaudit.serialization import safe_str, to_json


def _m2m_columns(
    field: models.ManyToManyField[Any, Any],
) -> tuple[type[models.Model], str, str]:
    through: type[models.Model] = field.remote_field.through  # type: ignore[assignment]
    meta = through._meta
    source = meta.get_field(field.m2m_field_name()).attname  # type: ignore[union-attr]
    target = meta.get_field(field.m2m_reverse_field_name()).attname  # type: ignore[union-attr]
    return through, source, target


def m2m_before(
    tracker: Tracker,
    field: models.ManyToManyField[Any, Any],
    instance: models.Model,
    reverse: bool,
    pk_set: set[Any] | None,
    action: str,
    using: str | None,
) -> dict[Any, list[Any]]:
    """``{tracked object pk: [related pks]}`` before an m2m change (one query)."""
    through, source, target = _m2m_columns(field)
    rows = through._base_manager.using(using)
    if not reverse:
        pks = list(rows.filter(**{source: instance.pk}).values_list(target, flat=True))
        return {instance.pk: sorted(pks, key=safe_str)}
    # Reverse side: the tracked objects are the other end of the relation.
    if pk_set is None:  # clear(): every tracked object linked to this one
        owners = list(rows.filter(**{target: instance.pk}).values_list(source, flat=True))
    else:
        owners = list(pk_set)
    before: dict[Any, list[Any]] = {pk: [] for pk in owners}
    for owner, related in rows.filter(**{f"{source}__in": list(before)}).values_list(
        source, target
    ):
        before.setdefault(owner, []).append(related)
    return {pk: sorted(v, key=safe_str) for pk, v in before.items()}


def log_m2m(
    tracker: Tracker,
    field: models.ManyToManyField[Any, Any],
    instance: models.Model,
    reverse: bool,
    action: str,
    pk_set: set[Any] | None,
    before: dict[Any, list[Any]],
    using: str | None,
) -> None:
    changed_pks = set(pk_set or ())
    if not reverse:
        owners = {instance.pk: instance}
    else:
        objects = tracker.model._base_manager.using(using).in_bulk(list(before))
        owners = dict(objects)
    for owner_pk, old in before.items():
        owner = owners.get(owner_pk)
        if owner is None:
            continue
        if action == "post_clear":
            new: list[Any] = []
        elif reverse:
            new = sorted(
                {*old, instance.pk} if action == "post_add" else set(old) - {instance.pk},
                key=safe_str,
            )
        elif action == "post_add":
            new = sorted(set(old) | changed_pks, key=safe_str)
        else:
            new = sorted(set(old) - changed_pks, key=safe_str)
        if new == old:
            continue
        old_json = to_json(old, get_settings().MAX_VALUE_LENGTH)
        new_json = to_json(new, get_settings().MAX_VALUE_LENGTH)
        log = build_log(
            tracker,
            owner,
            "update",
            {field.name: old_json},
            {field.name: new_json},
            [field.name],
            [],
        )
        writer.insert(log, using, need_id=False)
