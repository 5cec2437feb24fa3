"""``ActivityLog`` in the admin, and the "Activity" page of the mixin.

The tests run against an admin site of their own (this module is also the
URLconf) with ``ActivityLog`` and a tracked ``Product`` whose admin uses
:class:`autoaudit.admin.ActivityHistoryMixin`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import django
import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse
from django.utils import timezone
from pytest_django import Settings

import autoaudit
from autoaudit.admin import ActivityHistoryMixin, ActivityLogAdmin
from autoaudit.models import ActivityLog
from tests.testapp.models import Product, StringKeyItem
from tests.typing_support import Track
from tests.ui_factories import login, make_log, make_logs

site = admin.AdminSite(name="audit_admin")
site.register(ActivityLog, ActivityLogAdmin)


if TYPE_CHECKING:
    _ProductAdminBase = admin.ModelAdmin[Product]
    _StringKeyItemAdminBase = admin.ModelAdmin[StringKeyItem]
else:
    # ModelAdmin is generic only for type checkers (django-stubs).
    _ProductAdminBase = _StringKeyItemAdminBase = admin.ModelAdmin


@admin.register(Product, site=site)
class ProductAdmin(ActivityHistoryMixin, _ProductAdminBase):
    pass


@admin.register(StringKeyItem, site=site)
class StringKeyItemAdmin(ActivityHistoryMixin, _StringKeyItemAdminBase):
    pass


urlpatterns = [path("admin/", site.urls)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


CHANGELIST = "/admin/autoaudit/activitylog/"


def permission(codename: str) -> Permission:
    return Permission.objects.get(codename=codename)


@pytest.fixture
def staff() -> User:
    """Staff who may view and even delete logs, but is not a superuser."""
    user = User.objects.create_user("staff", "staff@example.com", "x", is_staff=True)
    user.user_permissions.add(
        permission("view_activitylog"),
        permission("delete_activitylog"),
        permission("change_activitylog"),
        permission("add_activitylog"),
    )
    return user


@pytest.fixture
def clerk() -> User:
    """Staff who may edit products but not read everyone's logs."""
    user = User.objects.create_user("clerk", "clerk@example.com", "x", is_staff=True)
    user.user_permissions.add(permission("change_product"), permission("view_product"))
    return user


def rows(html: str) -> int:
    return len(re.findall(r'<th class="field-created_column[^"]*">', html))


def test_changelist(client: Client, root: User) -> None:
    make_logs(3)
    make_log(actor_type="system", actor_identifier=None, actor_name=None, action="delete")
    response = login(client, root).get(CHANGELIST)
    assert response.status_code == 200
    html = response.text
    assert rows(html) == 4
    assert '<span class="aa-badge aa-badge--guest">Guest</span>' in html
    assert '<span class="aa-action aa-action--delete">Delete</span>' in html
    # Filters: actor type, action, entity; and the date hierarchy.
    for title in ("actor type", "action", "entity"):
        assert f"By {title}" in html
    assert '<nav class="toplinks"' in html  # the date hierarchy (Django 5.2 and 6.x)
    assert "/static/autoaudit/autoaudit.css" in html


def test_changelist_filters_and_search(client: Client, root: User) -> None:
    make_logs(2, actor_identifier="jane@example.com", entity_name="Laptop")
    make_logs(3, actor_identifier="budi@example.com", entity_name="Phone", action="delete")
    make_logs(1, computed_entity="orders.Order", entity="order", entity_name="Order #1")
    login(client, root)
    assert rows(client.get(CHANGELIST, {"q": "budi@"}).text) == 3
    assert rows(client.get(CHANGELIST, {"q": "laptop"}).text) == 2
    assert rows(client.get(CHANGELIST, {"action__exact": "delete"}).text) == 3
    assert rows(client.get(CHANGELIST, {"entity": "orders.Order"}).text) == 1
    assert rows(client.get(CHANGELIST, {"actor_type__exact": "guest"}).text) == 6


def test_search_leaves_out_the_date_drill_down(client: Client, root: User) -> None:
    # Its queries aggregate every match (first/last date, distinct years): on a
    # large log that is most of a search's time (docs/benchmarks.md).
    now = timezone.now()
    make_logs(2, actor_identifier="zed@example.com", start=now)
    make_log(actor_identifier="zed@example.com", at=now - timedelta(days=800))
    make_log(actor_identifier="budi@example.com", at=now - timedelta(days=800))
    login(client, root)
    assert '<nav class="toplinks"' in client.get(CHANGELIST).text
    with CaptureQueriesContext(connection) as captured:
        html = client.get(CHANGELIST, {"q": "zed@"}).text
    assert rows(html) == 3
    assert '<nav class="toplinks"' not in html
    assert not [q for q in captured.captured_queries if "MIN(" in q["sql"].upper()]
    # A date already chosen still narrows the search.
    year = (now - timedelta(days=800)).astimezone(timezone.get_current_timezone()).year
    assert rows(client.get(CHANGELIST, {"q": "zed@", "created_at__year": str(year)}).text) == 1


def test_read_only(client: Client, staff: User) -> None:
    log = make_log()
    login(client, staff)
    assert client.get(CHANGELIST + "add/").status_code == 403
    url = f"{CHANGELIST}{log.pk}/change/"
    response = client.get(url)
    assert response.status_code == 200
    assert 'name="_save"' not in response.text  # nothing to save
    response = client.post(url, {"action": "delete", "description": "edited"})
    assert response.status_code == 403
    log.refresh_from_db()
    assert log.action == "update"


def test_only_superusers_delete(client: Client, staff: User, root: User) -> None:
    log = make_log()
    url = f"{CHANGELIST}{log.pk}/delete/"
    login(client, staff)
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert 'value="delete_selected"' not in client.get(CHANGELIST).text
    login(client, root)
    assert client.get(url).status_code == 200
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not ActivityLog.objects.filter(pk=log.pk).exists()


def test_needs_the_view_permission(client: Client, clerk: User) -> None:
    make_log(user=clerk)
    assert login(client, clerk).get(CHANGELIST).status_code == 403


def test_the_diff_is_a_table(client: Client, root: User) -> None:
    log = make_log(
        old_values={"price": "10.00", "metadata": {"specs": {"ram": "8GB"}}},
        new_values={"price": "12.50", "metadata": {"specs": {"ram": "16GB"}}},
        changed_fields=["price", "metadata"],
        actor_metadata={"session_id": "sess_1", "device": "mobile"},
    )
    html = login(client, root).get(f"{CHANGELIST}{log.pk}/change/").text
    table = re.search(r'<table class="aa-changes">.*?</table>', html, re.S)
    assert table is not None
    assert '<th scope="row">price</th>' in table.group(0)
    assert '<th scope="row">metadata.specs.ram</th>' in table.group(0)
    assert '<td class="aa-old"><mark>8GB</mark></td>' in table.group(0)
    assert '<td class="aa-new"><mark>16GB</mark></td>' in table.group(0)
    assert '<pre class="aa-json">' in html and "sess_1" in html


def test_link_to_the_target_when_it_exists(client: Client, root: User, track: Track) -> None:
    track(Product)
    track(StringKeyItem)
    with autoaudit.actor(user=root):
        product = Product.objects.create(name="Laptop")
        item = StringKeyItem.objects.create(code="a/b c_1", name="Odd key")
        gone = Product.objects.create(name="Gone")
        gone_pk = gone.pk
        gone.delete()
    login(client, root)
    for obj, model in ((product, "product"), (item, "stringkeyitem")):
        log = ActivityLog.objects.for_instance(obj).get()
        html = client.get(f"{CHANGELIST}{log.pk}/change/").text
        target = reverse(f"admin:testapp_{model}_change", args=[quote(obj.pk)])
        assert f'<a href="{target}">' in html
    log = ActivityLog.objects.filter(action="delete").get()
    html = client.get(f"{CHANGELIST}{log.pk}/change/").text
    assert "Gone" in html and f"/admin/testapp/product/{gone_pk}/" not in html


# The ActivityHistoryMixin --------------------------------------------------------


def test_activity_page(client: Client, root: User, clerk: User, track: Track) -> None:
    track(Product)
    with autoaudit.actor(user=root):
        product = Product.objects.create(name="Laptop", price="10.00")
        product.price = "9.00"
        product.save()
    with autoaudit.actor(user=clerk):
        product.stock = 5
        product.save()
    other = Product.objects.create(name="Other")
    login(client, root)
    change = client.get(f"/admin/testapp/product/{product.pk}/change/").text
    activity_url = f"/admin/testapp/product/{product.pk}/activity/"
    assert f'href="{activity_url}"' in change and ">Activity<" in change
    html = client.get(activity_url).text
    assert len(re.findall(r'data-aa-entry="\d+"', html)) == 3
    assert '<th scope="row">price</th>' in html and '<th scope="row">stock</th>' in html
    assert "Activity: Laptop" in html
    assert f"/admin/testapp/product/{other.pk}/" not in html
    # A clerk may open the product, but sees only their own activity.
    login(client, clerk)
    html = client.get(activity_url).text
    assert len(re.findall(r'data-aa-entry="\d+"', html)) == 1
    assert "Only your own activity is shown." in html


def test_activity_page_permissions_and_odd_keys(client: Client, root: User, track: Track) -> None:
    track(StringKeyItem)
    with autoaudit.actor(user=root):
        item = StringKeyItem.objects.create(code="a/b c_1?", name="Odd")
    nobody = User.objects.create_user("nobody", "n@example.com", "x", is_staff=True)
    url = reverse("admin:testapp_stringkeyitem_activity", args=[quote(item.pk)])
    login(client, root)
    assert len(re.findall(r'data-aa-entry="\d+"', client.get(url).text)) == 1
    missing = client.get("/admin/testapp/stringkeyitem/nope/activity/")
    assert missing.status_code == 302  # the admin's "does not exist" redirect
    login(client, nobody)
    assert client.get(url).status_code == 403


def test_activity_page_pages(client: Client, root: User, settings: Settings) -> None:
    settings.AUTOAUDIT = {"PAGE_SIZE": 2}
    product = Product.objects.create(name="Paged")
    make_logs(5, computed_entity="testapp.Product", entity_pk=str(product.pk))
    login(client, root)
    url = f"/admin/testapp/product/{product.pk}/activity/"
    seen = []
    while url:
        html = client.get(url).text
        seen += re.findall(r'data-aa-entry="(\d+)"', html)
        match = re.search(r'href="(\?cursor=[^"]+)" rel="next"', html)
        url = f"/admin/testapp/product/{product.pk}/activity/{match.group(1)}" if match else ""
    assert len(seen) == len(set(seen)) == 5
    assert client.get(f"/admin/testapp/product/{product.pk}/activity/?cursor=x").status_code == 400


def _action_filter_choices(html: str) -> list[str]:
    block = re.search(r"By action\s*</summary>(.*?)</details>", html, re.S)
    assert block is not None
    return re.findall(r'\?(?:[^"]*&amp;)?action__exact=(\w+)', block.group(1))


def test_the_action_filter_offers_only_actions_that_occur(client: Client, root: User) -> None:
    make_logs(2, action="update")
    make_log(action="delete")
    make_log(action="login", computed_entity="auth.User", entity="user")
    login(client, root)
    assert _action_filter_choices(client.get(CHANGELIST).text) == ["update", "delete", "login"]
    # With an entity chosen, that entity's actions.
    html = client.get(CHANGELIST, {"entity": "auth.User"}).text
    assert _action_filter_choices(html) == ["login"]
    # The chosen value stays offered, so the filter can be seen and undone.
    html = client.get(CHANGELIST, {"entity": "auth.User", "action__exact": "delete"}).text
    assert _action_filter_choices(html) == ["delete", "login"]


def test_the_target_column_shows_the_verbose_name(client: Client, root: User) -> None:
    make_log(entity="stringkeyitem", computed_entity="testapp.StringKeyItem", entity_name="Odd")
    make_log(entity="thing", computed_entity="legacy.Thing", entity_name="Old")
    html = login(client, root).get(CHANGELIST).text
    verbose = str(StringKeyItem._meta.verbose_name).capitalize()
    assert f'Odd <span class="aa-muted">{verbose}</span>' in html
    assert 'Old <span class="aa-muted">thing</span>' in html  # a model gone: as stored
    assert ">stringkeyitem<" not in html


def test_the_log_page_has_no_history_button(client: Client, root: User) -> None:
    log = make_log()
    html = login(client, root).get(f"{CHANGELIST}{log.pk}/change/").text
    assert 'class="historylink"' not in html and "/history/" not in html
    assert '<table class="aa-changes' in html


def test_activity_page_breadcrumbs_match_the_admin(
    client: Client, root: User, track: Track
) -> None:
    track(Product)
    with autoaudit.actor(user=root):
        product = Product.objects.create(name="Laptop")
    login(client, root)
    change = client.get(f"/admin/testapp/product/{product.pk}/change/").text
    html = client.get(f"/admin/testapp/product/{product.pk}/activity/").text
    # The same markup as the admin's own pages on this Django version: a
    # list from 6.1, a <div> with &rsaquo; separators on 5.2 and 6.0 (where a
    # list shows numbered).
    own = re.search(r'<(ol|div) class="breadcrumbs">', change)
    ours = re.search(r'<(ol|div) class="breadcrumbs">', html)
    assert own is not None and ours is not None
    assert ours.group(1) == own.group(1) == ("ol" if django.VERSION >= (6, 1) else "div")
    crumbs = html.split('class="breadcrumbs">', 1)[1].split(f"</{ours.group(1)}>", 1)[0]
    assert re.sub(r"<[^>]+>|&rsaquo;|\s+", " ", crumbs).split() == [
        "Home",
        "Testapp",
        "Products",
        "Laptop",
        "Activity",
    ]
