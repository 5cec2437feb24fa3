"""The timeline's filters: actor type, action, entity, actor, tag, date range and request.

Each filter narrows the queryset the access rules produced; none can widen
it. Invalid values are reported on the form and left out, never guessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from autoaudit.actors.scopes import MAX_REQUEST_ID_LENGTH, is_valid_request_id
from autoaudit.enums import ActionType, ActorType
from autoaudit.models import ActivityLogQuerySet
from autoaudit.tracking.registry import entity_labels
from autoaudit.values.labels import model_for_label
from autoaudit.values.tags import TAG_LENGTH

#: ``computed_entity`` of the log's entries about itself.
AUDIT_LOG_LABEL = "autoaudit.ActivityLog"


def entity_choices(labels: Iterable[str]) -> list[tuple[str, str]]:
    """``("core.Product", "Product (core.Product)")`` choices, sorted by name."""
    choices = []
    for label in set(labels):
        model = model_for_label(label)
        name = str(capfirst(model._meta.verbose_name)) if model is not None else label
        choices.append((label, f"{name} ({label})" if name != label else label))
    return sorted(choices, key=lambda choice: (choice[1].lower(), choice[0]))


class ActivityFilterForm(forms.Form):
    """GET filters of the timeline (all optional)."""

    actor_type = forms.ChoiceField(label=_("Actor type"), required=False)
    action = forms.ChoiceField(label=_("Action"), required=False)
    entity = forms.ChoiceField(label=_("Entity"), required=False)
    actor = forms.CharField(
        label=_("Actor"),
        required=False,
        max_length=255,
        widget=forms.TextInput(attrs={"placeholder": _("email, username or guest ID")}),
    )
    tag = forms.CharField(
        label=_("Tag"),
        required=False,
        max_length=TAG_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("a tag")}),
    )
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    request = forms.CharField(
        label=_("Request"),
        required=False,
        max_length=MAX_REQUEST_ID_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("X-Request-ID")}),
    )

    def __init__(
        self,
        *args: Any,
        entities: Iterable[str] | Callable[[], Iterable[str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        fields: dict[str, Any] = self.fields
        fields["actor_type"].choices = [("", _("Anyone")), *ActorType.choices]
        fields["action"].choices = [("", _("Any action")), *ActionType.choices]
        current = self.data.get("entity") if self.is_bound else None
        built: list[tuple[str, str]] = []

        def _entity_choices() -> list[tuple[str, str]]:
            # Called only when the field is rendered or validated, so a page
            # fetched by the infinite scroll never asks for the entity list.
            if not built:
                known = set(entities() if callable(entities) else entities)
                if isinstance(current, str) and 0 < len(current) <= 100:
                    # A link to an entity no longer registered still filters.
                    known.add(current)
                built.extend([("", str(_("Everything"))), *entity_choices(known)])
            return built

        fields["entity"].choices = _entity_choices
        for name in ("since", "until"):
            fields[name].widget.format = "%Y-%m-%d"

    def clean_request(self) -> str:
        value = str(self.cleaned_data.get("request") or "").strip()
        if value and not is_valid_request_id(value):
            raise forms.ValidationError(_("This is not a request id."), code="invalid")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end date is before the start date."))
        return cleaned

    @property
    def active(self) -> bool:
        """True when at least one valid filter is set."""
        return any(self.valid_values().values())

    def valid_values(self) -> dict[str, Any]:
        """The filters that validated (``cleaned_data`` keeps only those)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {key: value for key, value in self.cleaned_data.items() if value}

    def apply(self, queryset: ActivityLogQuerySet) -> ActivityLogQuerySet:
        """Narrow ``queryset`` by every valid filter.

        The log's entries about itself (who read or deleted log rows) are
        left out unless the entity filter asks for them
        (``autoaudit.ActivityLog``): the admin and exports show them.
        """
        values = self.valid_values()
        if values.get("entity") != AUDIT_LOG_LABEL:
            queryset = queryset.exclude(computed_entity=AUDIT_LOG_LABEL)
        if values.get("actor_type"):
            queryset = queryset.filter(actor_type=values["actor_type"])
        if values.get("action"):
            queryset = queryset.filter(action=values["action"])
        if values.get("entity"):
            queryset = filter_entity(queryset, values["entity"])
        if values.get("actor"):
            queryset = queryset.filter(actor_identifier=values["actor"].strip())
        if values.get("tag") and values["tag"].strip():
            queryset = queryset.tagged(values["tag"].strip())
        if values.get("request"):
            queryset = queryset.for_request(values["request"])
        start = _local_midnight(values["since"]) if values.get("since") else None
        if start is not None:
            queryset = queryset.filter(created_at__gte=start)
        end = _local_midnight(values["until"], days=1) if values.get("until") else None
        if end is not None:
            queryset = queryset.filter(created_at__lt=end)
        return queryset


def filter_entity(queryset: ActivityLogQuerySet, label: str) -> ActivityLogQuerySet:
    """Logs of one ``app_label.Model``.

    The short ``entity`` is added when the model is known so the database can
    walk ``idx_actlog_ent_time`` (entity, created_at) newest first.
    """
    if "." not in label:
        # Manual logs of something that is not a model ("contact_form").
        return queryset.filter(entity=label, computed_entity=label)
    model = model_for_label(label)
    if model is None:
        return queryset.filter(computed_entity=label)
    entity, computed = entity_labels(model)
    if computed != label:
        return queryset.filter(computed_entity=label)
    return queryset.filter(entity=entity, computed_entity=computed)


def _local_midnight(day: dt.date, days: int = 0) -> dt.datetime | None:
    """The local midnight ``days`` after the start of ``day``; ``None`` past
    what a ``datetime`` holds (in UTC, as the database compares): the bound
    is then beyond every row (the day after 9999-12-31, or 0001-01-01 east
    of UTC), so that side of the range is open."""
    try:
        moment = dt.datetime.combine(day, dt.time.min) + dt.timedelta(days=days)
        if settings.USE_TZ:
            moment = timezone.make_aware(moment).astimezone(dt.UTC)
    except OverflowError:
        return None
    return moment
