"""The design document's helpers: ``log_activity`` and ``log_model_change``.

Both resolve the actor like automatic logs do (an explicit ``request`` is used
for this one call; ``None``, or an object that is not a request, means the
current request, if any), mask values and apply the size limits. Inside
``autoaudit.disabled()`` nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models

from autoaudit import writer
from autoaudit.conf import get_settings
from autoaudit.context import is_disabled
from autoaudit.enums import ActionType
from autoaudit.masking import mask_mapping, scrub_text
from autoaudit.request import using_request
from autoaudit.serialization import safe_str, to_json

if TYPE_CHECKING:
    from autoaudit.models import ActivityLog

_GUEST_KEYS = ("source",)


def _secrets(values: Mapping[str, Any] | None) -> list[str]:
    from autoaudit.masking import strategy_for

    if not values:
        return []
    masks = get_settings().MASK_FIELDS
    return [
        safe_str(value)
        for key, value in values.items()
        if value is not None and strategy_for(str(key), {}, masks) is not None
    ]


def log_activity(
    request: Any,
    action: str,
    entity_type: str,
    entity_id: Any = None,
    entity_name: str | None = None,
    old_values: Mapping[str, Any] | None = None,
    new_values: Mapping[str, Any] | None = None,
    changed_fields: list[str] | None = None,
    description: str | None = None,
    guest_name: str | None = None,
    guest_email: str | None = None,
    guest_phone: str | None = None,
    **kwargs: Any,
) -> ActivityLog:
    """Write one log by hand. ``entity_type`` is the short entity name or
    ``"app_label.Model"``; extra keyword arguments (``source``, ``device``, ...)
    describe a guest, except ``extra_data``, ``computed_entity`` and ``using``.

    Inside ``autoaudit.disabled()``, and for a ``view`` by a guest who opted
    out, the log is built but not saved.
    """
    from autoaudit.models import _resolve_model
    from autoaudit.registry import entity_labels

    limit = get_settings().MAX_VALUE_LENGTH
    computed = kwargs.pop("computed_entity", None)
    extra_data = kwargs.pop("extra_data", None)
    using = kwargs.pop("using", None)
    model = _resolve_model(entity_type) if "." in entity_type else None
    if model is not None:
        entity, computed = entity_labels(model)
    else:
        entity = entity_type
        computed = computed or entity_type
    secrets = _secrets(old_values) + _secrets(new_values)
    guest: dict[str, Any] = {"name": guest_name, "email": guest_email, "phone": guest_phone}
    guest.update({key: kwargs.pop(key) for key in _GUEST_KEYS if key in kwargs})
    extra_metadata = {k: v for k, v in kwargs.items() if v is not None}
    if extra_metadata:
        guest["extra_metadata"] = extra_metadata
    with using_request(request):
        log = writer.build(
            action=action,
            entity=entity,
            computed_entity=computed,
            pk=entity_id,
            entity_name=scrub_text(entity_name, secrets),
            old_values=mask_mapping(to_json(old_values, limit)),
            new_values=mask_mapping(to_json(new_values, limit)),
            changed_fields=to_json(changed_fields, limit),
            description=scrub_text(description, secrets),
            guest={k: v for k, v in guest.items() if v is not None},
            extra_data=extra_data,
        )
    # A guest who opted out leaves no view at all (their data changes are
    # still logged, without identifying data).
    from autoaudit.events import should_log

    if action == ActionType.VIEW and not should_log(request):
        return log
    writer.insert(log, using)  # skipped inside disabled()
    return log


def _python(instance: models.Model, name: str, value: Any) -> Any:
    """``value`` as the field's Python type, so "9.50" equals Decimal("9.50")."""
    try:
        field = instance._meta.get_field(name)
        if value is None or not isinstance(field, models.Field):
            return value
        return field.to_python(value)
    except (ValidationError, FieldDoesNotExist, TypeError, ValueError):
        return value


def _field_values(instance: models.Model) -> dict[str, Any]:
    from autoaudit.registry import registry

    tracker = registry.tracker_for(type(instance))
    if tracker is not None:
        fields = tracker.fields
    else:
        fields = tuple(
            f
            for f in instance._meta.concrete_fields
            if not f.primary_key
            and not getattr(f, "auto_now", False)
            and not getattr(f, "auto_now_add", False)
        )
    data = instance.__dict__
    return {
        f.name: _python(instance, f.name, data.get(f.attname)) for f in fields if f.attname in data
    }


def log_model_change(
    request: Any,
    instance: models.Model,
    action: str,
    old_instance: models.Model | None = None,
) -> ActivityLog | None:
    """Log a create/update/delete of ``instance`` by hand; for an update,
    ``old_instance`` gives the old values (no log if nothing changed).
    Returns ``None`` when nothing is written (also inside ``disabled()``)."""
    if is_disabled():
        return None
    new = _field_values(instance)
    with using_request(request):
        if action == "update":
            if old_instance is None:
                return None
            old = _field_values(old_instance)
            changed = [name for name in new if name in old and old[name] != new[name]]
            if not changed:
                return None
            return writer.create_for_instance(
                instance,
                action,
                old_values={name: old[name] for name in changed},
                new_values={name: new[name] for name in changed},
                changed_fields=changed,
            )
        if action == "delete":
            return writer.create_for_instance(instance, action, old_values=new)
        return writer.create_for_instance(instance, action, new_values=new)
