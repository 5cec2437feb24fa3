"""The activity timeline and the per-object history.

Both are class-based so a project can subclass them (another template, page
size or base queryset) and both render through templates under
``autoaudit/`` that a project can override. Access rules
(:func:`autoaudit.access.visible_logs`) are applied on every request, so a
crafted cursor or filter can only narrow what the user may see.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.decorators import method_decorator
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from autoaudit.conf import get_settings
from autoaudit.models import ActivityLog, ActivityLogQuerySet
from autoaudit.values.labels import model_for_label
from autoaudit.values.serialization import safe_str
from autoaudit.web import access, analytics, dashboard, layout
from autoaudit.web.display import Entry, build_entry, group_by_day
from autoaudit.web.forms import ActivityFilterForm
from autoaudit.web.login import SignInRequiredMixin
from autoaudit.web.pagination import Cursor, Page, cursor_of, fetch_page

#: Header the timeline's script sends to get only the next entries.
PARTIAL_HEADER = "X-Autoaudit-Partial"


@method_decorator(never_cache, name="dispatch")
class TimelineView(SignInRequiredMixin, TemplateView):
    """Everyone's activity (with ``autoaudit.view_activitylog``) or the
    user's own, newest first, grouped by day, a cursor page at a time."""

    template_name = "autoaudit/timeline.html"
    #: Rendered instead of the page for the infinite-scroll requests.
    partial_template_name = "autoaudit/includes/entries.html"
    #: Rows per page; ``None`` uses ``AUTOAUDIT["PAGE_SIZE"]`` (default 50).
    page_size: int | None = None
    filter_form_class = ActivityFilterForm
    #: The counts for today / 7 / 30 days, on the first page, for who sees all.
    show_dashboard = True

    def get_page_size(self) -> int:
        return self.page_size or get_settings().PAGE_SIZE

    def get_base_queryset(self) -> ActivityLogQuerySet:
        """All logs this view is about (before access rules and filters)."""
        return ActivityLog.objects.all()

    def get_queryset(self) -> ActivityLogQuerySet:
        """The logs the user may see; ``select_related`` keeps it one query."""
        queryset = self.get_base_queryset().select_related("user")
        return access.visible_logs(self.request.user, queryset)

    def get_entity_labels(self) -> list[str]:
        """Entities offered in the filter: the registered models, plus every
        entity in the table for users who may see all (cached)."""
        return dashboard.entity_filter_labels(logged=self.can_view_all)

    def get_filter_form(self) -> ActivityFilterForm:
        return self.filter_form_class(self.request.GET, entities=self.get_entity_labels)

    def get_cursor(self) -> Cursor | None:
        return cursor_of(self.request)

    def get_page(self, form: ActivityFilterForm, cursor: Cursor | None) -> Page:
        """The page after ``cursor`` of the visible logs ``form`` selects
        (the timeline and the JSON endpoint both read through it)."""
        return fetch_page(form.apply(self.get_queryset()), cursor, self.get_page_size())

    def history_url(self, log: ActivityLog) -> str:
        return history_url(log, self.request)

    def next_url(self, page: Page) -> str:
        if page.next_cursor is None:
            return ""
        query = self.request.GET.copy()
        query["cursor"] = page.next_cursor.encode()
        return f"?{query.urlencode()}"

    def first_url(self) -> str:
        query = self.request.GET.copy()
        query.pop("cursor", None)
        return f"?{query.urlencode()}"

    def build_entries(self, page: Page) -> list[Entry]:
        now = timezone.now()
        return [build_entry(log, now, self.history_url(log)) for log in page.rows]

    def has_hidden_activity(self, form: ActivityFilterForm) -> bool:
        """True when the page shows nothing but rows exist that the access
        rules hide (the empty state says so, without a count). The
        timeline is about the user's own activity, so it never asks."""
        return False

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.can_view_all = access.can_view_all(request.user)
        partial = request.headers.get(PARTIAL_HEADER) == "1"
        cursor = self.get_cursor()
        form = self.get_filter_form()
        queryset = form.apply(self.get_queryset())  # the dashboard counts it too
        page = self.get_page(form, cursor)
        entries = self.build_entries(page)
        show_dashboard = (
            self.show_dashboard and self.can_view_all and cursor is None and not partial
        )
        context = self.get_context_data(
            filter_form=form,
            page=page,
            entries=entries,
            groups=group_by_day(entries, timezone.now()),
            next_url=self.next_url(page),
            first_url=self.first_url(),
            is_first_page=cursor is None,
            can_view_all=self.can_view_all,
            # The counts follow the active filters.
            dashboard=(
                dashboard.get_dashboard(queryset=queryset, filtered=form.active)
                if show_dashboard
                else None
            ),
            # Like the counts, the heatmap follows the filters; conversion
            # is about guests and logins, whatever the filters.
            heatmap=analytics.heatmap(queryset=queryset) if show_dashboard else None,
            conversion=analytics.guest_conversion() if show_dashboard else None,
            hidden_activity=(
                not entries and cursor is None and not partial and self.has_hidden_activity(form)
            ),
            **layout.page_context(request),
            **kwargs,
        )
        template = self.partial_template_name if partial else self.get_template_names()
        response = self.response_class(
            request=request, template=template, context=context, using=self.template_engine
        )
        patch_vary_headers(response, [PARTIAL_HEADER])
        return response


class ObjectHistoryView(TimelineView):
    """The activity of one object: ``<app_label>.<Model>/<pk>/``.

    The object need not exist any more (its deletion is part of its history)
    and its model may be gone; an unknown label with no logs is a 404.
    """

    template_name = "autoaudit/object_history.html"
    show_dashboard = False

    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().setup(request, *args, **kwargs)
        self.label: str = kwargs["label"]
        self.object_pk: str = kwargs["pk"]
        self.model = model_for_label(self.label)

    def get_base_queryset(self) -> ActivityLogQuerySet:
        return ActivityLog.objects.all().filter(
            computed_entity=self.label, entity_pk=self.object_pk
        )

    def get_entity_labels(self) -> list[str]:
        return []

    def history_url(self, log: ActivityLog) -> str:
        return ""

    def has_hidden_activity(self, form: ActivityFilterForm) -> bool:
        return not self.can_view_all and self.get_base_queryset().exists()

    def get_object(self) -> models.Model | None:
        """The object if it still exists (``None`` if it was deleted, its
        model is gone or the key does not fit the model)."""
        if self.model is None:
            return None
        try:
            pk = self.model._meta.pk.to_python(self.object_pk)
            return self.model._default_manager.filter(pk=pk).first()
        except (ValidationError, ValueError, TypeError):
            return None

    def may_name_object(self, entries: list[Entry]) -> bool:
        """Whether the title may show the object's current name: to who sees
        every log, who sees an entry of it, or who may view its model.
        Anyone else learns only its kind and key, so the page cannot be used
        to read the names of objects (users, orders, messages) one has no
        access to."""
        if self.can_view_all or entries:
            return True
        if self.model is None:
            return False
        opts = self.model._meta
        return bool(self.request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}"))

    def get_object_name(self, entries: list[Entry]) -> str:
        """The page's title: ``str()`` of the object if it still exists, else
        the name the newest visible entry logged, else its kind and key."""
        if self.may_name_object(entries):
            obj = self.get_object()
            name = safe_str(obj).strip() if obj is not None else ""
            if name:
                return name
        name = next((entry.log.entity_name for entry in entries if entry.log.entity_name), "")
        return name or gettext("%(kind)s #%(pk)s") % {
            "kind": self.object_kind(),
            "pk": self.object_pk,
        }

    def object_kind(self) -> str:
        if self.model is None:
            return self.label
        return str(capfirst(self.model._meta.verbose_name))

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        if self.model is None and not response.context_data["entries"]:  # type: ignore[attr-defined]
            raise Http404("No such object history.")
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        entries: list[Entry] = context["entries"]
        context.update(
            object_label=self.label,
            object_pk=self.object_pk,
            object_name=self.get_object_name(entries),
            object_kind=self.object_kind(),
            timeline_url=_timeline_url(self.request),
        )
        return context


def history_url(log: ActivityLog, request: HttpRequest | None = None) -> str:
    """The object-history page of ``log``'s target, ``""`` if there is none
    (no key, not a model, or a key the URL pattern cannot carry)."""
    if not log.entity_pk or "." not in (log.computed_entity or ""):
        return ""
    match = request.resolver_match if request is not None else None
    try:
        return reverse(
            "autoaudit:object_history",
            kwargs={"label": log.computed_entity, "pk": log.entity_pk},
            current_app=match.namespace if match else None,
        )
    except NoReverseMatch:  # an odd pk, or the timeline is not mounted
        return ""


def _timeline_url(request: HttpRequest) -> str:
    match = request.resolver_match
    return reverse("autoaudit:timeline", current_app=match.namespace if match else None)
