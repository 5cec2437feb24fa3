"""``ActivityLog`` in the Django admin, and an "Activity" page for any model.

The log is read only: nothing can be added or changed, and only superusers
may delete (retention is the job of ``autoaudit_prune``/``_archive``). The
access rules of :mod:`autoaudit.access` apply here as everywhere.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import django
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import models, router, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from autoaudit.conf import get_settings
from autoaudit.enums import ActionType
from autoaudit.models import ActivityLog
from autoaudit.tracking import selfaudit
from autoaudit.values.serialization import shorten
from autoaudit.versions.errors import RevertConflict, RevertError
from autoaudit.web import access, dashboard, revert
from autoaudit.web.display import build_entries, build_entry, entity_label
from autoaudit.web.forms import entity_choices, filter_entity
from autoaudit.web.pagination import cursor_of, fetch_page

if TYPE_CHECKING:
    _LogAdminBase = admin.ModelAdmin[ActivityLog]
    _MixinBase = admin.ModelAdmin[Any]
else:
    # ModelAdmin is generic only for type checkers (django-stubs).
    _LogAdminBase = admin.ModelAdmin
    _MixinBase = object

_CSS = {"all": ["autoaudit/autoaudit.css"]}


class EntityListFilter(admin.SimpleListFilter):
    """Filter by ``app_label.Model`` (the registered models and every entity
    in the table, the latter cached like the dashboard numbers)."""

    title = _("entity")
    parameter_name = "entity"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return entity_choices(dashboard.entity_filter_labels(logged=True))

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        return filter_entity(queryset, value) if value else queryset


class ActionListFilter(admin.SimpleListFilter):
    """Filter by action, offering only the actions that occur (in the
    chosen entity's rows when the entity filter is set), not all of them."""

    title = _("action")
    # The name of the field filter it replaces, so existing links keep working.
    parameter_name = "action__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        entity = request.GET.get(EntityListFilter.parameter_name) or None
        present = set(dashboard.logged_actions(entity))
        if self.value():
            present.add(str(self.value()))  # a link to an action no longer present
        known = [(value, str(label)) for value, label in ActionType.choices if value in present]
        unknown = [(value, value) for value in sorted(present - set(ActionType.values))]
        return known + unknown

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        return queryset.filter(action=value) if value else queryset


def _pretty_json(value: Any) -> SafeString | str:
    if value in (None, {}, []):
        return "-"
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return format_html('<pre class="aa-json">{}</pre>', text)


def _target_admin_url(log: ActivityLog, site: admin.AdminSite) -> str:
    """The target's change page in ``site``, if its model is there and it exists."""
    model = log.get_target_model_class()
    if model is None or not site.is_registered(model) or log.get_target_instance() is None:
        return ""
    pk = log.entity_pk if log.entity_pk is not None else log.entity_id
    opts = model._meta
    try:
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change",
            args=[quote(str(pk))],
            current_app=site.name,
        )
    except NoReverseMatch:
        return ""


class ActivityChangeList(ChangeList):
    """The changelist, without the date drill-down while a search is shown.

    The drill-down's queries (the first and last date, the distinct years or
    months) aggregate every row that matches: over a large log that is most
    of a search's time, and for a term that matches nothing PostgreSQL may
    walk the whole ``created_at`` index looking for the first match. A date
    already chosen still filters the search; only its links are left out.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.query:
            self.date_hierarchy = None


@admin.register(ActivityLog)
class ActivityLogAdmin(_LogAdminBase):
    """Read-only browsing of the activity log."""

    list_display = (
        "created_column",
        "actor_column",
        "action_badge",
        "target_column",
        "short_description",
    )
    list_display_links = ("created_column",)
    list_filter = ("actor_type", ActionListFilter, EntityListFilter)
    date_hierarchy = "created_at"
    search_fields = ("actor_identifier", "actor_name", "entity_name")
    list_select_related = ("user",)
    list_per_page = 50
    # A COUNT(*) over millions of rows for "N total", or per filter choice
    # (facets), is not worth it.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fieldsets = (
        (
            _("Activity"),
            {"fields": ("created_at", "action", "description", "target", "changes")},
        ),
        (
            _("Actor"),
            {
                "fields": (
                    "actor",
                    "actor_type",
                    "user",
                    "actor_identifier",
                    "actor_name",
                    "actor_metadata_json",
                )
            },
        ),
        (
            _("Request and context"),
            {"fields": ("ip_address", "user_agent", "extra_data_json")},
        ),
    )
    readonly_fields = ("target", "changes", "actor", "actor_metadata_json", "extra_data_json")

    class Media:
        css = _CSS

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[ActivityLog]:
        queryset = super().get_queryset(request)
        return access.visible_logs(request.user, queryset)  # type: ignore[arg-type]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ActivityChangeList

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ActivityLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ActivityLog | None = None) -> bool:
        user = request.user
        return bool(user.is_active and user.is_superuser)

    # -- the audit of the audit log (autoaudit.tracking.selfaudit) -----------

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if request.method == "GET" and access.can_view_all(request.user):
            query = request.GET.urlencode()
            selfaudit.log_read(
                "admin:changelist",
                extra={"path": request.path, **({"query": query[:500]} if query else {})},
            )
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200 and access.can_view_all(request.user):
            selfaudit.log_read(
                "admin:change", name=f"#{unquote(object_id)}", extra={"log": unquote(object_id)}
            )
        return response

    def delete_model(self, request: HttpRequest, obj: ActivityLog) -> None:
        """Delete one log row, logging the deletion in the same transaction."""
        using = router.db_for_write(ActivityLog)
        with transaction.atomic(using=using):
            selfaudit.log_deletions([obj], using)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[ActivityLog]) -> None:
        """Delete log rows (the bulk action), logging each deletion in the
        same transaction."""
        using = queryset.db
        with transaction.atomic(using=using):
            selfaudit.log_deletions(list(queryset), using)
            super().delete_queryset(request, queryset)

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        view = self.admin_site.admin_view(self.revert_view)
        name = f"{opts.app_label}_{opts.model_name}_revert"
        return [path("<path:object_id>/revert/", view, name=name), *super().get_urls()]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: ActivityLog | None = None,
    ) -> HttpResponse:
        # The log page's Revert / Restore button, for who may undo it.
        if obj is not None and revert.may_undo(request.user, obj):
            context["undo_kind"] = revert.undo_kind(obj)
            context["undo_url"] = self._url(obj, "revert")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _url(self, log: ActivityLog, view: str) -> str:
        opts = self.model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}_{view}"
        return reverse(name, args=[quote(log.pk)], current_app=self.admin_site.name)

    def revert_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Revert (or restore) what one log records: a confirmation page on
        GET, which changes nothing; the revert on POST."""
        log = self.get_object(request, unquote(object_id))
        if log is None:
            raise Http404(gettext("No such activity log."))
        kind = revert.undo_kind(log)
        if not self.has_view_permission(request, log) or not revert.may_undo(request.user, log):
            raise PermissionDenied
        if kind is None:  # may_undo() said yes: only a log whose model vanished since
            raise Http404(gettext("This log cannot be reverted."))
        conflict = None
        if request.method == "POST":
            try:
                made = log.revert(force=request.POST.get("force") == "1")
            except RevertConflict as error:
                conflict = error  # shown again, with the conflict to confirm
            except RevertError as error:
                self.message_user(request, str(error), messages.ERROR)
                return HttpResponseRedirect(self._url(log, "change"))
            else:
                done = gettext("Restored.") if kind == "restore" else gettext("Reverted.")
                self.message_user(request, done, messages.SUCCESS)
                return HttpResponseRedirect(self._url(made if made is not None else log, "change"))
        preview = revert.preview(log)
        label = gettext("Restore") if kind == "restore" else gettext("Revert")
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Restore this object?")
            if kind == "restore"
            else gettext("Revert this change?"),
            "subtitle": None,
            "opts": self.model._meta,
            "log": log,
            "log_url": self._url(log, "change"),
            "undo_kind": kind,
            "action_label": label,
            "confirm_label": gettext("Yes, restore")
            if kind == "restore"
            else gettext("Yes, revert"),
            "preview": preview,
            "breadcrumbs_as_list": django.VERSION >= (6, 1),
        }
        request.current_app = self.admin_site.name
        status = 409 if conflict is not None else 200
        return TemplateResponse(
            request, "admin/autoaudit/activitylog/revert_confirmation.html", context, status=status
        )

    @admin.display(description=_("actor"), ordering="actor_name")
    def actor(self, obj: ActivityLog) -> str:
        return obj.get_actor_display_name()

    @admin.display(description=_("created at"), ordering="created_at")
    def created_column(self, obj: ActivityLog) -> SafeString:
        # The date above the time: a one-line date column (the admin keeps
        # date fields on one line) left the description too little room.
        local = timezone.localtime(obj.created_at)
        return format_html(
            '<time datetime="{}"><span class="aa-when">{}</span> '
            '<span class="aa-when">{}</span></time>',
            local.isoformat(),
            date_format(local, "DATE_FORMAT"),
            time_format(local, "TIME_FORMAT"),
        )

    @admin.display(description=_("actor"), ordering="actor_identifier")
    def actor_column(self, obj: ActivityLog) -> SafeString:
        return format_html(
            '{} <span class="aa-badge aa-badge--{}">{}</span>',
            obj.get_actor_display_name(),
            obj.actor_type,
            obj.get_actor_type_display(),
        )

    @admin.display(description=_("target"), ordering="entity_name")
    def target_column(self, obj: ActivityLog) -> SafeString:
        # The model's verbose name ("Contact message"), not the stored
        # short entity ("contactmessage").
        return format_html(
            '<span class="aa-cell-text aa-cell-text--narrow">'
            '{} <span class="aa-muted">{}</span></span>',
            obj.entity_name or obj.entity_pk or "",
            entity_label(obj),
        )

    @admin.display(description=_("action"), ordering="action")
    def action_badge(self, obj: ActivityLog) -> SafeString:
        return format_html(
            '<span class="aa-action aa-action--{}">{}</span>', obj.action, obj.get_action_display()
        )

    @admin.display(description=_("description"))
    def short_description(self, obj: ActivityLog) -> SafeString:
        text = obj.description or ""
        return format_html('<span class="aa-cell-text">{}</span>', shorten(text, 70))

    @admin.display(description=_("target"))
    def target(self, obj: ActivityLog) -> SafeString | str:
        name = obj.entity_name or obj.entity_pk or "-"
        label = f"{obj.computed_entity} #{obj.entity_pk}" if obj.entity_pk else obj.computed_entity
        url = _target_admin_url(obj, self.admin_site)
        if url:
            return format_html(
                '<a href="{}">{}</a> <span class="aa-muted">({})</span>', url, name, label
            )
        return format_html('{} <span class="aa-muted">({})</span>', name, label)

    @admin.display(description=_("changes"))
    def changes(self, obj: ActivityLog) -> SafeString | str:
        entry = build_entry(obj, timezone.now())
        if not entry.changes:
            return "-"
        return render_to_string("autoaudit/includes/changes.html", {"entry": entry})

    @admin.display(description=_("actor metadata"))
    def actor_metadata_json(self, obj: ActivityLog) -> SafeString | str:
        return _pretty_json(obj.actor_metadata)

    @admin.display(description=_("extra data"))
    def extra_data_json(self, obj: ActivityLog) -> SafeString | str:
        return _pretty_json(obj.extra_data)


class ActivityHistoryMixin(_MixinBase):
    """Add an "Activity" page (and a button on the change form) to a model's
    admin: that object's activity log, newest first, old → new per change.

    ``class ProductAdmin(ActivityHistoryMixin, admin.ModelAdmin): ...``

    The page needs the view (or change) permission on the object; within
    it, the access rules apply (all logs with ``autoaudit.view_activitylog``,
    otherwise the user's own).
    """

    activity_history_template: str | list[str] | None = None
    change_form_template = "admin/autoaudit/change_form_with_activity.html"

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}_activity"
        view = self.admin_site.admin_view(self.activity_view)
        return [path("<path:object_id>/activity/", view, name=name), *super().get_urls()]

    def activity_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The "Activity" page of one object."""
        opts = self.model._meta
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            message = gettext("%(name)s “%(key)s” was not found; perhaps it was deleted.") % {
                "name": capfirst(opts.verbose_name),
                "key": unquote(object_id),
            }
            self.message_user(request, message, messages.WARNING)
            changelist = f"admin:{opts.app_label}_{opts.model_name}_changelist"
            return HttpResponseRedirect(reverse(changelist, current_app=self.admin_site.name))
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        cursor = cursor_of(request)
        queryset = ActivityLog.objects.for_instance(obj).select_related("user")
        page = fetch_page(
            access.visible_logs(request.user, queryset), cursor, get_settings().PAGE_SIZE
        )
        now = timezone.now()
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Activity: %s") % obj,
            "subtitle": None,
            "module_name": str(capfirst(opts.verbose_name_plural)),
            "object": obj,
            "opts": opts,
            "entries": build_entries(page.rows, now),
            "next_url": f"?cursor={page.next_cursor.encode()}" if page.next_cursor else "",
            "is_first_page": cursor is None,
            "can_view_all": access.can_view_all(request.user),
            # Django 6.1 made the admin's breadcrumbs a list (<ol>); 5.2 and
            # 6.0 style a <div> with &rsaquo; separators, and show a list numbered.
            "breadcrumbs_as_list": django.VERSION >= (6, 1),
        }
        if context["can_view_all"]:
            selfaudit.log_read("admin:object_activity", name=f"{opts.label} #{obj.pk}")
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            self.activity_history_template
            or [
                f"admin/{opts.app_label}/{opts.model_name}/object_activity.html",
                f"admin/{opts.app_label}/object_activity.html",
                "admin/autoaudit/object_activity.html",
            ],
            context,
        )
