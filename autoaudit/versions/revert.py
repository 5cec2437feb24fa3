"""Undo one logged change: an update set back, a create deleted, a delete
restored (same primary key, with its many-to-many links where logged).

A revert is an ordinary tracked change of a registered model, made inside
``context(reverts=<log id>)``: it is logged by the current actor through
the one assembler, with ``extra_data["reverts"]``, and a revert can be
reverted in turn. The target's row is locked while its current values are
compared with the log's (the conflict check) and changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeAlias

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, models, router, transaction

from autoaudit.actors.scopes import context, is_disabled
from autoaudit.enums import ActionType
from autoaudit.tracking.links import sides, sorted_pks
from autoaudit.tracking.registry import Tracker, entity_labels, registry
from autoaudit.tracking.snapshot import python_value
from autoaudit.tracking.store import log_model
from autoaudit.values.keys import stored_pk
from autoaudit.values.labels import model_for_label
from autoaudit.values.serialization import is_cut, pk_text
from autoaudit.versions.asof import logs_of, replay
from autoaudit.versions.convert import (
    MISSING,
    from_log,
    history_fields,
    key_from_text,
    policy_of,
    tracked_names,
)
from autoaudit.versions.errors import RevertConflict, RevertError


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
    # A key too long for entity_pk was cut: it names no row exactly.
    pk = MISSING if text is None or is_cut(str(text)) else key_from_text(model, str(text))
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


def _row(model: type[models.Model], pk: Any, using: str, log: LogRow, lock: bool) -> models.Model:
    """The object, locked for the revert (``lock``) or read for a preview."""
    rows = model._default_manager.db_manager(using).all()
    try:
        return (rows.select_for_update() if lock else rows).get(pk=pk)
    except ObjectDoesNotExist:
        raise RevertError(
            f"{model._meta.label} {pk!r} no longer exists: log {log.pk} cannot be "
            "reverted (restore the object first)."
        ) from None


def _differing(
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


@dataclasses.dataclass(frozen=True, eq=False)
class RevertPreview:
    """What reverting one log would do, worked out without changing anything
    (``ActivityLog.revert_preview()``; the admin's confirmation page).

    ``action`` is what the revert does: ``"update"`` (an update set back),
    ``"delete"`` (a create undone) or ``"create"`` (a delete undone: a
    restore). ``changes`` lists ``(field, now, after)`` with Python values:
    for a delete ``after`` is ``None``, for a create ``now`` is ``None``;
    many-to-many fields as lists of related primary keys. ``conflicts``
    names the fields that changed since the log (``revert()`` raises
    :class:`RevertConflict` for them unless ``force=True``).
    """

    log_id: Any
    model: type[models.Model]
    pk: Any
    action: str
    changes: tuple[tuple[str, Any, Any], ...]
    conflicts: tuple[str, ...]
    #: the object as it is now (``None`` for a restore)
    current: models.Model | None = dataclasses.field(default=None, repr=False)


def _plan_update(
    log: LogRow, model: type[models.Model], tracker: Tracker, pk: Any, using: str, lock: bool
) -> RevertPreview:
    new = log.new_values if isinstance(log.new_values, dict) else {}
    names = list(log.changed_fields or new)
    values = _known(log, model, tracker, names, (("old", log.old_values), ("new", new)))
    obj = _row(model, pk, using, log, lock)
    fields = history_fields(model)
    old = values["old"]
    changes = tuple((name, _current(fields[name], obj), old[name]) for name in old)
    conflicts = tuple(_differing(obj, model, values["new"]))
    return RevertPreview(log.pk, model, pk, ActionType.UPDATE, changes, conflicts, obj)


def _plan_create(
    log: LogRow, model: type[models.Model], tracker: Tracker, pk: Any, using: str, lock: bool
) -> RevertPreview:
    obj = _row(model, pk, using, log, lock)
    fields = history_fields(model)
    tracked = tracked_names(model, tracker)
    policy = policy_of(tracker)
    created: dict[str, Any] = {f.name: [] for f in tracker.m2m}
    for name, stored in (log.new_values or {}).items():
        if name in fields and name in tracked:
            value = from_log(fields[name], stored, policy)
            if value is not MISSING:
                created[name] = value
    changes = tuple((name, _current(f, obj), None) for name, f in fields.items() if name in tracked)
    conflicts = tuple(_differing(obj, model, created))
    return RevertPreview(log.pk, model, pk, ActionType.DELETE, changes, conflicts, obj)


def _target_exists(field: Field, value: Any, using: str) -> bool:
    """Whether the row a constrained foreign key value points at exists (any
    other field: true)."""
    if not isinstance(field, models.ForeignKey) or not getattr(field, "db_constraint", True):
        return True
    manager = field.related_model._default_manager.db_manager(using)
    return bool(manager.filter(**{field.target_field.attname: value}).exists())


def _plan_delete(
    log: LogRow, model: type[models.Model], tracker: Tracker, pk: Any, using: str
) -> RevertPreview:
    label = model._meta.label
    if model._default_manager.db_manager(using).filter(pk=pk).exists():
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
    dangling = [
        name
        for name, value in values.items()
        if value is not None and not _target_exists(fields[name], value, using)
    ]
    if dangling:
        raise RevertError(
            f"{label} {pk!r} cannot be restored: {_names(dangling)} pointed at rows that "
            "no longer exist.",
            dangling,
        )
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
    changes = tuple((name, None, value) for name, value in {**values, **links}.items())
    return RevertPreview(log.pk, model, pk, ActionType.CREATE, changes, ())


def _plan(
    log: LogRow, model: type[models.Model], tracker: Tracker, pk: Any, using: str, lock: bool
) -> RevertPreview:
    if log.action == ActionType.UPDATE:
        return _plan_update(log, model, tracker, pk, using, lock)
    if log.action == ActionType.CREATE:
        return _plan_create(log, model, tracker, pk, using, lock)
    return _plan_delete(log, model, tracker, pk, using)


def _apply(plan: RevertPreview, using: str) -> None:
    """Make the change ``plan`` describes, through the ordinary tracked paths."""
    model, obj = plan.model, plan.current
    fields = history_fields(model)
    if plan.action == ActionType.DELETE:
        assert obj is not None
        obj.delete(using=using)
        return
    links = [(n, after) for n, _now, after in plan.changes if fields[n].many_to_many]
    plain = [(n, after) for n, _now, after in plan.changes if not fields[n].many_to_many]
    if plan.action == ActionType.CREATE:
        obj = model(**{fields[name].attname: value for name, value in plain})
        obj.pk = plan.pk
        obj.save(using=using, force_insert=True)
    else:
        assert obj is not None
        for name, value in plain:
            setattr(obj, fields[name].attname, value)
        if plain:
            obj.save(using=using, update_fields=[name for name, _value in plain])
    for name, pks in links:
        _set_links(obj, fields[name], pks, using)


def preview(log: LogRow) -> RevertPreview:
    """What :func:`revert` of ``log`` would do, without doing it; raises
    :class:`RevertError` where the revert would (conflicts are reported in
    :attr:`RevertPreview.conflicts`, not raised)."""
    model, tracker, pk = _subject(log)
    return _plan(log, model, tracker, pk, router.db_for_write(model), lock=False)


#: The action that undoes each action.
_UNDONE_BY = {
    ActionType.UPDATE: ActionType.UPDATE,
    ActionType.CREATE: ActionType.DELETE,
    ActionType.DELETE: ActionType.CREATE,
}


def revert(log: LogRow, force: bool = False) -> models.Model | None:
    """Undo the change ``log`` records (see :meth:`ActivityLog.revert`); the
    log of the revert (``None`` only if it could not be read back)."""
    model, tracker, pk = _subject(log)
    if is_disabled():
        raise RevertError("A revert must be logged: it cannot run inside autoaudit.disabled().")
    action = log.action
    done = str(_UNDONE_BY[ActionType(action)].value)
    if done not in tracker.actions:
        raise RevertError(
            f"{model._meta.label} is registered without {done!r} in its actions: the "
            f"revert of log {log.pk} (a {done}) would not be logged."
        )
    using = router.db_for_write(model)
    try:
        with transaction.atomic(using=using), context(reverts=log.pk):
            plan = _plan(log, model, tracker, pk, using, lock=True)
            label = f"{model._meta.label} {pk!r}"
            if plan.conflicts and not force:
                what = "it was created" if action == ActionType.CREATE else f"log {log.pk}"
                raise RevertConflict(
                    f"{_names(plan.conflicts)} of {label} changed since {what}; "
                    "revert(force=True) reverts it anyway.",
                    plan.conflicts,
                )
            if action == ActionType.UPDATE and all(now == after for _n, now, after in plan.changes):
                raise RevertError(
                    f"{label} already holds the values from before log {log.pk}: there is "
                    "nothing to revert."
                )
            _apply(plan, using)
    except IntegrityError as exc:
        raise RevertError(f"Log {log.pk} cannot be reverted: {exc}") from exc
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
