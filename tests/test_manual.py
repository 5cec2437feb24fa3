"""``log_activity`` / ``log_model_change`` / ``create_for_instance``: same actor rules."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.test import RequestFactory

import autoaudit
from autoaudit.actors.request import using_request
from autoaudit.models import ActivityLog
from tests.testapp.models import Account, Product, UUIDItem

pytestmark = pytest.mark.django_db

CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
)


def _request(user: Any = None, **meta: Any) -> Any:
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.50", **meta)
    request.user = user if user is not None else AnonymousUser()
    return request


@pytest.fixture
def user() -> User:
    return get_user_model()._default_manager.create_user("ann", "ann@example.com", "x")


def test_log_activity_with_a_user_request(user: User) -> None:
    log = autoaudit.log_activity(
        _request(user), "view", "product", entity_id=123, entity_name="Laptop ASUS ROG"
    )
    log.refresh_from_db()
    assert (log.actor_type, log.user_id, log.actor_identifier) == (
        "user",
        user.pk,
        "ann@example.com",
    )
    assert (log.entity, log.computed_entity, log.entity_id, log.entity_pk) == (
        "product",
        "product",
        123,
        "123",
    )
    assert log.ip_address == "203.0.113.50"


def test_log_activity_guest_from_arguments() -> None:
    log = autoaudit.log_activity(
        _request(HTTP_USER_AGENT=CHROME),
        "create",
        "testapp.ContactMessage",
        entity_id=456,
        description="Guest filled the contact form",
        guest_name="Jane Smith",
        guest_email="guest@example.com",
        guest_phone="+6281234567890",
        source="contact_page",
        form_version="v2.1",
    )
    assert (log.entity, log.computed_entity) == ("contactmessage", "testapp.ContactMessage")
    assert (log.actor_type, log.actor_identifier, log.actor_name) == (
        "guest",
        "guest@example.com",
        "Jane Smith",
    )
    assert log.actor_metadata == {
        "email": "guest@example.com",
        "phone": "+6281234567890",
        "source": "contact_page",
        "device": "mobile",
        "browser": "Chrome Mobile 120",
        "os": "Android 14",
        "form_version": "v2.1",
    }


def test_log_activity_without_request_uses_the_current_one(user: User) -> None:
    with using_request(_request(user)):
        log = autoaudit.log_activity(None, "view", "report")
    assert (log.actor_type, log.user_id) == ("user", user.pk)


def test_log_activity_without_any_request_is_the_system() -> None:
    log = autoaudit.log_activity(None, "publish", "report", entity_id="r-1")
    assert (log.actor_type, log.actor_identifier, log.ip_address) == ("system", None, None)
    assert (log.entity_id, log.entity_pk) == (None, "r-1")


def test_log_activity_request_that_is_not_a_request(user: User) -> None:
    # A view instance passed by mistake: ignored, the current request is used.
    # (Both calls pass a wrong type on purpose, hence the ignores.)
    with using_request(_request(user)):
        log = autoaudit.log_activity(
            SimpleNamespace(META={}),  # type: ignore[arg-type]
            "view",
            "report",
        )
    assert log.user_id == user.pk
    log = autoaudit.log_activity(object(), "view", "report")  # type: ignore[arg-type]
    assert log.actor_type == "system"


def test_explicit_request_beats_the_current_one(user: User) -> None:
    other = get_user_model()._default_manager.create_user("bob", "bob@example.com", "x")
    with using_request(_request(user)):
        log = autoaudit.log_activity(_request(other), "view", "report")
    assert log.user_id == other.pk


def test_log_activity_masks_and_limits_values() -> None:
    log = autoaudit.log_activity(
        None,
        "update",
        "account",
        old_values={"password": "old-secret", "bio": "x" * 20_000},
        new_values={"password": "new-secret", "bio": "short"},
        changed_fields=["password", "bio"],
        description="password new-secret set",
    )
    log.refresh_from_db()
    assert "secret" not in str(log.old_values) + str(log.new_values)
    assert "new-secret" not in (log.description or "")
    assert len(log.old_values["bio"]) < 11_000
    assert "truncated" in log.old_values["bio"]


def test_log_activity_inside_disabled_writes_nothing() -> None:
    with autoaudit.disabled():
        log = autoaudit.log_activity(None, "view", "report")
    assert log.pk is None
    assert not ActivityLog.objects.exists()


def test_log_model_change_create_update_delete(user: User) -> None:
    product = Product.objects.create(name="Laptop", price="15000000.00", stock=10)
    request = _request(user)
    created = autoaudit.log_model_change(request, product, "create")
    assert created is not None and created.new_values["name"] == "Laptop"
    before = Product.objects.get(pk=product.pk)
    product.stock = 8
    updated = autoaudit.log_model_change(request, product, "update", old_instance=before)
    assert updated is not None
    assert (updated.changed_fields, updated.old_values, updated.new_values) == (
        ["stock"],
        {"stock": 10},
        {"stock": 8},
    )
    assert autoaudit.log_model_change(request, product, "update", old_instance=product) is None
    deleted = autoaudit.log_model_change(request, product, "delete")
    assert deleted is not None and deleted.old_values["stock"] == 8
    assert set(ActivityLog.objects.values_list("user_id", flat=True)) == {user.pk}


def test_log_model_change_masks_credentials() -> None:
    account = Account.objects.create(username="a", password="raw-pass", api_key="raw-key")
    log = autoaudit.log_model_change(None, account, "create")
    assert log is not None
    assert "raw-pass" not in str(log.new_values)
    assert "raw-key" not in str(log.new_values)


def test_log_model_change_inside_disabled() -> None:
    product = Product.objects.create(name="p")
    with autoaudit.disabled():
        assert autoaudit.log_model_change(None, product, "create") is None
    assert not ActivityLog.objects.exists()


def test_create_for_instance_takes_the_actor_from_the_context(user: User) -> None:
    item = UUIDItem.objects.create(name="u")
    with using_request(_request(user)):
        log = ActivityLog.create_for_instance(item, "publish", description="Published")
    assert (log.actor_type, log.user_id, log.entity_pk) == ("user", user.pk, str(item.pk))
    with autoaudit.actor(identifier="partner-api"):
        guest_log = ActivityLog.create_for_instance(item, "unpublish")
    assert (guest_log.actor_type, guest_log.actor_identifier) == ("guest", "partner-api")
    system_log = ActivityLog.create_for_instance(item, "activate")
    assert system_log.actor_type == "system"


def test_create_for_instance_explicit_user_wins(user: User) -> None:
    product = Product.objects.create(name="p")
    log = ActivityLog.create_for_instance(product, "view", user=user)
    assert (log.actor_type, log.user_id, log.actor_identifier) == (
        "user",
        user.pk,
        "ann@example.com",
    )


@pytest.mark.django_db
def test_log_activity_view_of_an_opted_out_guest_is_not_saved(rf: RequestFactory) -> None:
    from autoaudit.models import ActivityLog

    # A RequestFactory request has no session: a guest without one.
    request = rf.get("/products/1/", HTTP_SEC_GPC="1")
    log = autoaudit.log_activity(request, "view", "product", entity_id=1)
    assert log.pk is None
    assert not ActivityLog.objects.filter(action="view").exists()
    # A data change by the same guest is still logged, anonymously.
    change = autoaudit.log_activity(request, "update", "product", entity_id=1)
    assert change.pk is not None
    assert change.actor_identifier is None and change.ip_address is None
