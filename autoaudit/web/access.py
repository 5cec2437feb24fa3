"""Who may read which logs.

The rule: a user sees only their
own activity; a user with the ``autoaudit.view_activitylog`` permission (an
admin or manager; superusers have every permission) sees everyone's;
anonymous visitors and inactive users see nothing. Every view of the timeline
and the admin's activity pages goes through :func:`visible_logs`, on every
page, so a crafted cursor or filter can only narrow what a user sees.
"""

from __future__ import annotations

from typing import Any

from autoaudit.models import ActivityLog, ActivityLogQuerySet

#: The permission that lets a user read every actor's logs.
VIEW_ALL_PERMISSION = "autoaudit.view_activitylog"


def can_view_all(user: Any) -> bool:
    """True if ``user`` may read every actor's logs, not only their own."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not getattr(user, "is_active", True):
        return False
    return bool(user.has_perm(VIEW_ALL_PERMISSION))


def visible_logs(user: Any, queryset: ActivityLogQuerySet | None = None) -> ActivityLogQuerySet:
    """The logs ``user`` may read, narrowed from ``queryset`` (default: all logs).

    - anonymous, missing or inactive user: no logs;
    - ``autoaudit.view_activitylog`` (or superuser): every log;
    - any other user: the logs they wrote themselves (``user`` foreign key),
      which ``idx_actlog_user_time`` serves newest first.
    """
    if queryset is None:
        queryset = ActivityLog.objects.all()
    if user is None or not getattr(user, "is_authenticated", False):
        return queryset.none()
    if not getattr(user, "is_active", True):
        return queryset.none()
    if can_view_all(user):
        return queryset
    return queryset.filter(user_id=user.pk)
