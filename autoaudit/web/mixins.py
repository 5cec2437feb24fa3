"""A class-based-view mixin that logs a view, download or upload.

.. code-block:: python

    from autoaudit.mixins import ActivityLogMixin

    class ProductDetail(ActivityLogMixin, DetailView):
        model = Product                      # logs "view" of self.object

    class ReportDownload(ActivityLogMixin, DetailView):
        model = Report
        activity_action = "download"

    class DocumentUpload(ActivityLogMixin, CreateView):
        model = Document
        activity_action = "upload"           # logged after form_valid()

The log is written once per request, after the handler returned a response
with a status below 400, for ``activity_methods`` (GET for views and
downloads, POST/PUT for uploads), by the current actor; nothing for a
guest who opted out or inside ``autoaudit.disabled()``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.db import models

from autoaudit.enums import ActionType
from autoaudit.web.decorators import default_methods
from autoaudit.web.events import log_event, response_filename, should_log, uploaded_files

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django.http.response import HttpResponseBase
    from django.views import View as _Base
else:
    _Base = object


class ActivityLogMixin(_Base):
    """Log ``activity_action`` on the view's object (``self.object``).

    Override :meth:`get_activity_object` for views that keep the object
    elsewhere. A view without an ``object`` attribute logs its ``model``;
    one whose ``object`` is ``None`` (a create form that did not validate)
    logs nothing.
    """

    activity_action: str = ActionType.VIEW
    #: HTTP methods that are logged; ``None`` means the action's default.
    activity_methods: Sequence[str] | None = None
    #: A fixed description; ``None`` gives "Viewed product "Laptop"" etc.
    activity_description: str | None = None

    def get_activity_object(self) -> models.Model | None:
        obj = getattr(self, "object", None)
        return obj if isinstance(obj, models.Model) else None

    def get_activity_description(self, obj: models.Model | None) -> str | None:
        return self.activity_description

    def get_activity_extra_data(self, response: HttpResponseBase) -> dict[str, Any] | None:
        extra: dict[str, Any] = {}
        if self.activity_action == ActionType.UPLOAD:
            files = uploaded_files(self.request)
            if files:
                extra["files"] = files
        elif self.activity_action == ActionType.DOWNLOAD:
            filename = response_filename(response)
            if filename:
                extra["filename"] = filename
        return extra or None

    def _activity_wanted(self, request: HttpRequest, response: Any) -> bool:
        methods = self.activity_methods or default_methods(self.activity_action)
        status = getattr(response, "status_code", 500)
        return request.method in {m.upper() for m in methods} and status < 400

    def log_activity_event(self, response: HttpResponseBase) -> None:
        """Write the log for this request (called by ``dispatch``)."""
        if not should_log(self.request):
            return
        obj = self.get_activity_object()
        if obj is None and getattr(self, "object", False) is None:
            return  # an object view without an object: e.g. an invalid create form
        target = obj if obj is not None else getattr(self, "model", None)
        log_event(
            self.request,
            self.activity_action,
            target,
            pk=None if obj is not None else self.kwargs.get("pk"),
            description=self.get_activity_description(obj),
            extra_data=self.get_activity_extra_data(response),
        )

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().dispatch(request, *args, **kwargs)
        if inspect.isawaitable(response):

            async def finish() -> Any:
                result = await response
                if self._activity_wanted(request, result):
                    await sync_to_async(self.log_activity_event)(result)
                return result

            return finish()
        if self._activity_wanted(request, response):
            self.log_activity_event(response)
        return response
