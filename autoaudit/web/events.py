"""Request events that are not data changes: views, downloads, uploads, POSTs.

:func:`log_event` is the one path used by the view decorators, the
class-based-view mixin and the optional POST logging of ``AuditMiddleware``.
It writes nothing inside ``autoaudit.disabled()`` or for a guest who opted
out of tracking (a page view has no reason to be kept without an actor).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, cast

from django.db import models
from django.utils.translation import gettext

from autoaudit.actors.request import using_request
from autoaudit.actors.resolve import should_log
from autoaudit.conf import get_settings
from autoaudit.tracking import manual
from autoaudit.values.labels import model_for_label
from autoaudit.values.serialization import safe_str

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.http import HttpResponseBase

    from autoaudit.models import ActivityLog

__all__ = ["log_event", "should_log"]

#: What a POST logged by ``AuditMiddleware`` is filed under.
REQUEST_ENTITY = ("request", "http.Request")

#: A model instance, a model class, ``"app_label.Model"``, a plain entity name,
#: or an ``(entity, computed_entity)`` pair.
Target = models.Model | type[models.Model] | str | tuple[str, str] | None


def target_model(target: Target) -> type[models.Model] | None:
    """The model a target names, if it names one."""
    if isinstance(target, type) and issubclass(target, models.Model):
        return target
    if isinstance(target, models.Model):
        return type(target)
    return model_for_label(target)


def log_event(
    request: Any,
    action: str,
    target: Target = None,
    *,
    pk: Any = None,
    entity_name: str | None = None,
    description: str | None = None,
    extra_data: Mapping[str, Any] | None = None,
) -> ActivityLog | None:
    """Log ``action`` (``"view"``, ``"download"``, ``"upload"``, ...) on ``target``.

    ``target`` is a model instance (entity, pk and name are taken from it), a
    model class or ``"app_label.Model"`` (give ``pk``/``entity_name`` if
    known), or a plain entity name. ``request`` may be ``None`` (the current
    request is used). Returns the log, or ``None`` if nothing was written.
    """
    if not should_log(request):
        return None
    if isinstance(target, models.Model):
        subject: dict[str, Any] = {"instance": target}
    elif (model := target_model(target)) is not None:
        subject = {"model": model, "pk": pk}
    elif isinstance(target, tuple):
        subject = {"entity": target, "pk": pk}
    else:
        subject = {"entity": (safe_str(target or "request"),) * 2, "pk": pk}
    with using_request(request):
        log = manual.log_event(
            action, name=entity_name, description=description, extra=extra_data, **subject
        )
    return cast("ActivityLog | None", log)


def uploaded_files(request: Any) -> list[dict[str, Any]]:
    """Name, size and content type of each file in ``request.FILES``."""
    files = getattr(request, "FILES", None)
    if files is None or not hasattr(files, "lists"):
        return []
    described = []
    for field, items in files.lists():
        for item in items:
            described.append(
                {
                    "field": field,
                    "name": os.path.basename(safe_str(getattr(item, "name", "")))[:255],
                    "size": getattr(item, "size", None),
                    "content_type": getattr(item, "content_type", None),
                }
            )
    return described


def response_filename(response: HttpResponseBase) -> str | None:
    """The file name a ``FileResponse`` sends, if any."""
    name = getattr(response, "filename", None) or None
    if name is None:
        stream = getattr(response, "file_to_stream", None)
        name = getattr(stream, "name", None)
    if not isinstance(name, str) or not name:
        return None
    return os.path.basename(name)[:255] or None


def wants_post_log(request: Any, response: HttpResponseBase) -> bool:
    """Whether ``AuditMiddleware`` logs this request (``LOG_POST_REQUESTS``)."""
    settings = get_settings()
    if not settings.LOG_POST_REQUESTS or getattr(request, "method", None) != "POST":
        return False
    if not 200 <= response.status_code < 300:
        return False
    paths = (getattr(request, "path", ""), getattr(request, "path_info", ""))
    prefixes = settings.LOG_POST_SKIP_PREFIXES
    return not any(path.startswith(prefix) for path in paths for prefix in prefixes)


def log_post(request: Any, response: HttpResponseBase) -> ActivityLog | None:
    """Log one successful POST (``AUTOAUDIT["LOG_POST_REQUESTS"]``)."""
    match = getattr(request, "resolver_match", None)
    view_name = getattr(match, "view_name", None) or None
    path = safe_str(getattr(request, "path", ""))
    extra = {
        "method": "POST",
        "path": path[:1000],
        "status_code": response.status_code,
    }
    if view_name:
        extra["view"] = view_name
    return log_event(
        request,
        get_settings().LOG_POST_ACTION,
        REQUEST_ENTITY,
        entity_name=path[:255],
        description=gettext("POST %(path)s") % {"path": path[:200]},
        extra_data=extra,
    )
