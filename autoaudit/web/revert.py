"""Revert and Restore in the admin: who may, and what it would do.

The log detail page offers **Revert** (an update or a create) or
**Restore** (a delete) to a user with the permission the undo needs on the
target model: *change* to set an update back, *delete* to delete what a
create made, *add* to recreate what a delete removed. The confirmation page
shows the change the revert would make; only a POST (with Django's CSRF
check) makes it.

What the revert would do is asked of the revert itself
(:meth:`ActivityLog.revert`), run inside a transaction that is then rolled
back: the confirmation shows exactly the values, conflicts and errors the
real revert meets, without a second copy of its rules. Nothing of the trial
survives: its rows and its log roll back with it, and what waits for a
commit (``post_log``, sinks, ``on_commit`` writes) never runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_permission_codename
from django.core.exceptions import FieldDoesNotExist
from django.db import router, transaction
from django.utils import timezone

from autoaudit.enums import ActionType
from autoaudit.history.display import readable_changes
from autoaudit.history.errors import RevertConflict, RevertError
from autoaudit.models import ActivityLog
from autoaudit.values.serialization import safe_str
from autoaudit.web.display import Entry, build_entry

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
    """What reverting a log would do: the change (as the timeline shows
    one), the fields changed since (``conflicts``, overridable), or why it
    cannot be done (``error``)."""

    entry: Entry | None = None
    conflicts: list[str] = field(default_factory=list)
    error: str = ""


class _Rollback(Exception):
    """Ends the trial's transaction."""


def _trial(log: ActivityLog, force: bool) -> Entry | None:
    """The entry of the log the revert would write (``None`` if it writes
    none that can be read back), from a revert that is rolled back."""
    model = log.get_target_model_class()
    using = router.db_for_write(model) if model is not None else None
    entry: Entry | None = None
    try:
        with transaction.atomic(using=using):
            made = log.revert(force=force)
            if made is not None:
                # Read inside the trial: the related objects as the revert leaves them.
                rows = readable_changes([made])[0]
                entry = build_entry(made, timezone.now(), readable=rows)
            raise _Rollback
    except _Rollback:
        pass
    return entry


def preview(log: ActivityLog) -> Preview:
    """What :meth:`ActivityLog.revert` would do now, found by trying it."""
    try:
        return Preview(entry=_trial(log, force=False))
    except RevertConflict as conflict:
        labels = _labels(log, conflict.fields)
        try:
            return Preview(entry=_trial(log, force=True), conflicts=labels)
        except RevertError as error:
            return Preview(conflicts=labels, error=str(error))
    except RevertError as error:
        return Preview(error=str(error))


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
