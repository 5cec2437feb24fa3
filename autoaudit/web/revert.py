"""Revert and Restore in the admin: who may, and what it would do.

The log detail page offers **Revert** (an update or a create) or
**Restore** (a delete) to a user with the permission the undo needs on the
target model: *change* to set an update back, *delete* to delete what a
create made, *add* to recreate what a delete removed. The confirmation page
shows the change the revert would make; only a POST (with Django's CSRF
check) makes it.

What the revert would do comes from :meth:`ActivityLog.revert_preview`,
which works it out from the same rules without writing anything, and is
shown in the timeline's old → new table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_permission_codename
from django.core.exceptions import FieldDoesNotExist

from autoaudit.enums import ActionType
from autoaudit.models import ActivityLog
from autoaudit.values.serialization import safe_str
from autoaudit.versions.display import readable_changes
from autoaudit.versions.errors import RevertError
from autoaudit.web.display import Change, changes_of

#: The permission each undo needs on the target model.
PERMISSIONS = {
    ActionType.UPDATE: "change",
    ActionType.CREATE: "delete",
    ActionType.DELETE: "add",
}


def undo_kind(log: ActivityLog) -> str | None:
    """``"revert"`` (an update or a create), ``"restore"`` (a delete), or
    ``None`` for a log no revert applies to (a login, a view, a log whose
    model is gone)."""
    if log.action not in PERMISSIONS or log.get_target_model_class() is None:
        return None
    return "restore" if log.action == ActionType.DELETE else "revert"


def may_undo(user: Any, log: ActivityLog) -> bool:
    """Whether ``user`` may revert (or restore) what ``log`` records: the
    change, delete or add permission on its target model."""
    model = log.get_target_model_class()
    if model is None or log.action not in PERMISSIONS or not user.is_active:
        return False
    opts = model._meta
    codename = get_permission_codename(PERMISSIONS[ActionType(log.action)], opts)
    return bool(user.has_perm(f"{opts.app_label}.{codename}"))


@dataclass
class Preview:
    """What reverting a log would do: the change (``changes``, ``snapshot``
    and ``hidden_changes`` as the changes table reads them from an entry),
    the fields changed since (``conflicts``, to be overwritten on request),
    or why it cannot be done (``error``)."""

    changes: list[Change] = field(default_factory=list)
    snapshot: bool = False
    hidden_changes: int = 0
    conflicts: list[str] = field(default_factory=list)
    error: str = ""


def preview(log: ActivityLog) -> Preview:
    """What :meth:`ActivityLog.revert` would do now (nothing is written)."""
    try:
        plan = log.revert_preview()
    except RevertError as error:
        return Preview(error=str(error))
    now = {name: value for name, value, _after in plan.changes}
    after = {name: value for name, _now, value in plan.changes}
    # The change the revert would log, read as any logged change is.
    would_log = ActivityLog(
        action=plan.action,
        computed_entity=log.computed_entity,
        old_values=now if plan.action != ActionType.CREATE else None,
        new_values=after if plan.action != ActionType.DELETE else None,
        changed_fields=list(now) if plan.action == ActionType.UPDATE else None,
    )
    changes, snapshot, hidden = changes_of(would_log, readable_changes([would_log])[0])
    return Preview(changes, snapshot, hidden, conflicts=_labels(log, plan.conflicts))


def _labels(log: ActivityLog, names: tuple[str, ...]) -> list[str]:
    """The verbose names of the fields ``names``, as the changes show them."""
    model = log.get_target_model_class()
    labels = []
    for name in names:
        try:
            field = model._meta.get_field(name) if model else None
            labels.append(safe_str(getattr(field, "verbose_name", name), name))
        except FieldDoesNotExist:  # a field since removed
            labels.append(name)
    return labels
