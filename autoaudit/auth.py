"""``login``, ``logout`` and ``login_failed`` logs from Django's auth signals.

Connected once in ``AppConfig.ready()``. Each event can be switched off with
``AUTOAUDIT["AUTH_EVENTS"]`` (read on every event, so ``override_settings``
works). The entity is the user model (``entity="user"``,
``computed_entity="auth.User"`` or the custom model's label) and
``entity_pk`` the user's key when it is known.

A failed login is logged as a guest whose ``actor_identifier`` is the
attempted username. Nothing else from the credentials is read or stored: no
password, token or other field, not even in masked form.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext

from autoaudit import writer
from autoaudit.actors import _cut
from autoaudit.conf import get_settings
from autoaudit.context import actor, is_disabled
from autoaudit.request import using_request


def _enabled(event: str) -> bool:
    return event in get_settings().AUTH_EVENTS and not is_disabled()


def _write(
    action: str,
    request: Any,
    user: models.Model | None,
    username: str | None,
    description: str,
    explicit: actor,
) -> None:
    from autoaudit.registry import entity_labels

    entity, computed = entity_labels(get_user_model())
    with using_request(request), explicit:
        log = writer.build(
            action=action,
            entity=entity,
            computed_entity=computed,
            pk=user.pk if user is not None else None,
            entity_name=username,
            description=description,
        )
    writer.insert(log)


def _username(user: Any) -> str | None:
    try:
        return _cut(user.get_username())
    except Exception:
        return _cut(getattr(user, "pk", None))


def on_login(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """``user_logged_in`` → a ``login`` log by that user."""
    if user is None or not _enabled("login"):
        return
    _write("login", request, user, _username(user), gettext("Logged in"), actor(user=user))


def on_logout(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """``user_logged_out`` → a ``logout`` log (nothing if no one was logged in)."""
    if user is None or not _enabled("logout"):
        return
    _write("logout", request, user, _username(user), gettext("Logged out"), actor(user=user))


def attempted_username(credentials: Any) -> str | None:
    """The username tried in a failed login: the value under the user model's
    ``USERNAME_FIELD``, else ``username`` or ``email``. Never any other key."""
    if not isinstance(credentials, dict):
        return None
    field = getattr(get_user_model(), "USERNAME_FIELD", "username")
    for key in (field, "username", "email"):
        value = credentials.get(key)
        if isinstance(value, str) and value.strip():
            return _cut(value)
    return None


def _existing_user(username: str | None) -> models.Model | None:
    if not username:
        return None
    model = get_user_model()
    try:
        return model._default_manager.get_by_natural_key(username)
    except (
        model.DoesNotExist,
        model.MultipleObjectsReturned,
        AttributeError,  # a custom manager without get_by_natural_key()
        ValidationError,
        ValueError,
        TypeError,
    ):
        return None


def on_login_failed(
    sender: Any, credentials: Any = None, request: Any = None, **kwargs: Any
) -> None:
    """``user_login_failed`` → a ``login_failed`` log naming the attempted username."""
    if not _enabled("login_failed"):
        return
    username = attempted_username(credentials)
    target = _existing_user(username)
    if username:
        text = gettext('Failed login as "%(username)s"') % {"username": username}
    else:
        text = gettext("Failed login")
    explicit = actor(identifier=username, actor_type="guest")
    _write("login_failed", request, target, username, text, explicit)


def connect() -> None:
    """Connect the receivers (idempotent: stable ``dispatch_uid``)."""
    user_logged_in.connect(on_login, dispatch_uid="autoaudit.auth.login")
    user_logged_out.connect(on_logout, dispatch_uid="autoaudit.auth.logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="autoaudit.auth.login_failed")
