"""Who did it: resolve the actor fields of a log at the moment it is written.

Order: an explicit ``autoaudit.actor(...)`` beats the request's user; a
request with an authenticated user gives a user actor; a request without one
gives a guest; no request at all gives the system. The request's user is read
here, when the log is written, so users authenticated inside the view (token
or JWT authentication, which replace ``request.user``) are named correctly.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings as django_settings
from django.utils.functional import LazyObject, empty

from autoaudit.actors.consent import guest_opted_out
from autoaudit.actors.ip import get_client_ip
from autoaudit.actors.request import current_request, using_request
from autoaudit.actors.scopes import ExplicitActor, current_actor, is_disabled
from autoaudit.actors.useragent import describe_user_agent
from autoaudit.conf import hash_key
from autoaudit.enums import ActorType
from autoaudit.values.serialization import column_text

GUEST_NAME = "Anonymous Guest"
#: ``user_agent`` is stored up to this many characters.
MAX_USER_AGENT_LENGTH = 1000
_GUEST_KEYS = ("email", "phone", "source")


def user_identity(user: Any) -> tuple[str | None, str | None]:
    """``(identifier, name)`` of a user: email (or username), full name (or username).

    Works for custom user models: the username comes from ``USERNAME_FIELD``
    (``get_username()``), the email from ``EMAIL_FIELD``, and a model without
    an email field is identified by its username.
    """
    get_username = getattr(user, "get_username", None)
    try:
        username = get_username() if callable(get_username) else None
    except Exception:
        username = None
    if username is None:
        username = getattr(user, "username", None)
    email_field = getattr(type(user), "EMAIL_FIELD", "email")
    email = getattr(user, email_field, None) if isinstance(email_field, str) else None
    identifier = (
        column_text(email) or column_text(username) or column_text(getattr(user, "pk", None))
    )
    get_full_name = getattr(user, "get_full_name", None)
    try:
        full_name = get_full_name() if callable(get_full_name) else None
    except Exception:
        full_name = None
    return identifier, column_text(full_name) or column_text(username) or identifier


def request_user(request: Any) -> Any:
    """The authenticated user of ``request`` now, or ``None``.

    ``request.user`` is read as it is at this moment (a view may have replaced
    it). Django's lazy user is loaded on first use; if only ``await
    request.auser()`` has loaded it so far, that result is reused.
    """
    if request is None:
        return None
    attrs = getattr(request, "__dict__", {})
    user = attrs.get("user", empty)
    if user is empty:
        user = getattr(request, "user", None)
    elif isinstance(user, LazyObject) and user._wrapped is empty:
        cached = attrs.get("_acached_user")
        if cached is not None:
            user = cached
    if user is None:
        return None
    try:
        authenticated = bool(user.is_authenticated)
    except AttributeError:
        return None
    return user if authenticated else None


def session_id(request: Any) -> str | None:
    """A stable, non-reversible id of the guest's session, or ``None``.

    The raw session key is a credential (whoever holds it is logged in as
    that visitor), so the log stores a keyed hash of it instead, as
    ``"sess_<24 hex digits>"``. No session is ever created or loaded here.
    """
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None) if session is not None else None
    return session_hash(key)


def session_hash(key: Any) -> str | None:
    """The keyed hash of a raw session key, as :func:`session_id` gives it."""
    if not isinstance(key, str) or not key:
        return None
    digest = hmac.new(hash_key(), key.encode(), hashlib.sha256)
    return "sess_" + digest.hexdigest()[:24]


#: The key of a login log's ``actor_metadata`` that holds the guest session.
GUEST_SESSION_KEY = "guest_session_id"


def guest_session_before_login(request: Any) -> str | None:
    """The hashed id of the session a visitor had as a guest, at their login.

    ``django.contrib.auth.login()`` gives the session a new key before
    ``user_logged_in`` is sent, so the guest's key is gone from the session
    by then; the cookie the request came with still holds it. ``None`` when
    there was none, when it is the session's current key (no login happened
    in this request), or when guests are not tracked or this one opted out:
    the link is made only where the guest's own logs could carry the id.
    """
    if request is None or guest_opted_out(request):
        return None
    cookies = getattr(request, "COOKIES", None)
    key = cookies.get(django_settings.SESSION_COOKIE_NAME) if isinstance(cookies, Mapping) else None
    session = getattr(request, "session", None)
    if not isinstance(key, str) or key == getattr(session, "session_key", None):
        return None
    return session_hash(key)


def _meta(request: Any) -> Mapping[str, Any]:
    meta = getattr(request, "META", None) if request is not None else None
    return meta if isinstance(meta, Mapping) else {}


def user_agent(request: Any) -> str | None:
    """The request's User-Agent, cut to :data:`MAX_USER_AGENT_LENGTH`."""
    agent = _meta(request).get("HTTP_USER_AGENT")
    return column_text(agent, MAX_USER_AGENT_LENGTH) if isinstance(agent, str) else None


def referrer(request: Any) -> str | None:
    """The Referer header without its query string and fragment (where
    tokens travel: ``?token=...``, ``#access_token=...``), or ``None``."""
    text = column_text(_meta(request).get("HTTP_REFERER"), 2048)
    if text is None:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return column_text(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))


def _request_metadata(request: Any) -> dict[str, Any]:
    """What the request itself says about a guest (made safe here: the
    session as a keyed hash, the referrer without its query)."""
    metadata = {
        "session_id": session_id(request),
        **describe_user_agent(user_agent(request)),
        "referrer": referrer(request),
    }
    return {key: value for key, value in metadata.items() if value not in (None, "")}


def _guest_metadata(guest: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """What is known about a guest (email, phone, session, device, browser,
    referrer, source, ...), with no null or empty values; ``own`` is what
    the request says (:func:`_request_metadata`)."""
    metadata: dict[str, Any] = {**_identity(guest), **own}
    extra = guest.get("extra_metadata")
    if isinstance(extra, Mapping):
        for key, value in extra.items():
            metadata.setdefault(str(key), value)
    return {key: value for key, value in metadata.items() if value not in (None, "")}


def _identity(guest: Mapping[str, Any]) -> dict[str, Any]:
    """The guest's email, phone and source as given (by ``guest_fields``,
    already masked as their fields are, or by the caller), with no empty value."""
    identity = {key: column_text(guest.get(key)) for key in ("email", "phone", "source")}
    return {key: value for key, value in identity.items() if value}


def user_actor(user: Any) -> dict[str, Any]:
    identifier, name = user_identity(user)
    return {
        "user": user,
        "actor_type": ActorType.USER,
        "actor_identifier": identifier,
        "actor_name": name,
        "actor_metadata": None,
    }


def _system_actor(explicit: ExplicitActor | None = None) -> dict[str, Any]:
    metadata = dict(explicit.metadata) if explicit is not None and explicit.metadata else None
    return {
        "user": None,
        "actor_type": ActorType.SYSTEM,
        "actor_identifier": column_text(explicit.identifier) if explicit is not None else None,
        "actor_name": column_text(explicit.name) if explicit is not None else None,
        "actor_metadata": metadata,
    }


def _explicit_user(explicit: ExplicitActor) -> Any:
    user = explicit.user
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user


def actor_type_for(request: Any = None) -> str:
    """The kind of actor a log written now would name (``user``, ``guest`` or
    ``system``), without building it. ``request`` defaults to the current one."""
    explicit = current_actor()
    if explicit is not None:
        if explicit.actor_type == ActorType.SYSTEM:
            return ActorType.SYSTEM
        if _explicit_user(explicit) is not None or explicit.actor_type == ActorType.USER:
            return ActorType.USER
        return ActorType.GUEST
    if request is None:
        request = current_request()
    if request is None:
        return ActorType.SYSTEM
    return ActorType.USER if request_user(request) is not None else ActorType.GUEST


def resolve_actor(guest: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The actor fields of an :class:`~autoaudit.models.ActivityLog` for now.

    ``guest`` may carry ``email``/``phone``/``name``/``source`` known from the
    saved instance (``guest_fields``) or from a ``log_activity`` call; they
    are used only when the actor turns out to be a guest.
    """
    guest_info = dict(guest or {})
    explicit = current_actor()
    request = current_request()
    fields: dict[str, Any] = {
        "ip_address": get_client_ip(request) if request is not None else None,
        "user_agent": user_agent(request),
    }
    if explicit is not None:
        return _explicit_fields(explicit, request, guest_info, fields)
    if request is None:
        fields.update(_system_actor())
        return fields
    user = request_user(request)
    if user is not None:
        fields.update(user_actor(user))
        return fields
    return _guest_fields(request, guest_info, fields)


def _explicit_fields(
    explicit: ExplicitActor,
    request: Any,
    guest: dict[str, Any],
    fields: dict[str, Any],
) -> dict[str, Any]:
    if explicit.actor_type == ActorType.SYSTEM:
        fields.update(_system_actor(explicit))
        return fields
    user = _explicit_user(explicit)
    if user is not None or explicit.actor_type == ActorType.USER:
        if user is not None:
            fields.update(user_actor(user))
        else:  # a user known only by name (e.g. from another system)
            fields.update(_system_actor(explicit), actor_type=ActorType.USER)
        if explicit.identifier:
            fields["actor_identifier"] = column_text(explicit.identifier)
        if explicit.name:
            fields["actor_name"] = column_text(explicit.name)
        if explicit.metadata:
            fields["actor_metadata"] = dict(explicit.metadata)
        return fields
    metadata = dict(explicit.metadata or {})
    for key in _GUEST_KEYS:
        if metadata.get(key):
            guest[key] = metadata.pop(key)
    if explicit.identifier:
        guest["identifier"] = explicit.identifier
    if explicit.name:
        guest["name"] = explicit.name
    if metadata:
        guest["extra_metadata"] = {**metadata, **dict(guest.get("extra_metadata") or {})}
    return _guest_fields(request, guest, fields)


def _guest_fields(request: Any, guest: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    if guest_opted_out(request):
        # Logged, but with nothing that identifies the visitor.
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
    own = _request_metadata(request)
    metadata = _guest_metadata(guest, own)
    identifier = (
        column_text(guest.get("identifier"))
        or metadata.get("email")
        or metadata.get("phone")
        or metadata.get("session_id")
        or fields.get("ip_address")
    )
    fields.update(
        user=None,
        actor_type=ActorType.GUEST,
        actor_identifier=identifier,
        actor_name=column_text(guest.get("name")) or GUEST_NAME,
        actor_metadata=metadata or None,
        # The keys whose values are already safe: the masks by name leave
        # them as they are (``session_id`` is a keyed hash already).
        own_metadata=(*_identity(guest), *own),
    )
    return fields


def should_log(request: Any = None) -> bool:
    """Whether a request event (a view, a download) may be logged now: not
    inside ``disabled()``, and not for a guest who opted out. ``request``
    defaults to the current one."""
    if is_disabled():
        return False
    with using_request(request):
        current = current_request()
        if actor_type_for(current) == ActorType.GUEST:
            return not guest_opted_out(current)
    return True
