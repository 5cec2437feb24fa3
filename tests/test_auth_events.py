"""``login`` / ``logout`` / ``login_failed`` logs from Django's auth signals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import (
    aauthenticate,
    aget_user,
    alogin,
    alogout,
    authenticate,
    get_user_model,
)
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.db import SessionStore
from django.core.serializers.json import DjangoJSONEncoder
from django.forms.models import model_to_dict
from django.test import Client, RequestFactory, override_settings

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.tracking.manual import attempted_username
from tests.asgi_support import run_async

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
WRONG = "hunter2-very-secret"


@pytest.fixture
def user() -> User:
    return get_user_model()._default_manager.create_user(
        "john", "john@example.com", PASSWORD, first_name="John", last_name="Doe"
    )


def _row_text(log: ActivityLog) -> str:
    return json.dumps(model_to_dict(log), cls=DjangoJSONEncoder, default=str)


def test_login_is_logged(user: User) -> None:
    client = Client(REMOTE_ADDR="198.51.100.7")
    response = client.post("/actors/login/", {"username": "john", "password": PASSWORD})
    assert response.status_code == 200
    log = ActivityLog.objects.get(action="login")
    assert (log.actor_type, log.user_id, log.actor_identifier, log.actor_name) == (
        "user",
        user.pk,
        "john@example.com",
        "John Doe",
    )
    assert (log.entity, log.computed_entity, log.entity_id, log.entity_pk) == (
        "user",
        "auth.User",
        user.pk,
        str(user.pk),
    )
    assert log.entity_name == "john"
    assert log.ip_address == "198.51.100.7"
    assert log.description == "Logged in"
    assert PASSWORD not in _row_text(log)


def test_logout_is_logged(user: User) -> None:
    client = Client()
    client.force_login(user)
    client.post("/actors/logout/")
    log = ActivityLog.objects.get(action="logout")
    assert (log.actor_type, log.user_id, log.entity_pk) == ("user", user.pk, str(user.pk))


def test_logout_without_a_user_logs_nothing() -> None:
    Client().post("/actors/logout/")
    assert not ActivityLog.objects.exists()


def test_failed_login_records_the_username_and_no_credential(user: User) -> None:
    client = Client(REMOTE_ADDR="203.0.113.66")
    response = client.post("/actors/login/", {"username": "john", "password": WRONG})
    assert response.status_code == 401
    log = ActivityLog.objects.get()
    assert log.action == "login_failed"
    assert (log.actor_type, log.user_id, log.actor_identifier) == ("guest", None, "john")
    # The targeted account is the entity, when it exists.
    assert (log.entity, log.entity_pk, log.entity_name) == ("user", str(user.pk), "john")
    assert log.ip_address == "203.0.113.66"
    text = _row_text(log)
    assert WRONG not in text
    assert "password" not in text
    assert "********" not in text  # not even Django's cleansed placeholder


def test_failed_login_for_unknown_username() -> None:
    authenticate(username="nobody", password=WRONG)
    log = ActivityLog.objects.get()
    assert (log.action, log.actor_identifier, log.entity_pk, log.entity_name) == (
        "login_failed",
        "nobody",
        None,
        "nobody",
    )
    assert log.description == 'Failed login as "nobody"'
    assert WRONG not in _row_text(log)


def test_failed_login_without_a_username() -> None:
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.3")
    request.user = AnonymousUser()
    authenticate(request, password=WRONG)
    log = ActivityLog.objects.get()
    assert (log.actor_identifier, log.entity_name, log.description) == (
        "203.0.113.3",
        None,
        "Failed login",
    )


def test_attempted_username_reads_only_username_keys() -> None:
    assert attempted_username({"username": "ann", "password": WRONG}) == "ann"
    assert attempted_username({"email": "a@example.com", "token": "t"}) == "a@example.com"
    assert attempted_username({"password": WRONG, "api_key": "k"}) is None
    assert attempted_username({"username": "   "}) is None
    assert attempted_username(None) is None
    assert attempted_username({"username": "x" * 400}) == "x" * 255


@pytest.mark.parametrize("off", ["login", "logout", "login_failed"])
def test_each_event_can_be_switched_off(user: User, off: str) -> None:
    events = [name for name in ("login", "logout", "login_failed") if name != off]
    with override_settings(AUTOAUDIT={"AUTH_EVENTS": events}):
        client = Client()
        client.post("/actors/login/", {"username": "john", "password": WRONG})
        client.post("/actors/login/", {"username": "john", "password": PASSWORD})
        client.post("/actors/logout/")
    logged = set(ActivityLog.objects.values_list("action", flat=True))
    assert logged == set(events)


@override_settings(AUTOAUDIT={"AUTH_EVENTS": []})
def test_empty_list_logs_no_auth_event(user: User) -> None:
    client = Client()
    client.post("/actors/login/", {"username": "john", "password": WRONG})
    client.login(username="john", password=PASSWORD)
    client.logout()
    assert not ActivityLog.objects.exists()


def test_disabled_logs_no_auth_event(user: User) -> None:
    with autoaudit.disabled():
        Client().login(username="john", password=PASSWORD)
        authenticate(username="john", password=WRONG)
    assert not ActivityLog.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_async_login_and_logout(user: User) -> None:
    async def run() -> None:
        request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.9")
        request.session = SessionStore()

        async def session_user() -> Any:  # what AuthenticationMiddleware provides
            return await aget_user(request)

        request.user = AnonymousUser()
        request.auser = session_user
        assert await aauthenticate(request, username="john", password=WRONG) is None
        authenticated = await aauthenticate(request, username="john", password=PASSWORD)
        await alogin(request, authenticated)
        await alogout(request)

    run_async(run())
    actions = list(ActivityLog.objects.order_by("id").values_list("action", "ip_address"))
    assert actions == [
        ("login_failed", "198.51.100.9"),
        ("login", "198.51.100.9"),
        ("logout", "198.51.100.9"),
    ]
    assert ActivityLog.objects.get(action="logout").user_id == user.pk
