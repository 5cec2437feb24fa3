"""What a logged change means, in words: ``log.changes_display()``.

The stored values are JSON as they were written (codes, pks, ISO dates).
This module turns them into what a reader expects: fields by verbose name,
choice labels, ``str()`` of related objects, yes/no, localized dates and
numbers, and JSON values by the paths inside them that changed.

:func:`readable_changes` works on a list of logs at once and reads the
related objects of all of them with one query per related model, so a page
of the timeline or the admin costs the same few queries however many rows
it shows. Masked values are shown as stored (they are masked already) and
never looked up; logs of models that are gone, fields that no longer exist
and related objects since deleted are shown from the stored values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext

from autoaudit.conf import get_settings
from autoaudit.tracking.registry import registry
from autoaudit.values.diff import MISSING, join_path, nested_paths, value_at
from autoaudit.values.labels import model_for_label
from autoaudit.values.masking import REDACTED, strategy_for
from autoaudit.values.serialization import json_text, safe_str

#: Characters of a JSON value rendered as text (its cost is bounded by it,
#: however big the stored value).
JSON_TEXT_LIMIT = 2000
#: The prefix of a ``hash``-masked value.
_HASH_PREFIX = "hmac-sha256:"

if TYPE_CHECKING:
    Field = models.Field[Any, Any]
else:
    Field = models.Field  # generic only for type checkers (django-stubs)


class LogValues(Protocol):
    """What :func:`readable_changes` reads of a log row (an ``ActivityLog``)."""

    action: str
    computed_entity: str
    old_values: Any
    new_values: Any
    changed_fields: Any


@dataclass(frozen=True)
class ReadableChange:
    """One change of a log, readable.

    ``path`` is the stored name (``"price"``, ``"metadata.specs.ram"``),
    ``label`` the same in words (the field's verbose name); ``old`` and
    ``new`` are display texts, ``None`` when there is no value. ``kind`` is
    ``"changed"``, ``"added"`` (no old value: a create, or a key added) or
    ``"removed"`` (a delete, or a key removed); ``masked`` says the values
    are shown as stored because the field is masked.
    """

    path: str
    label: str
    old: str | None
    new: str | None
    kind: str
    masked: bool = False


# Related objects, read once per related model --------------------------------

#: (related model, the field of it that stored keys are values of)
_Target = tuple[type[models.Model], Field]


def _relation(field: Field | None) -> _Target | None:
    """Where the keys stored under a relation field point (``None`` if not one)."""
    if field is None or not field.is_relation or not isinstance(field.related_model, type):
        return None
    related: type[models.Model] = field.related_model
    if field.many_to_many:
        return related, related._meta.pk
    target = getattr(field, "target_field", None)  # the pk, or a ``to_field``
    return (related, target) if target is not None else None


def _key(target: _Target, key: Any) -> Any:
    """A stored key as the related field's Python value (``None`` if it cannot be)."""
    if key is None or isinstance(key, dict | list | bool):
        return None
    try:
        return target[1].to_python(key)
    except (ValidationError, ValueError, TypeError):
        return None


class _Related:
    """``str()`` of the related objects a page of logs names, by key: first
    every key is noted (:meth:`want`), then each related model is read once
    (:meth:`load`)."""

    def __init__(self) -> None:
        self.wanted: dict[_Target, set[Any]] = defaultdict(set)
        self.found: dict[_Target, dict[Any, str]] = {}

    def want(self, field: Field, value: Any) -> None:
        target = _relation(field)
        if target is None:
            return
        for key in value if isinstance(value, list) else [value]:
            typed = _key(target, key)
            if typed is not None:
                self.wanted[target].add(typed)

    def load(self) -> None:
        for target, keys in self.wanted.items():
            model, field = target
            # The base manager: what the default manager hides is still named.
            rows = model._base_manager.filter(**{f"{field.attname}__in": keys}).order_by()
            self.found[target] = {
                getattr(obj, field.attname): safe_str(obj, f"#{getattr(obj, field.attname)}")
                for obj in rows
            }

    def name(self, field: Field, key: Any) -> str:
        target = _relation(field)
        if target is None:
            return _text(key)
        found = self.found.get(target, {})
        typed = _key(target, key)
        if typed is not None and typed in found:
            return found[typed]
        return gettext("#%(key)s (deleted)") % {"key": _text(key)}


# Values -----------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json_text(value, JSON_TEXT_LIMIT, sort_keys=True)


def _yes_no(value: bool) -> str:
    # Django's own "yes,no,maybe" (the yesno filter's), translated in every locale.
    yes, no, _maybe = gettext("yes,no,maybe").split(",")
    return yes if value else no


def _choices(field: Field) -> dict[Any, str]:
    return {key: safe_str(label) for key, label in field.flatchoices}


def _plain(field: Field | None, value: Any, related: _Related) -> str | None:
    """One stored value as a reader should see it."""
    if value is None or value is MISSING:
        return None
    if field is None or isinstance(value, dict) or isinstance(field, models.JSONField):
        return _text(value)
    if field.many_to_many and isinstance(value, list):
        return ", ".join(related.name(field, key) for key in value)
    if field.is_relation:
        return related.name(field, value)
    try:
        python = field.to_python(value)
    except (ValidationError, ValueError, TypeError):
        return _text(value)
    if field.choices:
        choices = _choices(field)
        if python in choices:
            return choices[python]
    if isinstance(python, bool):
        return _yes_no(python)
    if isinstance(python, datetime):
        if timezone.is_aware(python):
            python = timezone.localtime(python)
        return formats.date_format(python, "DATETIME_FORMAT")
    if isinstance(python, date):
        return formats.date_format(python, "DATE_FORMAT")
    if isinstance(python, time):
        return formats.time_format(python, "TIME_FORMAT")
    if isinstance(python, Decimal | int | float):
        return str(formats.localize(python))
    return _text(value)


def _masked_text(value: Any) -> bool:
    return isinstance(value, str) and (value == REDACTED or value.startswith(_HASH_PREFIX))


# Logs -------------------------------------------------------------------------


class _Reader:
    """How one model's logged names read: field, label, masked or not."""

    def __init__(self, model: type[models.Model] | None) -> None:
        self.model = model
        tracker = registry.tracker_for(model) if model is not None else None
        self.policy = tracker.policy if tracker is not None else None
        self.global_masks = get_settings().MASK_FIELDS

    def field(self, name: str) -> Field | None:
        if self.model is None:
            return None
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return None  # a field since removed: shown from the stored value
        if not isinstance(field, models.Field):  # a reverse relation
            return None
        return field

    def label(self, name: str, field: Field | None) -> str:
        if field is None:
            return name
        return safe_str(field.verbose_name, name)

    def masked(self, name: str) -> bool:
        if self.policy is not None:
            return self.policy.strategy(name) is not None
        return strategy_for(name, {}, self.global_masks) is not None


def _maps(log: LogValues) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    old, new = log.old_values, log.new_values
    return (
        old if isinstance(old, Mapping) else None,
        new if isinstance(new, Mapping) else None,
    )


def _names(log: LogValues, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    changed = log.changed_fields
    if isinstance(changed, list) and changed:
        return [str(name) for name in changed]
    return list(dict.fromkeys([*old, *new]))


def _rows(
    log: LogValues, reader: _Reader, related: _Related, *, collect: bool
) -> list[ReadableChange]:
    """The log's changes; with ``collect``, only note the related keys they need."""
    old_map, new_map = _maps(log)
    rows: list[ReadableChange] = []
    if old_map is not None and new_map is not None:
        names = _names(log, old_map, new_map)
        pairs = [(name, old_map.get(name, MISSING), new_map.get(name, MISSING)) for name in names]
        kind = "changed"
    elif new_map is not None:  # a create: its values
        pairs = [(name, None, value) for name, value in new_map.items()]
        kind = "added"
    elif old_map is not None:  # a delete: the values it took away
        pairs = [(name, value, None) for name, value in old_map.items()]
        kind = "removed"
    else:
        return rows
    for name, old, new in pairs:
        field = reader.field(name)
        masked = reader.masked(name) or _masked_text(old) or _masked_text(new)
        if collect:
            if not masked and field is not None:
                related.want(field, old)
                related.want(field, new)
            continue
        label = reader.label(name, field)
        if masked:
            rows.append(ReadableChange(name, label, _or_none(old), _or_none(new), kind, True))
            continue
        many = field is not None and field.many_to_many
        paths = [] if many or kind != "changed" else nested_paths(old, new)
        if any(paths):
            for path in paths:
                inner_old, inner_new = value_at(old, path), value_at(new, path)
                inner_kind = (
                    "added" if inner_old is MISSING else "removed" if inner_new is MISSING else kind
                )
                rows.append(
                    ReadableChange(
                        join_path(name, path),
                        join_path(label, path),
                        None if inner_old is MISSING else _or_none(inner_old),
                        None if inner_new is MISSING else _or_none(inner_new),
                        inner_kind,
                    )
                )
            continue
        # A name only one side of an update has was added or removed.
        own = "added" if old is MISSING else "removed" if new is MISSING else kind
        rows.append(
            ReadableChange(
                name, label, _plain(field, old, related), _plain(field, new, related), own
            )
        )
    return rows


def _or_none(value: Any) -> str | None:
    return None if value is None or value is MISSING else _text(value)


def readable_changes(logs: Iterable[LogValues]) -> list[list[ReadableChange]]:
    """The changes of each log (in the order given), readable.

    One query per related model the logs name (foreign keys and
    many-to-many values), whatever the number of logs; none if they name
    none.
    """
    logs = list(logs)
    readers: dict[str, _Reader] = {}
    related = _Related()

    def reader_of(log: LogValues) -> _Reader:
        label = str(log.computed_entity or "")
        reader = readers.get(label)
        if reader is None:
            reader = readers[label] = _Reader(model_for_label(label))
        return reader

    for log in logs:
        _rows(log, reader_of(log), related, collect=True)
    related.load()
    return [_rows(log, reader_of(log), related, collect=False) for log in logs]


def changes_display(log: LogValues) -> list[tuple[str, str | None, str | None]]:
    """``log.changes_display()``: ``(label, old, new)`` of each change."""
    return triples(readable_changes([log])[0])


def triples(changes: Sequence[ReadableChange]) -> list[tuple[str, str | None, str | None]]:
    """``(label, old, new)`` of each change (what ``changes_display()`` returns)."""
    return [(change.label, change.old, change.new) for change in changes]
