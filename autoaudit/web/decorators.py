"""One-line logging of views, downloads and uploads for function views.

.. code-block:: python

    from autoaudit.decorators import log_download, log_upload, log_view

    @log_view(Product)                 # object from the URL's ``pk``
    def product_detail(request, pk): ...

    @log_download(Document, url_kwarg="slug", lookup_field="slug")
    def document_file(request, slug): ...

    @log_upload(Document)              # file names, sizes and types in extra_data
    def upload(request): ...

The log is written after the view returns a response with a status below
400, for the listed HTTP methods only, by the current actor. Plain and
``async def`` views both work. The object is taken from the response's
``context_data["object"]`` when the view renders a ``TemplateResponse``
(no query), else looked up by ``lookup_field`` = the URL keyword argument.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import models
from django.http.response import HttpResponseBase

from autoaudit.enums import ActionType
from autoaudit.web.events import (
    Target,
    log_event,
    response_filename,
    should_log,
    target_model,
    uploaded_files,
)

V = TypeVar("V", bound=Callable[..., Any])

_DEFAULT_METHODS: dict[str, tuple[str, ...]] = {
    "view": ("GET",),
    "download": ("GET",),
    "upload": ("POST", "PUT"),
}


def default_methods(action: str) -> tuple[str, ...]:
    """The HTTP methods an action is logged for unless told otherwise."""
    return _DEFAULT_METHODS.get(action, ("GET", "POST"))


def _lookup(model: type[models.Model], field: str, value: Any) -> models.Model | None:
    try:
        return model._default_manager.filter(**{field: value}).first()
    except (ValueError, TypeError, ValidationError):  # a value the field cannot take
        return None


def _is_key(target: Target, field: str) -> bool:
    if field == "pk":
        return True
    model = target_model(target)
    key = model._meta.pk if model is not None else None
    return key is not None and field in (key.name, key.attname)


def find_object(
    target: Target,
    response: HttpResponseBase,
    kwargs: dict[str, Any],
    url_kwarg: str,
    lookup_field: str,
) -> models.Model | None:
    """The object a view showed: from its template context, else by URL argument."""
    model = target_model(target)
    if model is None:
        return None
    context = getattr(response, "context_data", None)
    shown = context.get("object") if isinstance(context, dict) else None
    if isinstance(shown, model):
        return shown
    if url_kwarg in kwargs:
        return _lookup(model, lookup_field, kwargs[url_kwarg])
    return None


class _EventLogger:
    def __init__(
        self,
        action: str,
        target: Target,
        url_kwarg: str,
        lookup_field: str,
        description: str | None,
        methods: Iterable[str] | None,
    ) -> None:
        self.action = action
        self.target = target
        self.url_kwarg = url_kwarg
        self.lookup_field = lookup_field
        self.description = description
        self.methods = frozenset(m.upper() for m in (methods or default_methods(action)))

    def wanted(self, request: Any, response: Any) -> bool:
        status = getattr(response, "status_code", 500)
        return getattr(request, "method", None) in self.methods and status < 400

    def log(self, request: Any, response: HttpResponseBase, kwargs: dict[str, Any]) -> None:
        if not should_log(request):
            return
        extra: dict[str, Any] = {}
        name = None
        if self.action == ActionType.UPLOAD:
            files = uploaded_files(request)
            if files:
                extra["files"] = files
                name = ", ".join(f["name"] for f in files)[:255]
        if self.action == ActionType.DOWNLOAD:
            filename = response_filename(response)
            if filename:
                extra["filename"] = filename
        obj = find_object(self.target, response, kwargs, self.url_kwarg, self.lookup_field)
        if obj is not None:
            log_event(
                request, self.action, obj, description=self.description, extra_data=extra or None
            )
            return
        # The URL value is the object's key only when it is looked up as one.
        by_pk = _is_key(self.target, self.lookup_field)
        log_event(
            request,
            self.action,
            self.target,
            pk=kwargs.get(self.url_kwarg) if by_pk else None,
            entity_name=name,
            description=self.description,
            extra_data=extra or None,
        )

    def __call__(self, view: V) -> V:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_view(request: Any, *args: Any, **kwargs: Any) -> Any:
                response = await view(request, *args, **kwargs)
                if self.wanted(request, response):
                    await sync_to_async(self.log)(request, response, kwargs)
                return response

            return async_view  # type: ignore[return-value]

        @functools.wraps(view)
        def sync_view(request: Any, *args: Any, **kwargs: Any) -> Any:
            response = view(request, *args, **kwargs)
            if self.wanted(request, response):
                self.log(request, response, kwargs)
            return response

        return sync_view  # type: ignore[return-value]


def log_action(
    action: str,
    target: Target = None,
    *,
    url_kwarg: str = "pk",
    lookup_field: str = "pk",
    description: str | None = None,
    methods: Iterable[str] | None = None,
) -> Callable[[V], V]:
    """Decorate a view so each successful call logs ``action`` on ``target``.

    ``target``: a model class or ``"app_label.Model"`` (the object is found
    as described in this module), or a plain entity name such as
    ``"report"``. ``methods`` defaults to GET for views and downloads and to
    POST/PUT for uploads.
    """
    return _EventLogger(action, target, url_kwarg, lookup_field, description, methods)


def log_view(target: Target = None, **options: Any) -> Callable[[V], V]:
    """Log a ``view`` of ``target`` (see :func:`log_action`)."""
    return log_action(ActionType.VIEW, target, **options)


def log_download(target: Target = None, **options: Any) -> Callable[[V], V]:
    """Log a ``download`` of ``target``; a ``FileResponse``'s file name goes
    into ``extra_data["filename"]``."""
    return log_action(ActionType.DOWNLOAD, target, **options)


def log_upload(target: Target = None, **options: Any) -> Callable[[V], V]:
    """Log an ``upload`` to ``target``; the uploaded files' names, sizes and
    content types go into ``extra_data["files"]``."""
    return log_action(ActionType.UPLOAD, target, **options)
