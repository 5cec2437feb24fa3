"""An object as it was at a moment, rebuilt from its logs.

The logs of one object are replayed oldest first (``created_at``, then
``id``): a create gives every tracked value (and empty many-to-many
lists: a new row has no links yet), an update (saves, bulk updates,
many-to-many changes) the values it changed, a delete ends the object. A
field the logs never gave whole is *missing*: untracked (excluded, not in
``include_fields``, ``auto_now``), masked, cut by the size bounds, or never
logged since the model was registered (a history that starts with an
update knows only what the updates changed).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from autoaudit.enums import ActionType
from autoaudit.tracking.registry import entity_labels, registry
from autoaudit.tracking.store import log_model
from autoaudit.values.keys import stored_pk
from autoaudit.values.labels import model_for_label
from autoaudit.values.serialization import pk_text
from autoaudit.versions.convert import (
    MISSING,
    from_log,
    history_fields,
    key_from_text,
    key_values,
    policy_of,
    tracked_names,
)
from autoaudit.versions.version import Version

#: The actions that change what an object holds (the others are left out).
CHANGES = (ActionType.CREATE, ActionType.UPDATE, ActionType.DELETE)

#: ``(action, new_values)`` of one log, as :func:`replay` reads it.
Step = tuple[str, Mapping[str, Any] | None]


def aware(when: datetime.datetime) -> datetime.datetime:
    """``when`` as an aware datetime (a naive one is in the current time zone)."""
    if not isinstance(when, datetime.datetime):
        raise TypeError(f"as_of() needs a datetime, not {type(when).__name__}.")
    if settings.USE_TZ and timezone.is_naive(when):
        return timezone.make_aware(when)
    return when


def replay(
    model: type[models.Model], pk: Any, steps: Iterable[Step], when: datetime.datetime
) -> Version | None:
    """Replay one object's logs, oldest first: its :class:`Version` after the
    last of them, or ``None`` if it did not exist then."""
    tracker = registry.tracker_for(model)
    fields = history_fields(model)
    tracked = tracked_names(model, tracker)
    policy = policy_of(tracker)
    m2m = [f.name for f in (tracker.m2m if tracker is not None else ())]
    exists = False
    values: dict[str, Any] = {}
    for action, new in steps:
        if action == ActionType.DELETE:
            exists, values = False, {}
            continue
        if action == ActionType.CREATE:
            values = {name: [] for name in m2m}  # a new row has no links yet
        elif action != ActionType.UPDATE:
            continue
        elif not exists:
            values = {}  # known from here on: only what the updates say
        exists = True
        for name, stored in (new or {}).items():
            field = fields.get(name)
            if field is None or name not in tracked:
                continue
            value = from_log(field, stored, policy)
            if value is MISSING:
                values.pop(name, None)
            else:
                values[name] = value
    if not exists:
        return None
    keys = key_values(model, pk)
    values = {**values, **keys}
    ordered = {name: values[name] for name in fields if name in values}
    missing = frozenset(name for name in fields if name not in values)
    return Version(model=model, pk=pk, values=ordered, missing=missing, when=when)


def logs_of(model: type[models.Model], pk: Any) -> models.QuerySet[Any]:
    """The logs that change ``model``'s object ``pk``, oldest first."""
    computed = entity_labels(model)[1]
    key = pk_text(stored_pk(model, pk))
    rows = log_model()._default_manager.filter(
        computed_entity=computed, entity_pk=key, action__in=CHANGES
    )
    return rows.order_by("created_at", "id")


def as_of(model: type[models.Model], pk: Any, when: datetime.datetime) -> Version | None:
    """The object ``pk`` of ``model`` as its logs say it was at ``when``
    (logs written at ``when`` included); ``None`` if it did not exist then
    (not created yet, or deleted). One query."""
    when = aware(when)
    steps = logs_of(model, pk).filter(created_at__lte=when).values_list("action", "new_values")
    return replay(model, _python_pk(model, pk), steps, when)


def as_of_logs(logs: models.QuerySet[Any], when: datetime.datetime) -> Version | None:
    """:func:`as_of` over a queryset of one object's logs
    (``ActivityLog.objects.for_instance(obj).as_of(when)``)."""
    when = aware(when)
    rows = logs.filter(created_at__lte=when, action__in=CHANGES).order_by("created_at", "id")
    found = list(rows.values_list("computed_entity", "entity_pk", "action", "new_values"))
    if not found:
        return None
    subjects = {(label, key) for label, key, _action, _new in found}
    if len(subjects) > 1:
        raise ValueError(
            "as_of() replays the logs of one object; these are of "
            f"{len(subjects)} (use ActivityLog.objects.for_instance(obj).as_of(when))."
        )
    ((label, key),) = subjects
    model = model_for_label(label)
    pk = MISSING if model is None or key is None else key_from_text(model, key)
    if model is None or pk is MISSING:
        raise ValueError(f"as_of(): {label!r} {key!r} is not an object of an installed model.")
    return replay(model, pk, [(action, new) for _l, _k, action, new in found], when)


def _python_pk(model: type[models.Model], pk: Any) -> Any:
    """``pk`` as the key's fields give it (``"5"`` for an integer key: ``5``)."""
    keys = model._meta.pk_fields
    parts = pk if len(keys) > 1 else (pk,)
    try:
        converted = tuple(f.to_python(part) for f, part in zip(keys, parts, strict=True))
    except Exception:
        return pk
    return converted if len(keys) > 1 else converted[0]
