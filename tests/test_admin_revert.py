"""Revert and Restore on the admin's log page: offered only to who holds the
permission the undo needs, a confirmation page that changes nothing, and the
revert itself on a POST with Django's CSRF check."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path

from autoaudit.admin import ActivityLogAdmin
from autoaudit.models import ActivityLog
from tests.testapp.models import Category, Order, Product
from tests.typing_support import Track
from tests.ui_factories import login

site = admin.AdminSite(name="revert_admin")
site.register(ActivityLog, ActivityLogAdmin)
urlpatterns = [path("admin/", site.urls)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

WRITES = ("INSERT", "UPDATE", "DELETE", "SAVEPOINT", "WITH")


def page(log: ActivityLog) -> str:
    return f"/admin/autoaudit/activitylog/{log.pk}/change/"


def revert_url(log: ActivityLog) -> str:
    return f"/admin/autoaudit/activitylog/{log.pk}/revert/"


def staff_with(*codenames: str) -> User:
    user = User.objects.create_user("_".join(codenames) or "none", "s@example.com", "x")
    user.is_staff = True
    user.save()
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_activitylog", *codenames])
    )
    return User.objects.get(pk=user.pk)  # a fresh permission cache


@pytest.fixture
def product(track: Track) -> Product:
    track(Product)
    item = Product.objects.create(name="Laptop", price=Decimal("15000000.00"), stock=10)
    item.price, item.stock = Decimal("14500000.00"), 8
    item.save()
    return item


def last_log(obj: Any) -> ActivityLog:
    found = ActivityLog.objects.for_instance(obj).first()
    assert found is not None
    return found


def state() -> tuple[int, list[tuple[Any, ...]]]:
    # Not the entries of the audit of the audit log (reads of a log's page).
    logs = ActivityLog.objects.exclude(computed_entity="autoaudit.ActivityLog")
    return logs.count(), list(
        Product.objects.order_by("pk").values_list("pk", "name", "price", "stock")
    )


@pytest.mark.parametrize(
    ("action", "needed", "others"),
    [
        ("update", "change_product", ["add_product", "delete_product"]),
        ("create", "delete_product", ["add_product", "change_product"]),
        ("delete", "add_product", ["change_product", "delete_product"]),
    ],
)
def test_offered_only_with_the_permission_the_undo_needs(
    client: Client, product: Product, action: str, needed: str, others: list[str]
) -> None:
    if action == "delete":
        pk = product.pk
        product.delete()
        log = ActivityLog.objects.get(action="delete", entity_pk=str(pk))
    else:
        log = ActivityLog.objects.for_instance(product).get(action=action)
    before = state()
    without = login(client, staff_with(*others))
    assert without.get(page(log)).status_code == 200
    assert "aa-undo-link" not in without.get(page(log)).text
    assert without.get(revert_url(log)).status_code == 403
    assert without.post(revert_url(log), {"force": "1"}).status_code == 403
    assert state() == before

    allowed = login(Client(), staff_with(needed))
    html = allowed.get(page(log)).text
    label = "Restore" if action == "delete" else "Revert"
    assert f'<a href="{revert_url(log)}" class="aa-undo-link">{label}</a>' in html
    response = allowed.get(revert_url(log))
    assert response.status_code == 200
    assert state() == before  # GET changes nothing


def test_revert_an_update_confirm_then_post(client: Client, product: Product, root: User) -> None:
    log = last_log(product)
    before = state()
    login(client, root)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(revert_url(log))
    writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]
    assert writes == []  # looking writes nothing, not even to roll it back
    html = response.text
    assert response.status_code == 200
    assert "Revert this change?" in html
    # What the revert would do: the values set back, by verbose name.
    assert '<th scope="row">price</th>' in html and '<th scope="row">stock</th>' in html
    assert "14500000.00" in html and "15000000.00" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "Changed since" not in html
    assert state() == before

    response = client.post(revert_url(log))
    made = ActivityLog.objects.order_by("-id").first()
    assert made is not None and made.get_extra_value("reverts") == log.pk
    assert response.status_code == 302 and response["Location"] == page(made)
    assert made.user_id == root.pk  # by the admin user
    product.refresh_from_db()
    assert (product.price, product.stock) == (Decimal("15000000.00"), 10)
    follow = client.get(response["Location"])
    assert "Reverted." in follow.text


def test_a_conflict_is_shown_and_must_be_confirmed(
    client: Client, product: Product, root: User
) -> None:
    log = last_log(product)
    product.stock = 3  # changed since
    product.save()
    before = state()
    login(client, root)
    html = client.get(revert_url(log)).text
    assert "Changed since:" in html and "stock" in html
    assert 'name="force"' in html
    # What the forced revert would do: from the current 3, not the logged 8.
    assert '<th scope="row">stock</th>' in html
    assert state() == before
    response = client.post(revert_url(log))  # the box not ticked
    assert response.status_code == 409
    assert state() == before
    response = client.post(revert_url(log), {"force": "1"})
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.stock == 10


def test_an_error_says_why_and_offers_no_form(client: Client, track: Track, root: User) -> None:
    track(Product, mask_fields={"name": "redact"})
    item = Product.objects.create(name="Secret", stock=1)
    item.name = "Other"
    item.save()
    log = last_log(item)
    html = login(client, root).get(revert_url(log)).text
    assert "This change cannot be reverted:" in html and "name" in html
    assert "<form" not in html.split('id="content-main"')[1]
    before = state()
    response = client.post(revert_url(log))
    assert response.status_code == 302 and response["Location"] == page(log)
    assert state() == before


def test_restore_a_delete_and_revert_a_create(client: Client, track: Track, root: User) -> None:
    track(Order)
    books = Category.objects.create(name="Books")
    order = Order.objects.create(number="A-1", category=books, status="paid")
    created = last_log(order)
    login(client, root)
    html = client.get(revert_url(created)).text
    assert "deletes “Order A-1”" in html and "Books" in html and "Paid" in html
    assert client.post(revert_url(created)).status_code == 302
    assert not Order.objects.filter(pk=order.pk).exists()

    deleted = ActivityLog.objects.filter(action="delete").order_by("-id").first()
    assert deleted is not None
    html = client.get(revert_url(deleted)).text
    assert "Restore this object?" in html and "Books" in html and "Yes, restore" in html
    assert not Order.objects.filter(pk=order.pk).exists()
    assert client.post(revert_url(deleted)).status_code == 302
    assert Order.objects.get(pk=order.pk).category == books


def test_posts_need_the_csrf_token(product: Product, root: User) -> None:
    log = last_log(product)
    client = login(Client(enforce_csrf_checks=True), root)
    before = state()
    assert client.post(revert_url(log)).status_code == 403
    assert state() == before


def test_logs_that_cannot_be_reverted_offer_nothing(client: Client, root: User) -> None:
    login_log = ActivityLog.objects.create(
        action="login", entity="user", computed_entity="auth.User", actor_type="system"
    )
    gone = ActivityLog.objects.create(
        action="update", entity="widget", computed_entity="nowhere.Widget", actor_type="system"
    )
    login(client, root)
    for log in (login_log, gone):
        assert "aa-undo-link" not in client.get(page(log)).text
        assert client.get(revert_url(log)).status_code == 403
    assert client.get("/admin/autoaudit/activitylog/999999/revert/").status_code == 404
