"""Actor resolution: users, guests and the system (API.md "Actor resolution")."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils.functional import SimpleLazyObject

import autoaudit
from autoaudit.actors.request import using_request
from autoaudit.actors.resolve import (
    GUEST_NAME,
    actor_type_for,
    request_user,
    resolve_actor,
    session_id,
    user_identity,
)

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


def _request(user: Any = None, session_key: str | None = None, **meta: Any) -> Any:
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.5", **meta)
    request.user = user if user is not None else AnonymousUser()
    if session_key is not None:
        request.session = SessionStore(session_key=session_key)
    return request


def _resolve(request: Any, guest: dict[str, Any] | None = None) -> dict[str, Any]:
    with using_request(request):
        return resolve_actor(guest)


# -- users ------------------------------------------------------------------------
@pytest.mark.django_db
def test_user_actor_with_email_and_full_name() -> None:
    user = get_user_model()._default_manager.create_user(
        "john", "john@example.com", "x", first_name="John", last_name="Doe"
    )
    fields = _resolve(_request(user))
    assert fields["actor_type"] == "user"
    assert fields["user"] == user
    assert fields["actor_identifier"] == "john@example.com"
    assert fields["actor_name"] == "John Doe"
    assert fields["actor_metadata"] is None
    assert fields["ip_address"] == "203.0.113.5"


@pytest.mark.django_db
def test_user_without_email_or_name_is_named_by_username() -> None:
    user = get_user_model()._default_manager.create_user("nomail", "", "x")
    assert user_identity(user) == ("nomail", "nomail")


class _HandleUser:
    """A custom user: ``USERNAME_FIELD = "handle"`` and no email field."""

    USERNAME_FIELD = "handle"
    is_authenticated = True
    pk = 7

    def __init__(self, handle: str) -> None:
        self.handle = handle

    def get_username(self) -> str:
        return str(getattr(self, self.USERNAME_FIELD))


class _EmailFieldUser(_HandleUser):
    EMAIL_FIELD = "contact_address"
    contact_address = "c@example.com"

    def get_full_name(self) -> str:
        return "  "  # blank: falls back to the username


def test_custom_username_field_and_no_email() -> None:
    assert user_identity(_HandleUser("@handle")) == ("@handle", "@handle")
    fields = _resolve(_request(_HandleUser("@handle")))
    assert (fields["actor_type"], fields["actor_identifier"]) == ("user", "@handle")


def test_custom_email_field() -> None:
    assert user_identity(_EmailFieldUser("h")) == ("c@example.com", "h")


def test_broken_user_methods_do_not_crash() -> None:
    class Broken:
        pk = 3
        is_authenticated = True

        def get_username(self) -> str:
            raise RuntimeError

        def get_full_name(self) -> str:
            raise RuntimeError

    assert user_identity(Broken()) == ("3", "3")


def test_long_identity_is_cut_to_the_column() -> None:
    identifier, name = user_identity(_HandleUser("h" * 400))
    assert identifier is not None and len(identifier) == 255
    assert name is not None and len(name) == 255


# -- the request's user, read when the log is written ---------------------------
def test_user_set_after_the_middleware_counts() -> None:
    request = _request()
    assert request_user(request) is None
    request.user = _HandleUser("late")  # e.g. DRF token authentication
    assert request_user(request).handle == "late"


def test_lazy_user_loaded_by_auser_is_reused() -> None:
    request = _request()
    request.user = SimpleLazyObject(lambda: pytest.fail("must not load the lazy user"))
    request._acached_user = _HandleUser("async")
    assert request_user(request).handle == "async"


def test_lazy_user_is_loaded_when_needed() -> None:
    request = _request()
    request.user = SimpleLazyObject(lambda: _HandleUser("lazy"))
    assert request_user(request).handle == "lazy"


def test_user_objects_without_is_authenticated_are_not_users() -> None:
    request = _request()
    request.user = object()
    assert request_user(request) is None
    assert request_user(SimpleNamespace()) is None


# -- guests -----------------------------------------------------------------------
def test_guest_falls_back_to_ip_without_a_session() -> None:
    fields = _resolve(_request())
    assert fields["actor_type"] == "guest"
    assert fields["user"] is None
    assert fields["actor_identifier"] == "203.0.113.5"
    assert fields["actor_name"] == GUEST_NAME
    assert fields["actor_metadata"] is None  # nothing known, no null keys


@pytest.mark.django_db
def test_guest_with_a_session_is_identified_by_a_hashed_session_id() -> None:
    store = SessionStore()
    store.create()
    assert store.session_key is not None
    request = _request(session_key=store.session_key)
    fields = _resolve(request)
    assert fields["actor_identifier"] == session_id(request)
    assert fields["actor_identifier"].startswith("sess_")
    # The raw key is a credential: it is stored nowhere.
    assert store.session_key not in repr(fields)
    assert fields["actor_metadata"] == {"session_id": fields["actor_identifier"]}


def test_session_without_a_key_is_not_created() -> None:
    request = _request()
    request.session = SessionStore()
    assert _resolve(request)["actor_identifier"] == "203.0.113.5"
    assert request.session.session_key is None


@pytest.mark.django_db
def test_identifier_priority_email_phone_session_ip() -> None:
    store = SessionStore()
    store.create()
    request = _request(session_key=store.session_key)
    guest = {"email": "g@example.com", "phone": "+6281234567890", "name": "Jane"}
    assert _resolve(request, guest)["actor_identifier"] == "g@example.com"
    guest.pop("email")
    assert _resolve(request, guest)["actor_identifier"] == "+6281234567890"
    guest.pop("phone")
    assert _resolve(request, guest)["actor_identifier"] == session_id(request)
    assert _resolve(_request(), guest)["actor_identifier"] == "203.0.113.5"
    assert _resolve(request, guest)["actor_name"] == "Jane"


def test_guest_metadata_has_what_is_known_and_no_null_keys() -> None:
    request = _request(HTTP_USER_AGENT=IPHONE, HTTP_REFERER="https://google.com/")
    fields = _resolve(request, {"email": "g@example.com", "phone": None, "source": "landing"})
    assert fields["actor_metadata"] == {
        "email": "g@example.com",
        "source": "landing",
        "device": "mobile",
        "browser": "Mobile Safari 17",
        "os": "iOS 17",
        "referrer": "https://google.com/",
    }
    assert fields["user_agent"] == IPHONE


def test_ten_kilobyte_user_agent_is_capped() -> None:
    agent = CHROME + " " + "A" * 10_240
    fields = _resolve(_request(HTTP_USER_AGENT=agent))
    assert len(fields["user_agent"]) == 1000
    assert fields["actor_metadata"]["browser"] == "Chrome 120"


def test_nul_bytes_are_stripped() -> None:
    fields = _resolve(_request(HTTP_USER_AGENT="curl/8.0\x00evil", HTTP_REFERER="a\x00b"))
    assert fields["user_agent"] == "curl/8.0evil"
    assert fields["actor_metadata"]["referrer"] == "ab"


@override_settings(AUTOAUDIT={"GUEST_TRACKING": False})
def test_opted_out_guest_has_no_identifying_data() -> None:
    request = _request(HTTP_USER_AGENT=CHROME)
    fields = _resolve(request, {"email": "g@example.com", "name": "Jane"})
    assert fields["actor_type"] == "guest"
    for key in ("actor_identifier", "actor_name", "actor_metadata", "ip_address", "user_agent"):
        assert fields[key] is None, key


# -- the system and explicit actors ----------------------------------------------
def test_no_request_and_no_actor_is_the_system() -> None:
    fields = resolve_actor()
    assert fields["actor_type"] == "system"
    assert fields["user"] is None
    assert fields["actor_identifier"] is None
    assert fields["ip_address"] is None
    assert actor_type_for() == "system"


def test_explicit_actor_beats_the_request_user() -> None:
    request = _request(_HandleUser("request-user"))
    with using_request(request), autoaudit.actor(identifier="import-bot", name="Importer"):
        fields = resolve_actor()
        assert actor_type_for() == "guest"
    assert (fields["actor_type"], fields["actor_identifier"], fields["actor_name"]) == (
        "guest",
        "import-bot",
        "Importer",
    )


def test_explicit_user_actor() -> None:
    user = _HandleUser("explicit")
    # a duck-typed custom user (not a model instance) stands in for one
    with autoaudit.actor(user=cast(AbstractBaseUser, user), metadata={"via": "admin"}):
        fields = resolve_actor()
        assert actor_type_for() == "user"
    assert fields["user"] is user
    assert fields["actor_identifier"] == "explicit"
    assert fields["actor_metadata"] == {"via": "admin"}


def test_explicit_user_type_without_a_user_object() -> None:
    with autoaudit.actor(actor_type="user", identifier="ext-42", name="Remote user"):
        fields = resolve_actor()
    assert (fields["actor_type"], fields["user"], fields["actor_identifier"]) == (
        "user",
        None,
        "ext-42",
    )


def test_explicit_system_actor_in_a_request() -> None:
    request = _request(_HandleUser("someone"))
    with using_request(request), autoaudit.actor(actor_type="system", name="cron"):
        fields = resolve_actor()
        assert actor_type_for() == "system"
    assert (fields["actor_type"], fields["actor_name"], fields["user"]) == ("system", "cron", None)


def test_explicit_guest_metadata_supplies_email_and_extras() -> None:
    metadata = {"email": "m@example.com", "campaign": "spring"}
    with autoaudit.actor(metadata=metadata):
        fields = resolve_actor({"email": "instance@example.com"})
    assert fields["actor_identifier"] == "m@example.com"
    assert fields["actor_metadata"] == {"email": "m@example.com", "campaign": "spring"}


def test_anonymous_user_as_explicit_actor_is_a_guest() -> None:
    with using_request(_request()), autoaudit.actor(user=AnonymousUser()):
        assert resolve_actor()["actor_type"] == "guest"


def test_an_object_that_is_not_a_request_is_ignored() -> None:
    with using_request(SimpleNamespace(user=_HandleUser("fake"), META={})):
        assert resolve_actor()["actor_type"] == "system"
    with using_request("not a request"):
        assert resolve_actor()["actor_type"] == "system"


def test_drf_like_wrapper_is_unwrapped() -> None:
    inner = _request(_HandleUser("drf"))
    with using_request(SimpleNamespace(_request=inner)):
        assert resolve_actor()["actor_identifier"] == "drf"


@pytest.mark.django_db
def test_resolving_a_loaded_user_costs_no_query() -> None:
    user = get_user_model()._default_manager.create_user("q", "q@example.com", "x")
    with CaptureQueriesContext(connection) as queries:
        _resolve(_request(user, HTTP_USER_AGENT=CHROME))
    assert len(queries) == 0
