"""Logs written by hand rather than by a tracked write.

The manual helpers (:func:`log_activity`, :func:`log_model_change`
and ``ActivityLog.create_for_instance``), the auth events (login, logout,
failed login) and request events (views, downloads, uploads, POSTs) all come
here. Each resolves the actor like automatic logs do (an explicit
``request`` is used for that one call; ``None``, or an object that is not a
request, means the current request, if any), goes through the one assembler
(so the same masking and size limits apply) and the one store. Inside
``autoaudit.disabled()`` nothing is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models

from autoaudit.actors.request import using_request
from autoaudit.actors.resolve import (
    GUEST_SESSION_KEY,
    guest_session_before_login,
    resolve_actor,
    should_log,
    user_actor,
)
from autoaudit.actors.scopes import actor as explicit_actor
from autoaudit.actors.scopes import is_disabled
from autoaudit.enums import ActionType
from autoaudit.tracking import store
from autoaudit.tracking.record import ACTOR_COLUMNS, COLUMNS, LogDraft, assemble
from autoaudit.tracking.registry import entity_labels, registry
from autoaudit.tracking.snapshot import current_values, differs
from autoaudit.values.labels import model_for_label
from autoaudit.values.serialization import column_text

#: ``log_activity`` keyword arguments that describe the guest.
_GUEST_KWARGS = ("source",)


def _saved_or_unsaved(draft: LogDraft, using: str | None) -> models.Model:
    saved = store.save(draft, using)
    return saved if saved is not None else store.unsaved(draft)


# -- the manual helpers ---------------------------------------------------------------
def log_activity(
    request: Any,
    action: str,
    entity_type: str,
    entity_id: Any = None,
    entity_name: str | None = None,
    old_values: Mapping[str, Any] | None = None,
    new_values: Mapping[str, Any] | None = None,
    changed_fields: list[str] | None = None,
    description: str | None = None,
    guest_name: str | None = None,
    guest_email: str | None = None,
    guest_phone: str | None = None,
    **kwargs: Any,
) -> models.Model:
    """Write one log by hand. ``entity_type`` is the short entity name or
    ``"app_label.Model"``; extra keyword arguments (``source``, ``device``, ...)
    describe a guest, except ``extra_data``, ``computed_entity`` and ``using``.

    Inside ``autoaudit.disabled()``, and for a ``view`` by a guest who opted
    out, the log is built but not saved.
    """
    computed = kwargs.pop("computed_entity", None)
    extra_data = kwargs.pop("extra_data", None)
    using = kwargs.pop("using", None)
    model = model_for_label(entity_type)
    entity = None if model is not None else (entity_type, computed or entity_type)
    guest: dict[str, Any] = {"name": guest_name, "email": guest_email, "phone": guest_phone}
    guest.update({key: kwargs.pop(key) for key in _GUEST_KWARGS if key in kwargs})
    extra_metadata = {k: v for k, v in kwargs.items() if v is not None}
    if extra_metadata:
        guest["extra_metadata"] = extra_metadata
    with using_request(request):
        draft = assemble(
            action,
            model=model,
            entity=entity,
            pk=entity_id,
            name=entity_name,
            old=old_values,
            new=new_values,
            changed=changed_fields,
            description=description,
            guest={k: v for k, v in guest.items() if v is not None},
            extra=extra_data,
        )
        # A guest who opted out leaves no view at all (their data changes
        # are still logged, without identifying data).
        if action == ActionType.VIEW and not should_log(request):
            return store.unsaved(draft)
    return _saved_or_unsaved(draft, using)


def create_for_instance(instance: models.Model, action: str, **kwargs: Any) -> models.Model:
    """``ActivityLog.create_for_instance``: a log about ``instance``.

    Keyword arguments set columns: ``old_values``/``new_values`` are masked
    like tracked values; actor columns given (``user``, ``actor_type``, ...)
    replace the resolved actor's; any other column is set as given.
    """
    given = {key: kwargs.pop(key) for key in ACTOR_COLUMNS if key in kwargs}
    actor = resolve_actor()
    if given.get("user") is not None:
        actor.update(user_actor(given["user"]))
    actor.update(given)
    if "actor_metadata" in given:
        actor.pop("own_metadata", None)  # the caller's metadata is masked whole
    draft = assemble(
        action,
        instance=instance,
        entity=_entity_override(instance, kwargs),
        name=kwargs.pop("entity_name", None),
        old=kwargs.pop("old_values", None),
        new=kwargs.pop("new_values", None),
        changed=kwargs.pop("changed_fields", None),
        description=kwargs.pop("description", None),
        extra=kwargs.pop("extra_data", None),
        actor=actor,
    )
    unknown = sorted(set(kwargs) - set(COLUMNS))
    if unknown:
        raise TypeError(f"ActivityLog has no column(s) {', '.join(unknown)}.")
    if kwargs:
        draft = dataclasses.replace(draft, **kwargs)
    return _saved_or_unsaved(draft, instance._state.db or None)


def _entity_override(instance: models.Model, kwargs: dict[str, Any]) -> tuple[str, str] | None:
    """``entity=``/``computed_entity=`` given to ``create_for_instance``, the
    other one from the instance's model."""
    if "entity" not in kwargs and "computed_entity" not in kwargs:
        return None
    entity, computed = entity_labels(type(instance))
    return kwargs.pop("entity", entity), kwargs.pop("computed_entity", computed)


def loggable_fields(model: type[models.Model]) -> tuple[models.Field[Any, Any], ...]:
    """The fields a log of ``model`` holds: the registered ones, else every
    concrete field but the key and ``auto_now``/``auto_now_add`` fields."""
    tracker = registry.tracker_for(model)
    if tracker is not None:
        return tracker.fields
    return tuple(
        f
        for f in model._meta.concrete_fields
        if not f.primary_key
        and not getattr(f, "auto_now", False)
        and not getattr(f, "auto_now_add", False)
    )


def log_model_change(
    request: Any,
    instance: models.Model,
    action: str,
    old_instance: models.Model | None = None,
) -> models.Model | None:
    """Log a create/update/delete of ``instance`` by hand; for an update,
    ``old_instance`` gives the old values (no log if nothing changed).
    Returns ``None`` when nothing is written (also inside ``disabled()``)."""
    if is_disabled():
        return None
    fields = loggable_fields(type(instance))
    new = current_values(fields, instance)
    with using_request(request):
        if action == "update":
            if old_instance is None:
                return None
            old = current_values(fields, old_instance)
            by_name = {f.name: f for f in fields}
            changed = [n for n in new if n in old and differs(by_name[n], old[n], new[n])]
            if not changed:
                return None
            return create_for_instance(
                instance,
                action,
                old_values={name: old[name] for name in changed},
                new_values={name: new[name] for name in changed},
                changed_fields=changed,
            )
        if action == "delete":
            return create_for_instance(instance, action, old_values=new)
        return create_for_instance(instance, action, new_values=new)


# -- request events ---------------------------------------------------------------------
def log_event(
    action: str,
    *,
    instance: models.Model | None = None,
    model: type[models.Model] | None = None,
    entity: tuple[str, str] | None = None,
    pk: Any = None,
    name: str | None = None,
    description: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> models.Model | None:
    """A ``view``/``download``/``upload``/POST log of the current request,
    about ``instance``, or else ``model``/``entity`` and ``pk``."""
    subject: dict[str, Any] = {"instance": instance} if instance is not None else {"pk": pk}
    draft = assemble(
        action,
        model=model,
        entity=entity,
        name=name,
        description=description,
        extra=extra,
        **subject,
    )
    return store.save(draft, instance._state.db if instance is not None else None)


# -- auth events ----------------------------------------------------------------------------
def username_of(user: Any) -> str | None:
    try:
        return column_text(user.get_username())
    except Exception:
        return column_text(getattr(user, "pk", None))


def attempted_username(credentials: Any) -> str | None:
    """The username tried in a failed login: the value under the user model's
    ``USERNAME_FIELD``, else ``username`` or ``email``. Never any other key."""
    if not isinstance(credentials, dict):
        return None
    field = getattr(get_user_model(), "USERNAME_FIELD", "username")
    for key in (field, "username", "email"):
        value = credentials.get(key)
        if isinstance(value, str) and value.strip():
            return column_text(value)
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


def log_auth_event(action: str, request: Any, user: Any = None, credentials: Any = None) -> None:
    """A ``login``/``logout`` log by ``user``, or a ``login_failed`` log by a
    guest named by the attempted username (nothing else of the credentials
    is read)."""
    if action == ActionType.LOGIN_FAILED:
        username = attempted_username(credentials)
        user = _existing_user(username)
        scope = explicit_actor(identifier=username, actor_type="guest")
    else:
        username = username_of(user)
        scope = explicit_actor(user=user)
    with using_request(request), scope:
        actor = resolve_actor()
        if action == ActionType.LOGIN:
            _link_guest_session(actor, request)
        draft = assemble(
            action,
            model=get_user_model(),
            pk=user.pk if user is not None else None,
            name=username,
            actor=actor,
        )
    store.save(draft)


def _link_guest_session(actor: dict[str, Any], request: Any) -> None:
    """Put the hashed session the user had as a guest on their login log
    (``actor_metadata["guest_session_id"]``), so guest conversion can be
    counted; the value is a keyed hash already, so the masks keep it."""
    guest_session = guest_session_before_login(request)
    if guest_session is None:
        return
    metadata = actor.get("actor_metadata")
    actor["actor_metadata"] = {
        **(metadata if isinstance(metadata, Mapping) else {}),
        GUEST_SESSION_KEY: guest_session,
    }
    actor["own_metadata"] = (*actor.get("own_metadata", ()), GUEST_SESSION_KEY)
