"""autoaudit: a zero-code activity log for Django.

The public names live here. Nothing at import time touches the app registry,
so ``import autoaudit`` works in ``models.py`` (the ``register`` decorator).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, TypeVar, cast

from autoaudit.actors.scopes import actor, context, disabled
from autoaudit.enums import ActionType, ActorType
from autoaudit.tracking.accessor import ActivityAccessor
from autoaudit.tracking.registry import is_registered, register, unregister

if TYPE_CHECKING:
    from django.db import models
    from django.http import HttpRequest

    from autoaudit.models import ActivityLog, ActivityLogQuerySet

T = TypeVar("T")

try:
    __version__ = version("autoaudit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ActionType",
    "ActivityAccessor",
    "ActorType",
    "__version__",
    "actor",
    "context",
    "disabled",
    "get_client_ip",
    "history",
    "is_registered",
    "log_activity",
    "log_model_change",
    "register",
    "tracked_task",
    "unregister",
]


def history(obj: models.Model) -> ActivityLogQuerySet:
    """The logs of one object, newest first (``ActivityLog.objects.for_instance``)."""
    from autoaudit.models import ActivityLog

    return ActivityLog.objects.for_instance(obj)


def tracked_task(task: T) -> T:
    """Carry the current actor, ``context()`` and request id into a Django
    task (``django.tasks``; the ``django-tasks`` backport on Django 5.2).

    Put it on top of ``@task``; the task's logs in the worker name the
    enqueuing actor, its request id and ``extra_data["task"]``. See
    :func:`autoaudit.actors.tasks.tracked_task`."""
    from autoaudit.actors.tasks import tracked_task as _tracked_task

    return _tracked_task(task)


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
