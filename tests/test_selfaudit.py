"""Issue 17 item 5: the audit of the audit log (PCI DSS 10.2.1.3, 10.2.1.6)."""

from __future__ import annotations

import asyncio
import io

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoAssertNumQueries, Settings

import autoaudit
from autoaudit.apps import AutoauditConfig
from autoaudit.models import ActivityLog
from autoaudit.tracking import selfaudit
from tests.testapp.models import Product
from tests.typing_support import Track
from tests.ui_factories import login, make_log, make_logs

pytestmark = pytest.mark.django_db

ON = {"LOG_SETTINGS_CHANGES": True, "LOG_DISABLED_BLOCKS": True}


def reads(kind: str | None = None) -> list[ActivityLog]:
    logs = ActivityLog.objects.filter(computed_entity="autoaudit.ActivityLog", action="view")
    if kind is not None:
        logs = logs.filter(extra_data__page=kind)
    return list(logs.order_by("id"))


# --- reads -------------------------------------------------------------------


def test_staff_reading_everyones_timeline_is_logged_once_a_minute(
    client: Client, root: User
) -> None:
    make_logs(3)
    login(client, root)
    assert client.get("/activity/?action=update").status_code == 200
    client.get("/activity/")
    (entry,) = reads("timeline")
    assert (entry.user_id, entry.actor_type, entry.entity_pk) == (root.pk, "user", None)
    assert entry.extra_data == {
        "audit": "read",
        "page": "timeline",
        "path": "/activity/",
        "filters": {"action": "update"},
    }
    assert entry.description == 'Viewed activity log "timeline"'
    # Another page kind has its own minute.
    client.get(f"/activity/testapp.Product/{make_log().entity_pk}/")
    assert len(reads("object_history")) == 1


def test_the_timeline_leaves_out_entries_about_the_log_unless_asked(
    client: Client, root: User
) -> None:
    make_logs(2)
    login(client, root)
    client.get("/activity/")
    html = client.get("/activity/").text
    assert f'data-aa-entry="{reads()[0].pk}"' not in html
    html = client.get("/activity/?entity=autoaudit.ActivityLog").text
    assert f'data-aa-entry="{reads()[0].pk}"' in html


def test_reading_only_ones_own_activity_is_not_logged(client: Client, alice: User) -> None:
    make_logs(2, user=alice)
    login(client, alice)
    assert client.get("/activity/").status_code == 200
    assert reads() == []


def test_interval_zero_logs_every_read_and_the_switch_turns_it_off(
    client: Client, root: User, settings: Settings
) -> None:
    login(client, root)
    settings.AUTOAUDIT = {"AUDIT_READS_INTERVAL": 0}
    client.get("/activity/")
    client.get("/activity/")
    assert len(reads("timeline")) == 2
    settings.AUTOAUDIT = {"LOG_AUDIT_READS": False}
    client.get("/activity/")
    client.get("/admin/autoaudit/activitylog/")
    assert len(reads()) == 2


def test_the_read_entry_costs_one_insert_then_nothing(client: Client, root: User) -> None:
    make_logs(5)
    login(client, root)
    client.get("/activity/?actor=nobody")  # warm the session and the caches
    # Another kind, so it is logged: the page's own queries, plus one INSERT.
    with CaptureQueriesContext(connection) as first:
        client.get("/activity/api/")
    with CaptureQueriesContext(connection) as second:
        client.get("/activity/api/")
    inserts = [q for q in first.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert len(first.captured_queries) == len(second.captured_queries) + 1
    assert len(reads("api:timeline")) == 1


def test_the_admin_list_and_detail_pages_are_logged(client: Client, root: User) -> None:
    log = make_log()
    login(client, root)
    assert client.get("/admin/autoaudit/activitylog/?q=x").status_code == 200
    assert client.get(f"/admin/autoaudit/activitylog/{log.pk}/change/").status_code == 200
    (listed,) = reads("admin:changelist")
    assert listed.extra_data["query"] == "q=x"
    (detail,) = reads("admin:change")
    assert (detail.entity_name, detail.extra_data["log"]) == (f"#{log.pk}", str(log.pk))


def test_export_is_logged_with_its_filters_every_run(track: Track) -> None:
    make_logs(3)
    out, err = io.StringIO(), io.StringIO()
    call_command("autoaudit_export", "--actor-type", "guest", stdout=out, stderr=err)
    call_command("autoaudit_export", stdout=out, stderr=err)
    first, second = reads("export")
    assert first.actor_type == "system"
    assert first.extra_data == {
        "audit": "read",
        "page": "export",
        "rows": 3,
        "filters": {"actor_type": "guest", "format": "jsonl"},
    }
    assert second.extra_data["rows"] == 4  # the first export's entry is a log row too


# --- deletions in the admin ---------------------------------------------------


def test_a_superusers_deletions_in_the_admin_are_logged(client: Client, root: User) -> None:
    one, two, three = make_logs(3)
    login(client, root)
    response = client.post(f"/admin/autoaudit/activitylog/{one.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    response = client.post(
        "/admin/autoaudit/activitylog/",
        {"action": "delete_selected", "_selected_action": [two.pk, three.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not ActivityLog.objects.filter(pk__in=[one.pk, two.pk, three.pk]).exists()
    deletions = ActivityLog.objects.filter(action="delete", computed_entity="autoaudit.ActivityLog")
    by_pk = {log.entity_pk: log for log in deletions}
    assert set(by_pk) == {str(one.pk), str(two.pk), str(three.pk)}
    entry = by_pk[str(one.pk)]
    assert entry.user_id == root.pk
    assert entry.old_values is not None
    assert entry.old_values["computed_entity"] == "testapp.Product"
    assert entry.old_values["entity_pk"] == one.entity_pk
    assert "actor_identifier" not in entry.old_values  # who was logged is not copied


def test_deletions_are_not_logged_when_switched_off(
    client: Client, root: User, settings: Settings
) -> None:
    settings.AUTOAUDIT = {
        "LOG_AUDIT_DELETES": False,
        "LOG_AUDIT_READS": False,
        "LOG_DISABLED_BLOCKS": False,
    }
    log = make_log()
    login(client, root)
    client.post(f"/admin/autoaudit/activitylog/{log.pk}/delete/", {"post": "yes"})
    assert not ActivityLog.objects.exists()


# --- switching logging off ----------------------------------------------------


def switch_offs() -> list[ActivityLog]:
    return list(
        ActivityLog.objects.filter(action="deactivate", computed_entity="autoaudit.ActivityLog")
    )


def test_each_outermost_disabled_block_is_logged_with_its_code(
    track: Track, settings: Settings, alice: User
) -> None:
    settings.AUTOAUDIT = ON
    track(Product)
    # The inner block is nested: logging is off already.
    with autoaudit.actor(user=alice), autoaudit.disabled(), autoaudit.disabled():
        Product.objects.create(name="quiet")
    (entry,) = switch_offs()
    assert entry.user_id == alice.pk
    assert entry.extra_data["audit"] == "disabled"
    assert entry.extra_data["code"].startswith("tests.test_selfaudit:")
    assert "tests.test_selfaudit:" in (entry.description or "")
    assert ActivityLog.objects.count() == 1  # the create inside was not logged

    @autoaudit.disabled()
    def quiet() -> None:
        Product.objects.create(name="also quiet")

    quiet()
    assert len(switch_offs()) == 2


@pytest.mark.django_db(transaction=True)
def test_async_disabled_blocks_are_logged(settings: Settings) -> None:
    settings.AUTOAUDIT = ON

    async def main() -> None:
        async with autoaudit.disabled():
            pass

        @autoaudit.disabled()
        async def decorated() -> None:
            pass

        await decorated()
        # The thread sync_to_async wrote in keeps its connection otherwise.
        await sync_to_async(connections.close_all)()

    asyncio.run(main())
    assert len(switch_offs()) == 2


def test_disabled_blocks_are_not_logged_when_switched_off(
    settings: Settings, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    settings.AUTOAUDIT = {"LOG_DISABLED_BLOCKS": False}
    with django_assert_num_queries(0), autoaudit.disabled():
        pass


# --- settings at startup (after migrate) ---------------------------------------


def test_settings_changes_are_logged_after_migrate(track: Track, settings: Settings) -> None:
    settings.AUTOAUDIT = ON
    track(Product)
    assert selfaudit.record_settings() is not None
    first = ActivityLog.objects.get(computed_entity="autoaudit.settings")
    assert (first.action, first.computed_entity) == ("create", "autoaudit.settings")
    assert "testapp.Product" in first.new_values["models"]
    assert selfaudit.record_settings() is None  # nothing changed
    autoaudit.unregister(Product)
    settings.AUTOAUDIT = {**ON, "GUEST_TRACKING": False}
    # The post_migrate receiver (autoaudit's app only) writes the difference.
    config = AutoauditConfig.create("autoaudit")
    selfaudit.record_settings_after_migrate(sender=object(), using="default")
    selfaudit.record_settings_after_migrate(sender=config, using="default")
    change = ActivityLog.objects.filter(computed_entity="autoaudit.settings").latest("id")
    assert change.action == "update"
    assert change.changed_fields == ["models", "off"]
    assert "GUEST_TRACKING" in change.new_values["off"]
    assert "-testapp.Product" in (change.description or "")
    assert "+GUEST_TRACKING" in (change.description or "")


def test_settings_entry_is_off_by_its_switch(settings: Settings) -> None:
    settings.AUTOAUDIT = {"LOG_SETTINGS_CHANGES": False}
    assert selfaudit.record_settings() is None
    assert not ActivityLog.objects.exists()


# --- the system check ------------------------------------------------------------


def test_a_dummy_cache_cannot_rate_limit_reads(settings: Settings) -> None:
    from autoaudit.checks import check_audit_read_cache

    assert check_audit_read_cache() == []
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    (warning,) = check_audit_read_cache()
    assert warning.id == "autoaudit.W004"
    settings.AUTOAUDIT = {"AUDIT_READS_INTERVAL": 0}
    assert check_audit_read_cache() == []
    settings.AUTOAUDIT = {"LOG_AUDIT_READS": False}
    assert check_audit_read_cache() == []
