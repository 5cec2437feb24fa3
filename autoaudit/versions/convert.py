"""Values as a log stores them (JSON) back into Python values, through the
model's fields; and what a log cannot tell.

A stored value is knowable when the log holds it whole and unmasked: a
masked field (or a JSON value with a masked key inside), a value the size
bounds cut (:func:`autoaudit.values.serialization.is_cut`), binary data
(stored as text), and a value that does not come back from its own text (a
custom field stored as ``str()``) are :data:`MISSING`. The test is a round
trip: the converted value, serialised as a log serialises it, must give the
stored value back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, TypeAlias

from django.core.exceptions import ValidationError
from django.db import models

from autoaudit.conf import get_settings, hash_key
from autoaudit.tracking.registry import Tracker
from autoaudit.tracking.snapshot import python_value
from autoaudit.values.keys import pk_fields
from autoaudit.values.masking import MaskPolicy, is_mask
from autoaudit.values.serialization import is_cut, to_json


class _Missing:
    """The type of :data:`MISSING`."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


#: What a value the log cannot know converts to.
MISSING: Final = _Missing()

#: Large enough that the round trip never cuts a value the log held whole.
_NO_LIMIT = 2**62

Field: TypeAlias = "models.Field[Any, Any]"


def history_fields(model: type[models.Model]) -> dict[str, Field]:
    """The fields a version of ``model`` has values for, by name, in model
    order: its concrete fields (primary key parts included; the keys of
    multi-table parents, which are the child's key, left out) and its
    many-to-many fields."""
    keys = set(pk_fields(model))
    found: dict[str, Field] = {}
    for f in model._meta.concrete_fields:
        if f.primary_key and f not in keys:
            continue  # a multi-table parent's key: the child's own key says it
        found[f.name] = f
    for m2m in model._meta.many_to_many:
        found[m2m.name] = m2m
    return found


def tracked_names(model: type[models.Model], tracker: Tracker | None) -> frozenset[str]:
    """The field names whose values the logs of ``model`` hold: the tracked
    fields and ``m2m_fields`` (every field, if the model is no longer
    registered: its logs say what they hold)."""
    if tracker is None:
        return frozenset(history_fields(model))
    return frozenset(f.name for f in (*tracker.fields, *tracker.m2m))


def policy_of(tracker: Tracker | None) -> MaskPolicy:
    """The masks the logs of a model were written with (as configured now)."""
    if tracker is not None:
        return tracker.policy
    return MaskPolicy(get_settings().MASK_FIELDS, hash_key)


def _masked_inside(value: Any, policy: MaskPolicy) -> bool:
    """Whether a JSON value may hold masked parts: a key the masks match, a
    mask's placeholder, or (when some mask drops keys) any object at all."""
    drops = "exclude" in policy.model_masks.values() or "exclude" in policy.global_masks.values()
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if drops:
                return True  # an excluded key leaves no trace
            for key, inner in item.items():
                if policy.key_strategy(str(key)) is not None:
                    return True
                pending.append(inner)
        elif isinstance(item, list):
            pending.extend(item)
        elif is_mask(item):
            return True
    return False


def from_log(field: Field, stored: Any, policy: MaskPolicy) -> Any:
    """The Python value of ``field`` that ``stored`` (a log's JSON) stands for,
    or :data:`MISSING`. A many-to-many field's value is its list of related
    primary keys."""
    if policy.strategy(field.name) is not None:
        return MISSING  # masked (or excluded) by name
    if stored is None:
        # A file field stores an empty name as null.
        return "" if isinstance(field, models.FileField) and not field.null else None
    if is_cut(stored) or is_mask(stored):
        return MISSING
    if isinstance(field, models.ManyToManyField):
        if not isinstance(stored, list):
            return MISSING
        target = field.related_model._meta.pk
        return _converted(target, stored, many=True)
    if isinstance(field, models.BinaryField):
        return MISSING  # stored as the text of the bytes
    if isinstance(field, models.JSONField):
        if _masked_inside(stored, policy):
            return MISSING
        return json.loads(json.dumps(stored))  # a copy the caller may change
    if isinstance(field, models.ForeignKey):
        return _converted(field.target_field, stored)
    return _converted(field, stored)


def _converted(field: Field | None, stored: Any, many: bool = False) -> Any:
    if field is None:
        return MISSING
    items = stored if many else [stored]
    values = []
    for item in items:
        try:
            value = python_value(field, field.to_python(item))
        except (ValidationError, TypeError, ValueError):
            return MISSING
        if not _faithful(field) and _json(value) != item:
            return MISSING  # its text is not the value (a custom field's str())
        values.append(value)
    return values if many else values[0]


def _faithful(field: Field) -> bool:
    """Whether ``to_python`` of the field's stored text is its value: Django's
    own fields (a custom field is checked by the round trip instead)."""
    return type(field).__module__.startswith("django.")


def _json(value: Any) -> Any:
    return to_json(value, _NO_LIMIT, max_items=_NO_LIMIT, max_bytes=_NO_LIMIT)


def key_from_text(model: type[models.Model], text: str) -> Any:
    """The primary key ``entity_pk`` names (a composite key: its JSON list),
    as the model's key fields give it; ``MISSING`` if it cannot be one."""
    keys = pk_fields(model)
    if len(keys) > 1:
        try:
            parts = json.loads(text)
        except ValueError:
            return MISSING
        if not isinstance(parts, list) or len(parts) != len(keys):
            return MISSING
    else:
        parts = [text]
    values = []
    for f, part in zip(keys, parts, strict=True):
        target = f.target_field if isinstance(f, models.ForeignKey) else f
        try:
            values.append(target.to_python(part))
        except (ValidationError, TypeError, ValueError):
            return MISSING
    return tuple(values) if len(keys) > 1 else values[0]


def key_values(model: type[models.Model], pk: Any) -> Mapping[str, Any]:
    """The primary key's fields by name, with their part of ``pk``."""
    keys = pk_fields(model)
    parts = pk if len(keys) > 1 else (pk,)
    return {f.name: part for f, part in zip(keys, parts, strict=True)}
