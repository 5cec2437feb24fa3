"""Choices for :class:`autoaudit.models.ActivityLog`: who acted and what they did."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ActorType(models.TextChoices):
    """Who performed an activity."""

    USER = "user", _("User")
    GUEST = "guest", _("Guest")
    SYSTEM = "system", _("System")


class ActionType(models.TextChoices):
    """What kind of activity was recorded. Every value fits in 12 characters."""

    # Core CRUD operations
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    VIEW = "view", _("View")
    # Authentication
    LOGIN = "login", _("Login")
    LOGOUT = "logout", _("Logout")
    LOGIN_FAILED = "login_failed", _("Login failed")
    # Files
    UPLOAD = "upload", _("Upload")
    DOWNLOAD = "download", _("Download")
    # Status changes
    ACTIVATE = "activate", _("Activate")
    DEACTIVATE = "deactivate", _("Deactivate")
    PUBLISH = "publish", _("Publish")
    UNPUBLISH = "unpublish", _("Unpublish")
