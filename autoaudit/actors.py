"""Who did it: resolve the actor fields of a log at the moment it is written.

Order: an explicit ``autoaudit.actor(...)`` beats the request's user; a
request with an authenticated user gives a user actor; a request without one
gives a guest; no request at all gives the system. The request's user is read
here, when the log is written, so users authenticated inside the view (token
or JWT authentication) are named correctly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autoaudit.conf import get_settings
from autoaudit.context import current_actor
from autoaudit.enums import ActorType
from autoaudit.request import current_request, get_client_ip

GUEST_NAME = "Anonymous Guest"
_MAX = 255


def _cut(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:_MAX] or None


def user_identity(user: Any) -> tuple[str | None, str | None]:
    """``(identifier, name)`` of a user: email (or username), full name (or username)."""
    username = None
    try:
        username = user.get_username()
    except Exception:
        username = getattr(user, "username", None)
    email_field = getattr(type(user), "EMAIL_FIELD", "email")
    email = getattr(user, email_field, None) if isinstance(email_field, str) else None
    identifier = _cut(email) or _cut(username) or _cut(getattr(user, "pk", None))
    full_name = None
    get_full_name = getattr(user, "get_full_name", None)
    if callable(get_full_name):
        try:
            full_name = get_full_name()
        except Exception:
            full_name = None
    return identifier, _cut(full_name) or _cut(username) or identifier


def _request_user(request: Any) -> Any:
    user = getattr(request, "user", None)
    if user is None:
        return None
    try:
        return user if user.is_authenticated else None
    except Exception:
        return None


def _session_key(request: Any) -> str | None:
    # Never create a session: read the key only if one exists.
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None) if session is not None else None
    return key if isinstance(key, str) and key else None


def _user_agent(request: Any) -> str | None:
    meta = getattr(request, "META", None)
    if not isinstance(meta, dict):
        return None
    agent = meta.get("HTTP_USER_AGENT")
    if not isinstance(agent, str) or not agent:
        return None
    return agent[:1000]


def _user_fields(user: Any) -> dict[str, Any]:
    identifier, name = user_identity(user)
    return {
        "user": user,
        "actor_type": ActorType.USER,
        "actor_identifier": identifier,
        "actor_name": name,
        "actor_metadata": None,
    }


def guest_metadata(request: Any, guest: Mapping[str, Any]) -> dict[str, Any]:
    """What is known about a guest, with no null keys."""
    from autoaudit.useragent import describe_user_agent

    meta = getattr(request, "META", None) if request is not None else None
    metadata: dict[str, Any] = {
        "email": guest.get("email"),
        "phone": guest.get("phone"),
        "session_id": _session_key(request) if request is not None else None,
        "source": guest.get("source"),
    }
    if isinstance(meta, dict):
        metadata.update(describe_user_agent(meta.get("HTTP_USER_AGENT")))
        referrer = meta.get("HTTP_REFERER")
        metadata["referrer"] = referrer[:_MAX] if isinstance(referrer, str) else None
    return {key: value for key, value in metadata.items() if value not in (None, "")}


def resolve_actor(guest: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The actor fields of an :class:`~autoaudit.models.ActivityLog` for now.

    ``guest`` may carry ``email``/``phone``/``name``/``source`` known from the
    saved instance (``guest_fields``) or from a ``log_activity`` call; they are
    used only when the actor turns out to be a guest.
    """
    guest = dict(guest or {})
    explicit = current_actor()
    request = current_request()
    fields: dict[str, Any] = {"ip_address": None, "user_agent": None}
    if request is not None:
        fields["ip_address"] = get_client_ip(request)
        fields["user_agent"] = _user_agent(request)

    if explicit is not None:
        if explicit.actor_type == ActorType.SYSTEM:
            fields.update(
                user=None,
                actor_type=ActorType.SYSTEM,
                actor_identifier=_cut(explicit.identifier),
                actor_name=_cut(explicit.name),
                actor_metadata=dict(explicit.metadata) if explicit.metadata else None,
            )
            return fields
        user = explicit.user
        if user is not None and getattr(user, "is_authenticated", False):
            fields.update(_user_fields(user))
            if explicit.identifier:
                fields["actor_identifier"] = _cut(explicit.identifier)
            if explicit.name:
                fields["actor_name"] = _cut(explicit.name)
            if explicit.metadata:
                fields["actor_metadata"] = dict(explicit.metadata)
            return fields
        if explicit.identifier:
            guest.setdefault("identifier", explicit.identifier)
        if explicit.name:
            guest["name"] = explicit.name
        if explicit.metadata:
            guest.setdefault("extra_metadata", dict(explicit.metadata))
        return _guest_fields(request, guest, fields)

    if request is None:
        fields.update(
            user=None,
            actor_type=ActorType.SYSTEM,
            actor_identifier=None,
            actor_name=None,
            actor_metadata=None,
        )
        return fields
    user = _request_user(request)
    if user is not None:
        fields.update(_user_fields(user))
        return fields
    return _guest_fields(request, guest, fields)


def _guest_fields(request: Any, guest: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    from autoaudit.privacy import guest_opted_out

    if guest_opted_out(request):
        fields.update(
            user=None,
            actor_type=ActorType.GUEST,
            actor_identifier=None,
            actor_name=None,
            actor_metadata=None,
            ip_address=None,
            user_agent=None,
        )
        return fields
    metadata = guest_metadata(request, guest)
    extra_metadata = guest.get("extra_metadata")
    if extra_metadata:
        metadata.update({k: v for k, v in extra_metadata.items() if v is not None})
    identifier = (
        _cut(guest.get("email"))
        or _cut(guest.get("phone"))
        or _cut(guest.get("identifier"))
        or metadata.get("session_id")
        or fields.get("ip_address")
    )
    fields.update(
        user=None,
        actor_type=ActorType.GUEST,
        actor_identifier=identifier,
        actor_name=_cut(guest.get("name")) or GUEST_NAME,
        actor_metadata=metadata or None,
    )
    return fields


def system_fields() -> dict[str, Any]:
    return {
        "user": None,
        "actor_type": ActorType.SYSTEM,
        "actor_identifier": None,
        "actor_name": None,
        "actor_metadata": None,
        "ip_address": None,
        "user_agent": None,
    }


def guest_tracking_enabled() -> bool:
    return get_settings().GUEST_TRACKING
