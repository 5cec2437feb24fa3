"""A read-only JSON view of the timeline, for single-page apps and mobile clients.

``path("activity/", include("autoaudit.urls"))`` serves:

- ``activity/api/``: the timeline's logs (``autoaudit:api``);
- ``activity/api/<app_label>.<Model>/<pk>/``: one object's history
  (``autoaudit:api_object_history``).

The views are the timeline's own (:class:`~autoaudit.web.timeline.TimelineView`
and :class:`~autoaudit.web.timeline.ObjectHistoryView`) with another answer,
so the access rules (:func:`autoaudit.web.access.visible_logs`), the filters
(:class:`~autoaudit.web.forms.ActivityFilterForm`) and the signed cursors
(:mod:`autoaudit.web.pagination`) are the same code. What differs is how a
bad request is answered: as JSON with a 4xx status (a signed-out visitor
403, a tampered cursor, a filter that does not validate or an unknown
parameter 400), never as a redirect or an HTML page.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import BadRequest
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _

from autoaudit.enums import ActionType, ActorType
from autoaudit.models import ActivityLog
from autoaudit.web import access
from autoaudit.web.display import choice_label, entity_label
from autoaudit.web.timeline import ObjectHistoryView, TimelineView

#: The query parameters the endpoint understands: the filters and ``cursor``.
PARAMETERS = frozenset(
    {"actor_type", "action", "entity", "actor", "since", "until", "request", "cursor"}
)


def log_data(log: ActivityLog, history_url: str = "") -> dict[str, Any]:
    """One log as the JSON endpoint (and the REST framework serializer)
    shows it: what the timeline shows, as data. Values are the stored ones,
    so masked values stay masked; IP address, user agent, actor metadata
    and ``extra_data`` are left out, as on the timeline. No queries if the
    row was read with ``select_related("user")``."""
    return {
        "id": log.pk,
        "created_at": log.created_at.isoformat(),
        "action": log.action,
        "action_label": choice_label(ActionType, log.action),
        "description": log.description or "",
        "actor": {
            "type": log.actor_type,
            "type_label": choice_label(ActorType, log.actor_type),
            "name": log.get_actor_display_name(),
            "identifier": log.actor_identifier or "",
        },
        "target": {
            "entity": log.entity,
            "model": log.computed_entity,
            "label": entity_label(log),
            "pk": log.entity_pk,
            "name": log.entity_name or "",
            "history_url": history_url,
        },
        "changed_fields": log.changed_fields,
        "old_values": log.old_values,
        "new_values": log.new_values,
        "request_id": log.request_id,
    }


def error_response(status: int, detail: str, **extra: Any) -> JsonResponse:
    """``{"detail": ...}`` with ``status``."""
    return JsonResponse({"detail": detail, **extra}, status=status)


def json_page(view: TimelineView, request: HttpRequest) -> HttpResponseBase:
    """The page ``view`` would render, as JSON: ``{"results": [...], "next":
    URL or null, "next_cursor": token or null}``."""
    unknown = sorted(set(request.GET) - PARAMETERS)
    if unknown:
        return error_response(
            400,
            _("Unknown parameter: %(names)s.") % {"names": ", ".join(unknown)},
            allowed=sorted(PARAMETERS),
        )
    view.can_view_all = access.can_view_all(request.user)
    try:
        cursor = view.get_cursor()
    except BadRequest:
        return error_response(400, _("Invalid cursor."))
    form = view.get_filter_form()
    if not form.is_valid():
        return error_response(400, _("Invalid filter."), errors=form.errors.get_json_data())
    page = view.get_page(form, cursor)
    if isinstance(view, ObjectHistoryView) and view.model is None and not page.rows:
        return error_response(404, _("No such object history."))
    if view.can_view_all and view.read_kind is not None:
        view.log_read(form)
    next_query = view.next_url(page)
    return JsonResponse(
        {
            "results": [log_data(log, view.history_url(log)) for log in page.rows],
            "next": request.build_absolute_uri(next_query) if next_query else None,
            "next_cursor": page.next_cursor.encode() if page.next_cursor else None,
        }
    )


class ActivityApiView(TimelineView):
    """``activity/api/``: the timeline's logs as JSON, newest first."""

    http_method_names = ["get", "head", "options"]
    read_kind = "api:timeline"

    def handle_no_permission(self) -> HttpResponseBase:  # type: ignore[override]
        return _signed_out()

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        return json_page(self, request)


class ObjectHistoryApiView(ObjectHistoryView):
    """``activity/api/<app_label>.<Model>/<pk>/``: one object's logs as JSON
    (a 404 for a model that does not exist and has no logs)."""

    http_method_names = ["get", "head", "options"]
    read_kind = "api:object_history"

    def handle_no_permission(self) -> HttpResponseBase:  # type: ignore[override]
        return _signed_out()

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        return json_page(self, request)


def _signed_out() -> JsonResponse:
    return error_response(403, _("Authentication credentials were not provided."))
