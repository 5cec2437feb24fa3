"""django-auditlog's ``LogEntry`` rows as entries.

auditlog already stores changes: ``changes`` maps a field name to
``[old, new]``, as text (``"None"`` for null) unless the project stored JSON
(``AUDITLOG_STORE_JSON_CHANGES``). Each value is turned back into a Python
value through the model's field where the model still exists. A
many-to-many entry (``{"type": "m2m", "operation": ..., "objects": [...]}``)
names the related objects by ``str()``, not by key, so it is kept as it was
under ``extra_data["m2m"]`` rather than as key lists.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models

from autoaudit.enums import ActionType
from autoaudit.lifecycle.importers.core import (
    Entry,
    ImportSourceError,
    content_type_rows,
    guest_actor,
    system_actor,
)
from autoaudit.tracking.manual import loggable_fields

#: auditlog's ``LogEntry.Action`` values.
_ACTIONS = {0: ActionType.CREATE, 1: ActionType.UPDATE, 2: ActionType.DELETE, 3: ActionType.VIEW}


def _log_entry_model() -> type[models.Model]:
    if not apps.is_installed("auditlog"):
        raise ImportSourceError("--from auditlog: django-auditlog is not in INSTALLED_APPS.")
    from django.conf import settings

    label = getattr(settings, "AUDITLOG_LOGENTRY_MODEL", "auditlog.LogEntry")
    model: type[models.Model] = apps.get_model(label)
    return model


def from_text(field: models.Field[Any, Any] | None, value: Any) -> Any:
    """An auditlog value (text, or JSON) as the field's Python value."""
    if not isinstance(value, str) or field is None:
        return value
    if value == "None":
        return None
    if isinstance(field, models.JSONField):
        try:
            return json.loads(value)
        except ValueError:
            return value
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    try:
        python = target.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return value
    naive = isinstance(python, dt.datetime) and python.tzinfo is None
    if isinstance(field, models.DateTimeField) and naive:  # auditlog stores UTC, no offset
        python = python.replace(tzinfo=dt.UTC)
    return python


def _field(model: type[models.Model] | None, name: str) -> models.Field[Any, Any] | None:
    if model is None:
        return None
    try:
        found = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return found if isinstance(found, models.Field) else None


def _field_order(model: type[models.Model] | None) -> Callable[[str], tuple[int, str]]:
    """A sort key putting field names in the model's order (unknown ones last)."""
    order = {f.name: i for i, f in enumerate(model._meta.get_fields())} if model else {}
    return lambda name: (order.get(name, len(order)), name)


class AuditlogSource:
    """``autoaudit_import --from auditlog``."""

    name = "auditlog"

    def __init__(self) -> None:
        self.model = _log_entry_model()
        self._fields: dict[type[models.Model], frozenset[str]] = {}
        self._tracked: dict[type[models.Model], frozenset[str]] = {}

    def tracked(self, model: type[models.Model]) -> frozenset[str]:
        """The fields autoaudit logs for ``model`` (its own options, if registered)."""
        found = self._tracked.get(model)
        if found is None:
            found = self._tracked[model] = frozenset(f.name for f in loggable_fields(model))
        return found

    def logged_fields(self, model: type[models.Model]) -> frozenset[str]:
        """The fields auditlog logs for ``model`` (its include/exclude options)."""
        found = self._fields.get(model)
        if found is None:
            from auditlog.registry import auditlog

            names = {f.name for f in model._meta.fields}
            if auditlog.contains(model):
                options = auditlog.get_model_fields(model)
                if options["include_fields"]:
                    names &= set(options["include_fields"])
                names -= set(options["exclude_fields"])
            found = self._fields[model] = frozenset(names)
        return found

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
        rows = self._rows(models_).select_related("content_type").order_by("timestamp", "pk")
        if since is not None:
            rows = rows.filter(timestamp__gte=since)
        last: tuple[Any, Any] | None = None
        while True:
            page = rows
            if last is not None:  # keyset pages: stable while the site writes
                page = page.filter(
                    models.Q(timestamp__gt=last[0]) | models.Q(timestamp=last[0], pk__gt=last[1])
                )
            batch = list(page[:batch_size])
            if not batch:
                return
            last = (batch[-1].timestamp, batch[-1].pk)
            yield len(batch), [self.entry(row) for row in batch]

    def entry(self, row: Any) -> Entry:
        """One ``LogEntry`` as an entry."""
        model = row.content_type.model_class()
        changes = row.changes
        if not changes and row.changes_text:
            try:
                changes = json.loads(row.changes_text)
            except ValueError:
                changes = None
        action = _ACTIONS.get(row.action, ActionType.UPDATE)
        old: dict[str, Any] = {}
        new: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        m2m: dict[str, Any] = {}
        if not isinstance(changes, Mapping):
            changes = {}
        for name in sorted(changes, key=_field_order(model)):  # PostgreSQL's JSONB reorders
            change = changes[name]
            if isinstance(change, Mapping) and change.get("type") == "m2m":
                m2m[name] = {k: change.get(k) for k in ("operation", "objects")}
                continue
            if not isinstance(change, list | tuple) or len(change) != 2:
                continue
            field = _field(model, name)
            if model is not None and name not in self.tracked(model):
                continue  # the key, auto_now fields, what autoaudit's options exclude
            old[name] = from_text(field, change[0])
            new[name] = from_text(field, change[1])
        if m2m:
            extra["m2m"] = m2m
        if row.additional_data:
            extra["additional_data"] = row.additional_data
        if model is not None and action in (ActionType.CREATE, ActionType.DELETE):
            # auditlog leaves out what equals "None" on the other side: a
            # null value of a create or a delete.
            absent = (self.logged_fields(model) & self.tracked(model)) - set(new)
            for name in sorted(absent, key=_field_order(model)):
                old[name] = new[name] = None
        if action == ActionType.CREATE:
            values: tuple[Any, Any, Any] = (None, new, None)
        elif action == ActionType.DELETE:
            values = (old, None, None)
        elif action == ActionType.VIEW:
            values = (None, None, None)
        else:
            values = (old or None, new or None, list(old) + list(m2m))
        if row.actor_id is not None:
            actor = None
        elif row.actor_email:  # the account was deleted; auditlog kept its email
            actor = {"user": None, "actor_type": "user", "actor_identifier": row.actor_email}
        elif row.remote_addr:
            actor = guest_actor(row.remote_addr)
        else:
            actor = system_actor()
        ct = row.content_type
        return Entry(
            source_id=str(row.pk),
            when=row.timestamp,
            action=action,
            model=model,
            entity=None if model is not None else (ct.model, f"{ct.app_label}.{ct.model}"),
            pk=row.object_pk,
            old=values[0],
            new=values[1],
            changed=values[2],
            name=row.object_repr,
            user_pk=row.actor_id,
            actor=actor,
            extra=extra,
            request_id=row.cid,
            ip=row.remote_addr,
        )
