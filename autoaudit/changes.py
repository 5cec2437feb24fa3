"""From a tracked write to its log row: snapshot, compare, mask, describe.

Old values are read in ``pre_save`` with one query over the tracked columns
that are loaded on the instance (deferred columns are neither fetched nor
compared), as a locking read (``SELECT ... FOR UPDATE``) where the backend
has one. Values assigned as expressions (``F("stock") - 1``) are computed by
the same query, so the log holds the number the database stores. No deepdiff
runs for values that compare equal.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.utils import timezone
from django.utils.translation import get_language

from autoaudit import descriptions, statements, writer
from autoaudit.conf import get_settings
from autoaudit.diff import json_differs
from autoaudit.masking import mask_nested, mask_value, scrub_text
from autoaudit.registry import Tracker
from autoaudit.serialization import safe_str, to_json

if TYPE_CHECKING:
    from autoaudit.models import ActivityLog

_EXPR_PREFIX = "_autoaudit_expr_"


class Snapshot:
    """Old values of one instance, read before its save."""

    __slots__ = ("computed", "exists", "fields", "values")

    def __init__(
        self,
        fields: tuple[models.Field[Any, Any], ...],
        values: Mapping[str, Any] | None,
        computed: Mapping[str, Any],
    ) -> None:
        self.fields = fields
        self.values = values
        self.exists = values is not None
        self.computed = computed


def log_raw_saves() -> bool:
    return get_settings().LOG_RAW_SAVES


def is_expression(value: Any) -> bool:
    return hasattr(value, "resolve_expression")


def snapshot(
    tracker: Tracker,
    instance: models.Model,
    using: str | None,
    update_fields: Iterable[str] | None,
    force_insert: bool,
) -> Snapshot | None:
    """Old values for an update; ``None`` for a create (no query)."""
    state = instance._state
    pk = instance.pk
    if pk is None or (state.adding and (force_insert or tracker.model._meta.pk.has_default())):
        return None
    data = instance.__dict__
    wanted = None if update_fields is None else frozenset(update_fields)
    fields = tuple(
        f
        for f in tracker.fields
        if f.attname in data and (wanted is None or f.name in wanted or f.attname in wanted)
    )
    if not fields:
        return Snapshot((), {}, {}) if not state.adding else None
    expressions = {
        f"{_EXPR_PREFIX}{f.attname}": data[f.attname]
        for f in fields
        if is_expression(data[f.attname])
    }
    alias = using or "default"
    connection = connections[alias]
    # A locking read: the row cannot change between this read and the
    # UPDATE, so concurrent saves log a true chain of old -> new values (and
    # MySQL's REPEATABLE READ snapshot cannot hand us a stale row).
    for_update = connection.features.has_select_for_update and not connection.get_autocommit()
    attnames = [f.attname for f in fields]
    if not expressions:
        row = statements.read_row(tracker.model, pk, attnames, for_update, alias)
        return None if row is None else Snapshot(fields, row, {})
    queryset = tracker.model._base_manager.using(alias).filter(pk=pk).annotate(**expressions)
    if for_update:
        queryset = queryset.select_for_update()
    row = queryset.values(*attnames, *expressions).first()
    if row is None:
        return None  # an explicit pk that does not exist yet: a create
    computed = {name[len(_EXPR_PREFIX) :]: row.pop(name) for name in expressions}
    return Snapshot(fields, row, computed)


# -- value normalisation ------------------------------------------------------
def _python(field: models.Field[Any, Any], value: Any) -> Any:
    """The value as the database would give it back, for comparison."""
    if value is None:
        return None
    try:
        if isinstance(field, models.ForeignKey):
            if isinstance(value, models.Model):
                value = value.pk
            value = field.target_field.to_python(value)
        elif not isinstance(field, models.JSONField):
            value = field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return value
    if isinstance(value, decimal.Decimal) and isinstance(field, models.DecimalField):
        places = field.decimal_places
        if places is not None and value.is_finite():
            with contextlib.suppress(decimal.InvalidOperation):
                value = value.quantize(decimal.Decimal(1).scaleb(-places))
    elif (
        isinstance(value, datetime.datetime) and django_settings.USE_TZ and timezone.is_naive(value)
    ):
        value = timezone.make_aware(value, datetime.UTC)
    return value


def _differs(field: models.Field[Any, Any], old: Any, new: Any) -> bool:
    if type(old) is type(new) and not isinstance(old, dict | list) and old == new:
        return False
    if isinstance(old, dict | list) or isinstance(new, dict | list):
        return json_differs(old, new)
    new = _python(field, new)
    try:
        return bool(old != new)
    except Exception:
        return True


def _render(tracker: Tracker, field: models.Field[Any, Any], value: Any) -> Any:
    """Serialised and masked value of one field."""
    limit = get_settings().MAX_VALUE_LENGTH
    if isinstance(field, models.FileField) and not isinstance(value, str):
        value = getattr(value, "name", value)
    rendered = to_json(value, limit)
    strategy = tracker.masks.get(field.name)
    if strategy is not None:
        return mask_value(rendered, strategy)
    if isinstance(rendered, dict | list):
        return mask_nested(rendered, tracker.options.mask_fields, get_settings().MASK_FIELDS)
    return rendered


def _secrets(tracker: Tracker, values: Iterable[Mapping[str, Any] | None]) -> list[str]:
    found = []
    for mapping in values:
        if not mapping:
            continue
        for name in tracker.masks:
            raw = mapping.get(name)
            if raw is not None and not isinstance(raw, bool):
                found.append(safe_str(raw))
    return found


def _entity_name(tracker: Tracker, instance: models.Model, secrets: list[str]) -> str:
    fallback = f"{type(instance).__name__} object ({instance.pk})"
    getter = tracker.options.entity_name
    try:
        name = getter(instance) if getter is not None else str(instance)
    except Exception:
        name = fallback
    return scrub_text(safe_str(name, fallback), secrets) or fallback


def _guest(tracker: Tracker, instance: models.Model) -> dict[str, Any] | None:
    if not tracker.options.guest_fields:
        return None
    guest = {}
    for key, name in tracker.options.guest_fields.items():
        value = getattr(instance, name, None)
        if value not in (None, ""):
            guest[key] = safe_str(value)
    return guest


def _labels(tracker: Tracker) -> dict[str, str]:
    """Verbose names of the tracked fields in the active language (cached)."""
    language = get_language()
    labels = tracker.labels_cache.get(language)
    if labels is None:
        labels = {f.name: safe_str(getattr(f, "verbose_name", f.name)) for f in tracker.fields}
        tracker.labels_cache[language] = labels
    return labels


def _description(
    tracker: Tracker,
    instance: models.Model,
    action: str,
    name: str,
    changed: list[str],
    old_values: Mapping[str, Any] | None,
    new_values: Mapping[str, Any] | None,
    secrets: list[str],
) -> str:
    custom = tracker.options.description
    if custom is not None:
        try:
            text = custom(
                instance=instance,
                action=action,
                changed_fields=changed,
                old_values=old_values,
                new_values=new_values,
            )
        except Exception:
            text = None
        if text:
            return scrub_text(safe_str(text), secrets) or ""
    verbose = safe_str(tracker.model._meta.verbose_name)
    triples = descriptions.change_triples(_labels(tracker), changed, old_values, new_values)
    return scrub_text(descriptions.describe(action, verbose, name, triples), secrets) or ""


def build_log(
    tracker: Tracker,
    instance: models.Model,
    action: str,
    old_values: dict[str, Any] | None,
    new_values: dict[str, Any] | None,
    changed: list[str] | None,
    raw_values: list[Mapping[str, Any] | None],
    actor_fields: Mapping[str, Any] | None = None,
) -> ActivityLog:
    """An unsaved log row for ``instance`` (masked, named, described)."""
    secrets = _secrets(tracker, raw_values)
    name = _entity_name(tracker, instance, secrets)
    description = _description(
        tracker, instance, action, name, changed or [], old_values, new_values, secrets
    )
    guest = _guest(tracker, instance)
    return writer.build(
        action=action,
        entity=tracker.entity,
        computed_entity=tracker.computed_entity,
        pk=instance.pk,
        entity_name=name,
        old_values=old_values,
        new_values=new_values,
        changed_fields=changed,
        description=description,
        guest=guest,
        actor_fields=actor_fields if guest is None else None,
    )


def create_log(
    tracker: Tracker, instance: models.Model, actor_fields: Mapping[str, Any] | None = None
) -> ActivityLog:
    """The log of a created ``instance``: every tracked, loaded field."""
    data = instance.__dict__
    fields = [f for f in tracker.fields if f.attname in data and not is_expression(data[f.attname])]
    raw = {f.name: _python(f, data[f.attname]) for f in fields}
    values = {f.name: _render(tracker, f, raw[f.name]) for f in fields}
    return build_log(tracker, instance, "create", None, values, None, [raw], actor_fields)


def update_log(
    tracker: Tracker,
    instance: models.Model,
    fields: Iterable[models.Field[Any, Any]],
    old_row: Mapping[str, Any],
    new_row: Mapping[str, Any],
    actor_fields: Mapping[str, Any] | None = None,
) -> ActivityLog | None:
    """The log of an update, or ``None`` if no tracked field changed.

    ``old_row`` and ``new_row`` map attnames to values.
    """
    old_values: dict[str, Any] = {}
    new_values: dict[str, Any] = {}
    changed: list[str] = []
    raw_old: dict[str, Any] = {}
    raw_new: dict[str, Any] = {}
    for f in fields:
        old = old_row[f.attname]
        new = new_row.get(f.attname)
        if not _differs(f, old, new):
            continue
        new = _python(f, new)
        changed.append(f.name)
        raw_old[f.name], raw_new[f.name] = old, new
        old_values[f.name] = _render(tracker, f, old)
        new_values[f.name] = _render(tracker, f, new)
    if not changed:
        return None
    return build_log(
        tracker,
        instance,
        "update",
        old_values,
        new_values,
        changed,
        [raw_old, raw_new],
        actor_fields,
    )


# -- entry points -------------------------------------------------------------
def log_save(
    tracker: Tracker,
    instance: models.Model,
    created: bool,
    snap: Snapshot | None,
    using: str | None,
) -> None:
    if created or snap is None or not snap.exists:
        if "create" in tracker.actions:
            writer.insert(create_log(tracker, instance), using, need_id=False)
        return
    if "update" not in tracker.actions or snap.values is None:
        return
    new_row = {**instance.__dict__, **snap.computed}
    log = update_log(tracker, instance, snap.fields, snap.values, new_row)
    if log is not None:
        writer.insert(log, using, need_id=False)


def delete_log(tracker: Tracker, instance: models.Model) -> ActivityLog:
    """The log of a deleted ``instance``: every tracked, loaded field."""
    data = instance.__dict__
    # Deferred columns are not fetched, and a value still holding an
    # expression (Django < 6 does not refresh it after save) is not a value.
    fields = [f for f in tracker.fields if f.attname in data and not is_expression(data[f.attname])]
    raw = {f.name: _python(f, data[f.attname]) for f in fields}
    old_values = {f.name: _render(tracker, f, raw[f.name]) for f in fields}
    return build_log(tracker, instance, "delete", old_values, None, None, [raw])
