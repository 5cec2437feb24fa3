"""Django REST framework support: a serializer and a read-only viewset.

Needs Django REST framework (``pip install "autoaudit[drf]"``); importing
this module without it raises ``ImportError`` saying so.

.. code-block:: python

    # urls.py
    from rest_framework.routers import DefaultRouter

    from autoaudit.contrib.rest_framework import ActivityLogViewSet

    router = DefaultRouter()
    router.register("activity-logs", ActivityLogViewSet, basename="activity-log")
    urlpatterns = [..., path("api/", include(router.urls))]

The viewset follows the timeline's rules: signed-in users only, everyone's
logs with ``autoaudit.view_activitylog`` (superusers have it), otherwise the
user's own (:func:`autoaudit.web.access.visible_logs`); the timeline's
filters (``actor_type``, ``action``, ``entity``, ``actor``, ``since``,
``until``) on the list; the timeline's signed cursors for paging. Rows have
the JSON endpoint's shape (:func:`autoaudit.web.api.log_data`).
"""

from __future__ import annotations

from typing import Any

try:
    from rest_framework import exceptions, pagination, permissions, serializers, viewsets
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.utils.urls import replace_query_param
except ImportError as error:  # pragma: no cover - tested with DRF hidden
    raise ImportError(
        "autoaudit.contrib.rest_framework needs Django REST framework: "
        'pip install "autoaudit[drf]" (or djangorestframework).'
    ) from error

from django.core.exceptions import BadRequest

from autoaudit.conf import get_settings
from autoaudit.models import ActivityLog, ActivityLogQuerySet
from autoaudit.web import access, dashboard
from autoaudit.web.api import log_data
from autoaudit.web.forms import ActivityFilterForm
from autoaudit.web.pagination import Page, cursor_of, fetch_page
from autoaudit.web.timeline import history_url

__all__ = [
    "ActivityLogSerializer",
    "ActivityLogViewSet",
    "InvalidCursorError",
    "SignedCursorPagination",
]


class ActivityLogSerializer(serializers.BaseSerializer):  # type: ignore[type-arg]
    """A log as the JSON endpoint shows it (read only)."""

    def to_representation(self, instance: ActivityLog) -> dict[str, Any]:
        request = self.context.get("request")
        # A REST framework request hands resolver_match on from Django's.
        return log_data(instance, history_url(instance, request))


class InvalidCursorError(exceptions.APIException):
    """A ``?cursor=`` this site did not sign: ``400 {"detail": "Invalid cursor."}``."""

    status_code = 400
    default_detail = "Invalid cursor."
    default_code = "invalid_cursor"


class SignedCursorPagination(pagination.BasePagination):
    """The timeline's keyset pagination: ``{"results", "next", "next_cursor"}``."""

    #: Rows per page; ``None`` uses ``AUTOAUDIT["PAGE_SIZE"]`` (default 50).
    page_size: int | None = None
    page: Page
    request: Request

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        try:
            cursor = cursor_of(request)  # a REST framework request hands GET on
        except BadRequest:
            raise InvalidCursorError() from None
        self.request = request
        self.page = fetch_page(queryset, cursor, self.page_size or get_settings().PAGE_SIZE)
        return self.page.rows

    def get_paginated_response(self, data: Any) -> Response:
        token = self.page.next_cursor.encode() if self.page.next_cursor else None
        url = self.request.build_absolute_uri()
        return Response(
            {
                "results": data,
                "next": replace_query_param(url, "cursor", token) if token else None,
                "next_cursor": token,
            }
        )


class ActivityLogViewSet(viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """``list`` (filtered, newest first, cursor pages) and ``retrieve`` of
    the logs the requesting user may read; a log they may not read is a 404."""

    serializer_class = ActivityLogSerializer
    pagination_class = SignedCursorPagination
    permission_classes = [permissions.IsAuthenticated]
    filter_form_class = ActivityFilterForm

    def get_queryset(self) -> ActivityLogQuerySet:
        user = self.request.user
        queryset = access.visible_logs(user, ActivityLog.objects.select_related("user"))
        if self.action != "list":
            return queryset
        form = self.filter_form_class(
            self.request.query_params,
            entities=lambda: dashboard.entity_filter_labels(logged=access.can_view_all(user)),
        )
        if not form.is_valid():
            raise exceptions.ValidationError(
                {
                    name: [e["message"] for e in errors]
                    for name, errors in form.errors.get_json_data().items()
                }
            )
        return form.apply(queryset)
