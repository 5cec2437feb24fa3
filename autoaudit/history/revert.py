"""Undo one logged change: an update set back, a create deleted, a delete
restored (same primary key, with its many-to-many links where logged).

A revert is an ordinary tracked change of a registered model, made inside
``context(reverts=<log id>)``: it is logged by the current actor through
the one assembler, with ``extra_data["reverts"]``, and a revert can be
reverted in turn. The target's row is locked while its current values are
compared with the log's (the conflict check) and changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeAlias

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, models, router, transaction

from autoaudit.actors.scopes import context, is_disabled
from autoaudit.enums import ActionType
from autoaudit.history.asof import logs_of, replay
from autoaudit.history.convert import (
    MISSING,
    from_log,
    history_fields,
    key_from_text,
    policy_of,
    tracked_names,
)
from autoaudit.history.errors import RevertConflict, RevertError
from autoaudit.tracking.links import sides, sorted_pks
from autoaudit.tracking.registry import Tracker, entity_labels, registry
from autoaudit.tracking.snapshot import python_value
from autoaudit.tracking.store import log_model
from autoaudit.values.keys import stored_pk
from autoaudit.values.labels import model_for_label
from autoaudit.values.serialization import pk_text


class LogRow(Protocol):
    """What a revert reads of an ``ActivityLog`` row."""

    pk: Any
    action: str
    computed_entity: str
    entity_pk: str | None
    entity_id: int | None
    old_values: Any
    new_values: Any
    changed_fields: Any
    created_at: Any


Field: TypeAlias = "models.Field[Any, Any]"


def _names(fields: Iterable[str]) -> str:
    return ", ".join(fields)


def _subject(log: LogRow) -> tuple[type[models.Model], Tracker, Any]:
    """The registered model and the primary key a log is about."""
    label = log.computed_entity
    if log.action not in (ActionType.CREATE, ActionType.UPDATE, ActionType.DELETE):
        raise RevertError(
            f"Log {log.pk} records a {log.action!r}, which changes no data: only "
            "create, update and delete logs can be reverted."
        )
    model = model_for_label(label)
    if model is None:
        raise RevertError(
            f"Log {log.pk} is about {label!r}, which is not an installed model: "
            "there is nothing to revert it on."
        )
    tracker = registry.tracker_for(model)
    if tracker is None:
        raise RevertError(
            f"Log {log.pk} is about {label}, which is not registered with autoaudit: "
            "a revert must itself be logged, so register the model first."
        )
    text = log.entity_pk if log.entity_pk is not None else log.entity_id
    pk = MISSING if text is None else key_from_text(model, str(text))
    if pk is MISSING:
        raise RevertError(f"Log {log.pk} does not name a primary key of {label}.")
    return model, tracker, pk


def _current(field: Field, obj: models.Model) -> Any:
    """The value ``obj`` holds for ``field`` (a many-to-many field: its
    related primary keys, sorted as logs sort them)."""
    if isinstance(field, models.ManyToManyField):
        return sorted_pks(getattr(obj, field.name).values_list("pk", flat=True))
    return python_value(field, getattr(obj, field.attname))


def _known(
    log: LogRow,
    model: type[models.Model],
    tracker: Tracker,
    names: Iterable[str],
    sides_: Iterable[tuple[str, Mapping[str, Any] | None]],
) -> dict[str, dict[str, Any]]:
    """``{side: {field: value}}`` of the log's values for ``names``; a
    ``RevertError`` naming the fields it does not hold whole."""
    fields = history_fields(model)
    tracked = tracked_names(model, tracker)
    policy = policy_of(tracker)
    unknown = [name for name in names if name not in fields]
    if unknown:
        raise RevertError(
            f"Log {log.pk} names {_names(unknown)}, which {model._meta.label} has no field for.",
            unknown,
        )
    untracked = [name for name in names if name not in tracked]
    if untracked:
        raise RevertError(
            f"Log {log.pk} cannot be reverted: {_names(untracked)} of {model._meta.label} "
            "is not tracked (excluded), so the revert could not be logged.",
            untracked,
        )
    found: dict[str, dict[str, Any]] = {}
    lacking: list[str] = []
    for side, stored in sides_:
        found[side] = {}
        for name in names:
            value = MISSING if stored is None or name not in stored else stored[name]
            if value is not MISSING:
                value = from_log(fields[name], value, policy)
            if value is MISSING:
                if name not in lacking:
                    lacking.append(name)
            else:
                found[side][name] = value
    if lacking:
        raise RevertError(
            f"Log {log.pk} does not hold the values of {_names(lacking)} (masked, excluded "
            "or cut to size): they cannot be set back.",
            lacking,
        )
    return found


def _locked(model: type[models.Model], pk: Any, using: str, log: LogRow) -> models.Model:
    try:
        return model._default_manager.db_manager(using).select_for_update().get(pk=pk)
    except ObjectDoesNotExist:
        raise RevertError(
            f"{model._meta.label} {pk!r} no longer exists: log {log.pk} cannot be "
            "reverted (restore the object first)."
        ) from None


def _conflicts(
    obj: models.Model, model: type[models.Model], expected: Mapping[str, Any]
) -> list[str]:
    fields = history_fields(model)
    return [name for name, value in expected.items() if _current(fields[name], obj) != value]


def _set_links(obj: models.Model, field: Any, pks: list[Any], using: str) -> None:
    """Set ``obj``'s links of ``field`` to the related objects ``pks`` that
    still exist (the related manager logs the change)."""
    _through, _source, target = sides(field)
    related = target.remote_field.model
    objs = list(related._default_manager.db_manager(using).filter(pk__in=pks))
    getattr(obj, field.name).set(objs)


def _undo_update(
    log: LogRow, model: type[models.Model], tracker: Tracker, pk: Any, using: str, force: bool
) -> None:
    new = log.new_values if isinstance(log.new_values, dict) else {}
    names = list(log.changed_fields or new)
    values = _known(log, model, tracker, names, (("old", log.old_values), ("new", new)))
    obj = _locked(model, pk, using, log)
    conflicts = _conflicts(obj, model, values["new"])
    if conflicts and not force:
        raise RevertConflict(
            f"{_names(conflicts)} of {model._meta.label} {pk!r} changed since log "
            f"{log.pk}; revert(force=True) sets them back anyway.",
            conflicts,
        )
    old = values["old"]
    if not _conflicts(obj, model, old) and old:
        raise RevertError(
            f"{model._meta.label} {pk!r} already holds the values from before log "
            f"{log.pk}: there is nothing to revert."
        )
    fields = history_fields(model)
    plain = [name for name in old if not isinstance(fields[name], models.ManyToManyField)]
    for name in plain:
        setattr(obj, fields[name].attname, old[name])
    if plain:
        obj.save(using=using, update_fields=plain)
    for name in old:
        if name not in plain:
            _set_links(obj, fields[name], old[name], using)


def _undo_create(
    log: LogRow, model: type[models.Model], tracker: Tracker, pk: Any, using: str, force: bool
) -> None:
    obj = _locked(model, pk, using, log)
    if not force:
        fields = history_fields(model)
        tracked = tracked_names(model, tracker)
        policy = policy_of(tracker)
        created: dict[str, Any] = {f.name: [] for f in tracker.m2m}
        for name, stored in (log.new_values or {}).items():
            if name in fields and name in tracked:
                value = from_log(fields[name], stored, policy)
                if value is not MISSING:
                    created[name] = value
        conflicts = _conflicts(obj, model, created)
        if conflicts:
            raise RevertConflict(
                f"{_names(conflicts)} of {model._meta.label} {pk!r} changed since it was "
                f"created (log {log.pk}); revert(force=True) deletes it anyway.",
                conflicts,
            )
    obj.delete(using=using)


def _undo_delete(
    log: LogRow, model: type[models.Model], tracker: Tracker, pk: Any, using: str
) -> None:
    label = model._meta.label
    manager = model._default_manager.db_manager(using)
    if manager.filter(pk=pk).exists():
        raise RevertError(f"{label} {pk!r} exists again: log {log.pk} cannot be reverted.")
    fields = history_fields(model)
    keys = set(model._meta.pk_fields)
    wanted = [
        f.name
        for f in fields.values()
        if f not in keys
        and not isinstance(f, models.ManyToManyField)
        and not f.generated
        and not getattr(f, "auto_now", False)
        and not getattr(f, "auto_now_add", False)
    ]
    values = _known(log, model, tracker, wanted, (("old", log.old_values),))["old"]
    # The links it had: the many-to-many logs up to the delete.
    before = logs_of(model, pk).filter(created_at__lte=log.created_at).exclude(pk=log.pk)
    steps = [
        step
        for step in before.values_list("action", "new_values", "created_at", "id")
        if (step[2], step[3]) < (log.created_at, log.pk)
    ]
    version = replay(model, pk, [(a, n) for a, n, _at, _id in steps], log.created_at)
    known = version.values if version is not None else {}
    links = {f.name: known[f.name] for f in tracker.m2m if known.get(f.name)}
    obj = model(**{fields[name].attname: value for name, value in values.items()})
    obj.pk = pk
    obj.save(using=using, force_insert=True)
    for name, pks in links.items():
        _set_links(obj, fields[name], pks, using)


def revert(log: LogRow, force: bool = False) -> models.Model | None:
    """Undo the change ``log`` records (see :meth:`ActivityLog.revert`); the
    log of the revert (``None`` only if it could not be read back)."""
    model, tracker, pk = _subject(log)
    if is_disabled():
        raise RevertError("A revert must be logged: it cannot run inside autoaudit.disabled().")
    using = router.db_for_write(model)
    action = log.action
    try:
        with transaction.atomic(using=using), context(reverts=log.pk):
            if action == ActionType.UPDATE:
                _undo_update(log, model, tracker, pk, using, force)
            elif action == ActionType.CREATE:
                _undo_create(log, model, tracker, pk, using, force)
            else:
                _undo_delete(log, model, tracker, pk, using)
    except IntegrityError as exc:
        raise RevertError(f"Log {log.pk} cannot be reverted: {exc}") from exc
    done = {
        ActionType.UPDATE: ActionType.UPDATE,
        ActionType.CREATE: ActionType.DELETE,
        ActionType.DELETE: ActionType.CREATE,
    }[ActionType(action)]
    return _revert_log(model, pk, log.pk, done)


def _revert_log(
    model: type[models.Model], pk: Any, reverted: Any, action: str
) -> models.Model | None:
    rows = log_model()._default_manager.filter(
        computed_entity=entity_labels(model)[1],
        entity_pk=pk_text(stored_pk(model, pk)),
        action=action,
        extra_data__reverts=reverted,
    )
    found: models.Model | None = rows.order_by("-created_at", "-id").first()
    return found


def restore(model: type[models.Model], pk: Any) -> models.Model | None:
    """Recreate a deleted object from its latest delete log (see
    :func:`autoaudit.restore`); the create log of the restore."""
    rows = logs_of(model, pk).filter(action=ActionType.DELETE)
    log = rows.order_by("-created_at", "-id").first()
    if log is None:
        raise RevertError(
            f"No delete of {model._meta.label} {pk!r} is logged: there is nothing to restore."
        )
    return revert(log)
