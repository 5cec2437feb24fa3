"""Request events that are not data changes: views, downloads, uploads, POSTs.

:func:`log_event` is the one path used by the view decorators, the
class-based-view mixin and the optional POST logging of ``AuditMiddleware``.
It writes nothing inside ``autoaudit.disabled()`` or for a guest who opted
out of tracking (a page view has no reason to be kept without an actor).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext

from autoaudit import writer
from autoaudit.actors import actor_type_for
from autoaudit.conf import get_settings
from autoaudit.context import is_disabled
from autoaudit.enums import ActorType
from autoaudit.request import current_request, using_request
from autoaudit.serialization import safe_str

if TYPE_CHECKING:
    from django.http import HttpResponseBase

    from autoaudit.models import ActivityLog

#: What a POST logged by ``AuditMiddleware`` is filed under.
REQUEST_ENTITY = ("request", "http.Request")

#: A model instance, a model class, ``"app_label.Model"``, a plain entity name,
#: or an ``(entity, computed_entity)`` pair.
Target = models.Model | type[models.Model] | str | tuple[str, str] | None


def _descriptions() -> dict[str, tuple[str, str]]:
    # (with an object, without one); built per call so the active language
    # at write time is used.
    return {
        "view": (gettext('Viewed %(entity)s "%(name)s"'), gettext("Viewed %(entity)s")),
        "download": (
            gettext('Downloaded %(entity)s "%(name)s"'),
            gettext("Downloaded %(entity)s"),
        ),
        "upload": (
            gettext('Uploaded %(entity)s "%(name)s"'),
            gettext("Uploaded %(entity)s"),
        ),
    }


def default_description(action: str, verbose_name: str, name: str | None) -> str:
    """``Viewed product "Laptop"``-style text in the active language."""
    from autoaudit.descriptions import describe

    texts = _descriptions().get(action)
    if texts is None:
        return describe(action, verbose_name, name)
    params = {"entity": verbose_name, "name": name or ""}
    return (texts[0] if name else texts[1]) % params


def should_log(request: Any = None) -> bool:
    """False inside ``disabled()`` and for a guest who opted out."""
    from autoaudit.privacy import guest_opted_out

    if is_disabled():
        return False
    with using_request(request):
        current = current_request()
        if actor_type_for(current) == ActorType.GUEST:
            return not guest_opted_out(current)
    return True


def target_model(target: Target) -> type[models.Model] | None:
    """The model a target names, if it names one."""
    if isinstance(target, type) and issubclass(target, models.Model):
        return target
    if isinstance(target, models.Model):
        return type(target)
    if isinstance(target, str) and "." in target:
        from autoaudit.models import _resolve_model

        return _resolve_model(target)
    return None


def _verbose_name(model: type[models.Model] | None, entity: str) -> str:
    if model is None:
        return entity
    return safe_str(model._meta.verbose_name, entity)


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
    with using_request(request):
        if isinstance(target, models.Model):
            verbose = _verbose_name(type(target), "")
            name = entity_name if entity_name is not None else safe_str(target)
            return writer.create_for_instance(
                target,
                action,
                entity_name=name,
                description=description or default_description(action, verbose, name),
                extra_data=extra_data,
            )
        return _log_entity(action, target, pk, entity_name, description, extra_data)


def _log_entity(
    action: str,
    target: Target,
    pk: Any,
    entity_name: str | None,
    description: str | None,
    extra_data: Mapping[str, Any] | None,
) -> ActivityLog | None:
    from autoaudit.registry import entity_labels

    model = target_model(target)
    if model is not None:
        entity, computed = entity_labels(model)
    elif isinstance(target, tuple):
        entity, computed = target
    else:
        entity = computed = safe_str(target or "request")
    verbose = _verbose_name(model, entity)
    log = writer.build(
        action=action,
        entity=entity,
        computed_entity=computed,
        pk=pk,
        entity_name=entity_name,
        description=description or default_description(action, verbose, entity_name),
        extra_data=extra_data,
    )
    return writer.insert(log)


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
    """Log one successful POST (the design document's optional middleware)."""
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
