"""autoaudit: a zero-code activity log for Django.

The public names live here. Nothing at import time touches the app registry,
so ``import autoaudit`` works in ``models.py`` (the ``register`` decorator).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, cast

from autoaudit.actors.scopes import actor, context, disabled
from autoaudit.enums import ActionType, ActorType
from autoaudit.tracking.accessor import ActivityAccessor
from autoaudit.tracking.registry import is_registered, register, unregister
from autoaudit.versions.errors import RevertConflict, RevertError
from autoaudit.versions.version import Version

if TYPE_CHECKING:
    import datetime

    from django.db import models
    from django.http import HttpRequest

    from autoaudit.models import ActivityLog, ActivityLogQuerySet

try:
    __version__ = version("autoaudit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ActionType",
    "ActivityAccessor",
    "ActorType",
    "RevertConflict",
    "RevertError",
    "Version",
    "__version__",
    "actor",
    "as_of",
    "context",
    "disabled",
    "get_client_ip",
    "history",
    "is_registered",
    "log_activity",
    "log_model_change",
    "register",
    "restore",
    "unregister",
]


def history(obj: models.Model) -> ActivityLogQuerySet:
    """The logs of one object, newest first (``ActivityLog.objects.for_instance``)."""
    from autoaudit.models import ActivityLog

    return ActivityLog.objects.for_instance(obj)


def as_of(model: type[models.Model], pk: Any, when: datetime.datetime) -> Version | None:
    """The object ``pk`` of ``model`` as its logs say it was at ``when``.

    The logs up to ``when`` (included) are replayed, oldest first: the
    create, updates, bulk updates and many-to-many changes. Returns a
    :class:`Version` (``values`` as Python values, ``missing`` the fields
    the logs cannot know, ``instance()`` an unsaved instance), or ``None``
    if the object did not exist at ``when`` (not created yet, or deleted).
    A naive ``when`` is in the current time zone. One query.
    """
    from autoaudit.versions.asof import as_of as _as_of

    return _as_of(model, pk, when)


def restore(model: type[models.Model], pk: Any) -> ActivityLog | None:
    """Recreate the deleted object ``pk`` of ``model`` from its latest delete
    log: same primary key, same values, and its many-to-many links where
    they were logged (to related objects that still exist).

    The same as ``revert()`` of that delete log: logged as a create by the
    current actor with ``extra_data["reverts"]``, whose log is returned.
    Raises :class:`RevertError` if no delete is logged, the object exists
    again, or the log does not hold every value (masked, excluded, cut).
    """
    from autoaudit.versions.revert import restore as _restore

    return cast("ActivityLog | None", _restore(model, pk))


def get_client_ip(request: HttpRequest | None) -> str | None:
    """The client's IP address, honouring ``X-Forwarded-For`` only from trusted proxies."""
    from autoaudit.actors.ip import get_client_ip as _get_client_ip

    return _get_client_ip(request)


def log_activity(
    request: HttpRequest | None, action: str, entity_type: str, **kwargs: Any
) -> ActivityLog:
    """Write one log by hand: an action that is not a tracked write (an
    export, a login to another system, a form sent without a model).

    ``request`` may be ``None`` (the current request is used, if any) and
    gives the actor, IP address and user agent. ``action`` is an
    :class:`ActionType` value; ``entity_type`` is ``"app_label.Model"`` or a
    short name (``"report"``). Keyword arguments: ``entity_id``,
    ``entity_name``, ``old_values``, ``new_values``, ``changed_fields``,
    ``description``, ``guest_name``, ``guest_email``, ``guest_phone``,
    ``extra_data``; any other keyword (``source``, ``device``, ...) goes into
    a guest's ``actor_metadata``. Values go through the same masking and
    size limits as automatic logs. Returns the log; inside
    :func:`disabled`, and for a ``view`` by a guest who opted out, it is
    built but not saved."""
    from autoaudit.tracking.manual import log_activity as _log_activity

    return cast("ActivityLog", _log_activity(request, action, entity_type, **kwargs))


def log_model_change(
    request: HttpRequest | None,
    instance: models.Model,
    action: str,
    old_instance: models.Model | None = None,
) -> ActivityLog | None:
    """Log a change of ``instance`` by hand, for a model that is not
    registered or a change made behind Django's back.

    ``action`` is ``"create"``, ``"update"`` or ``"delete"``; for an update,
    ``old_instance`` (a copy from before the change) gives the old values
    and only the fields that differ are logged. Returns the log, or ``None``
    when nothing is written: an update without ``old_instance`` or that
    changed no field, and anything inside :func:`disabled`."""
    from autoaudit.tracking.manual import log_model_change as _log_model_change

    return cast("ActivityLog | None", _log_model_change(request, instance, action, old_instance))
