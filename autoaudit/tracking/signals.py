"""Every signal receiver of autoaudit, and their wiring.

Per tracked model (``sender=``, stable ``dispatch_uid``), connected by
:func:`sync`, which the registry calls after every change (deletes have no
receiver: see :mod:`autoaudit.tracking.deletes`):

- ``pre_save`` reads the old values (:mod:`~autoaudit.tracking.snapshot`;
  no query for a create);
- ``post_save`` compares and writes the create or update log;
- ``m2m_changed`` logs registered many-to-many fields.

Once, from ``AppConfig.ready()`` (:func:`connect_global`): the auth signals
(``login``, ``logout``, ``login_failed``) and ``setting_changed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.signals import setting_changed
from django.db import models
from django.db.models.signals import m2m_changed, post_save, pre_save

from autoaudit import conf
from autoaudit.actors.scopes import is_disabled
from autoaudit.enums import ActionType
from autoaudit.tracking import m2m, manual, store
from autoaudit.tracking.registry import Routes, Tracker, registry
from autoaudit.tracking.saves import save_draft
from autoaudit.tracking.snapshot import before_save, frame_of

_M2M = "_autoaudit_m2m"


def _uid(kind: str, sender: type[models.Model]) -> str:
    return f"autoaudit.{kind}.{sender._meta.label}"


# -- save -----------------------------------------------------------------
def _pre_save(
    sender: type[models.Model],
    instance: models.Model,
    raw: bool = False,
    using: str | None = None,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    frame = frame_of(instance)  # opened by the save_base patch for tracked saves
    if frame is None or (raw and not conf.get_settings().LOG_RAW_SAVES):
        return
    frame.snapshot = before_save(frame, using, update_fields, raw)
    frame.done = False


def _post_save(
    sender: type[models.Model],
    instance: models.Model,
    created: bool = False,
    raw: bool = False,
    using: str | None = None,
    **kwargs: Any,
) -> None:
    frame = frame_of(instance)
    if frame is None or frame.done or (raw and not conf.get_settings().LOG_RAW_SAVES):
        return
    frame.done = True
    alias = using or "default"
    draft = save_draft(frame, created, alias)
    if draft is not None:
        store.write([draft], alias)


# -- many-to-many -----------------------------------------------------------
def _m2m_receiver(tracker: Tracker, field: models.ManyToManyField[Any, Any]) -> Callable[..., None]:
    def receiver(
        sender: Any,
        instance: models.Model,
        action: str,
        reverse: bool,
        model: type[models.Model],
        pk_set: set[Any] | None,
        using: str | None = None,
        **kwargs: Any,
    ) -> None:
        if is_disabled() or registry.tracker_for(tracker.model) is not tracker:
            return
        if "update" not in tracker.actions:
            return
        if kwargs.get("raw") and not conf.get_settings().LOG_RAW_SAVES:
            return  # loaddata (Django 6.1+ says so)
        key = (field.name, reverse)
        pending: dict[Any, Any] = instance.__dict__.setdefault(_M2M, {})
        alias = using or "default"
        if action.startswith("pre_"):
            pending[key] = m2m.before(field, instance, reverse, pk_set, alias)
        elif key in pending:
            before = pending.pop(key)
            if not pending:
                del instance.__dict__[_M2M]
            drafts = m2m.drafts(tracker, field, instance, reverse, action, pk_set, before, alias)
            store.write(drafts, alias)

    return receiver


# -- auth events ----------------------------------------------------------------
def _auth_event(event: str) -> bool:
    return event in conf.get_settings().AUTH_EVENTS and not is_disabled()


def _on_login(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if user is not None and _auth_event("login"):
        manual.log_auth_event(ActionType.LOGIN, request, user)


def _on_logout(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    # Nothing when no one was logged in.
    if user is not None and _auth_event("logout"):
        manual.log_auth_event(ActionType.LOGOUT, request, user)


def _on_login_failed(
    sender: Any, credentials: Any = None, request: Any = None, **kwargs: Any
) -> None:
    if _auth_event("login_failed"):
        manual.log_auth_event(ActionType.LOGIN_FAILED, request, credentials=credentials)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "AUTOAUDIT":
        conf.clear_cache()
        registry.settings_changed()


# -- wiring ---------------------------------------------------------------
_MODEL_SIGNALS = (
    (pre_save, _pre_save, "pre_save"),
    (post_save, _post_save, "post_save"),
)
#: sender -> the tracker its receivers were connected for.
_connected: dict[type[models.Model], Tracker] = {}


def _connect(sender: type[models.Model], tracker: Tracker) -> None:
    for signal, receiver, kind in _MODEL_SIGNALS:
        signal.connect(receiver, sender=sender, dispatch_uid=_uid(kind, sender))
    if sender is tracker.model:
        for field in tracker.m2m:
            m2m_changed.connect(
                _m2m_receiver(tracker, field),
                sender=field.remote_field.through,
                weak=False,
                dispatch_uid=_uid(f"m2m.{field.name}", sender),
            )


def _disconnect(sender: type[models.Model], tracker: Tracker) -> None:
    for signal, _receiver, kind in _MODEL_SIGNALS:
        signal.disconnect(sender=sender, dispatch_uid=_uid(kind, sender))
    if sender is tracker.model:
        for field in tracker.m2m:
            m2m_changed.disconnect(
                sender=field.remote_field.through, dispatch_uid=_uid(f"m2m.{field.name}", sender)
            )


def sync(routes: Routes) -> None:
    """Subscribed to the registry: receivers for exactly the routed senders."""
    for sender, tracker in list(_connected.items()):
        if routes.get(sender) is not tracker:
            _disconnect(sender, tracker)
            del _connected[sender]
    for sender, tracker in routes.items():
        if sender not in _connected:
            _connect(sender, tracker)
            _connected[sender] = tracker


def connect_global() -> None:
    """The receivers that are not per model (idempotent: stable ``dispatch_uid``)."""
    user_logged_in.connect(_on_login, dispatch_uid="autoaudit.auth.login")
    user_logged_out.connect(_on_logout, dispatch_uid="autoaudit.auth.logout")
    user_login_failed.connect(_on_login_failed, dispatch_uid="autoaudit.auth.login_failed")
    setting_changed.connect(_on_setting_changed, dispatch_uid="autoaudit.setting_changed")
