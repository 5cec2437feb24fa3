"""``READ_DATABASE`` / ``DATABASE`` on the read side, and ``AuditRouter``.

Two kinds of second database: ``"other"`` is a real database of its own on
every backend (another SQLite file, ``<name>_other`` on the server), and on
PostgreSQL ``"replica"`` is a test mirror of ``"default"`` (a second
connection to the same database, as a streaming replica would be).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

from autoaudit.checks import check_log_databases
from autoaudit.conf import parse_settings
from autoaudit.lifecycle.selection import log_alias, read_alias
from autoaudit.models import ActivityLog
from autoaudit.routers import AuditRouter
from tests.testapp.models import Product
from tests.typing_support import Track
from tests.ui_factories import login

ROUTERS = ["autoaudit.routers.AuditRouter"]
ON_POSTGRES = connections["default"].vendor == "postgresql"
needs_replica = pytest.mark.skipif(
    not ON_POSTGRES, reason="the 'replica' test mirror is configured for PostgreSQL runs"
)


def log_queries(queries: CaptureQueriesContext) -> list[str]:
    """The captured statements that touch ``activity_logs``."""
    return [q["sql"] for q in queries.captured_queries if "activity_logs" in q["sql"]]


def log_reads(queries: CaptureQueriesContext) -> list[str]:
    """Those that read it (the audit of the audit log writes its entry of
    a read to the primary, as every write)."""
    return [sql for sql in log_queries(queries) if not sql.startswith("INSERT")]


@pytest.fixture
def routed(settings: Settings) -> Iterator[Settings]:
    settings.DATABASE_ROUTERS = ROUTERS
    yield settings


# -- settings and the check (no database) -----------------------------------------


@pytest.mark.parametrize("key", ["DATABASE", "READ_DATABASE"])
@pytest.mark.parametrize("value", ["", " default", 3, ["default"]])
def test_an_alias_that_is_not_a_name_fails_at_setup(key: str, value: object) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"AUTOAUDIT\\['{key}'\\] must be an alias"):
        parse_settings({key: value})


def test_both_default_to_none() -> None:
    parsed = parse_settings({})
    assert (parsed.DATABASE, parsed.READ_DATABASE) == (None, None)


@pytest.mark.parametrize("key", ["DATABASE", "READ_DATABASE"])
def test_e002_an_alias_missing_from_databases(settings: Settings, key: str) -> None:
    settings.AUTOAUDIT = {key: "replicaa"}
    [error] = check_log_databases()
    assert error.id == "autoaudit.E002"
    assert f"AUTOAUDIT[{key!r}] is 'replicaa'" in error.msg
    assert "'default'" in error.msg


def test_e002_silent_for_known_aliases(settings: Settings) -> None:
    settings.AUTOAUDIT = {"DATABASE": "default", "READ_DATABASE": "other"}
    # (W007 says changes on "other" lose the atomicity: not an error.)
    assert [m.id for m in check_log_databases()] == ["autoaudit.W007"]
    settings.AUTOAUDIT = {}
    assert check_log_databases() == []


# -- the router (no database) --------------------------------------------------------


def test_the_router_has_no_opinion_until_a_setting_is_set(settings: Settings) -> None:
    settings.AUTOAUDIT = {}
    router = AuditRouter()
    assert router.db_for_read(ActivityLog) is None
    assert router.db_for_write(ActivityLog) is None
    assert router.allow_migrate("default", "autoaudit", "activitylog") is None
    assert router.db_for_read(Product) is None
    assert router.allow_migrate("other", "testapp", "product") is None


def test_the_router_sends_reads_to_the_replica_and_writes_to_the_log_database(
    settings: Settings,
) -> None:
    router = AuditRouter()
    settings.AUTOAUDIT = {"DATABASE": "other", "READ_DATABASE": "replica"}
    assert router.db_for_read(ActivityLog) == "replica"
    assert router.db_for_write(ActivityLog) == "other"
    settings.AUTOAUDIT = {"DATABASE": "other"}
    assert router.db_for_read(ActivityLog) == "other"
    # A replica of the default database alone: writes go to its primary.
    settings.AUTOAUDIT = {"READ_DATABASE": "replica"}
    assert router.db_for_write(ActivityLog) == DEFAULT_DB_ALIAS
    assert router.db_for_read(Product) is None
    assert router.db_for_write(Product) is None


def test_the_router_migrates_the_logs_only_in_their_database(settings: Settings) -> None:
    router = AuditRouter()
    settings.AUTOAUDIT = {"DATABASE": "other", "READ_DATABASE": "replica"}
    assert router.allow_migrate("other", "autoaudit", "activitylog") is True
    assert router.allow_migrate("default", "autoaudit", "activitylog") is False
    assert router.allow_migrate("replica", "autoaudit") is False
    assert router.allow_migrate("default", "testapp", "product") is None


def test_the_router_allows_a_log_and_its_user_in_two_databases() -> None:
    router = AuditRouter()
    user, log, product = User(), ActivityLog(), Product()
    assert router.allow_relation(log, user) is True
    assert router.allow_relation(user, log) is True
    assert router.allow_relation(log, product) is None
    assert router.allow_relation(user, product) is None


def test_a_logs_user_is_read_where_the_users_are(settings: Settings) -> None:
    settings.AUTOAUDIT = {"DATABASE": "other"}
    router = AuditRouter()
    log = ActivityLog()
    log._state.db = "other"
    # No router names the users' database: Django's own default.
    assert router.db_for_read(User, instance=log) == DEFAULT_DB_ALIAS
    assert router.db_for_write(User, instance=log) == DEFAULT_DB_ALIAS
    assert router.db_for_read(User, instance=User()) is None


# -- a real second database ("other") --------------------------------------------------

MULTI = ["default", "other"]


def make_log_on(alias: str, **fields: object) -> ActivityLog:
    values: dict[str, object] = {
        "actor_type": "system",
        "action": "update",
        "entity": "product",
        "computed_entity": "testapp.Product",
        "entity_id": 7,
        "entity_pk": "7",
        "entity_name": "Lamp",
    }
    values.update(fields)
    return ActivityLog.objects.using(alias).create(**values)


@pytest.mark.django_db(databases=MULTI)
def test_history_reads_from_read_database(settings: Settings) -> None:
    make_log_on("other", entity_name="in other")
    make_log_on("default", entity_name="in default")
    product = Product(pk=7, name="Lamp")
    settings.AUTOAUDIT = {"READ_DATABASE": "other"}
    with CaptureQueriesContext(connections["default"]) as on_default:
        names = [log.entity_name for log in ActivityLog.objects.for_instance(product)]
    assert names == ["in other"]
    assert on_default.captured_queries == []
    assert read_alias() == "other"
    assert log_alias() == DEFAULT_DB_ALIAS
    settings.AUTOAUDIT = {}
    assert [log.entity_name for log in ActivityLog.objects.for_instance(product)] == ["in default"]


@pytest.mark.django_db(databases=MULTI)
def test_database_alone_serves_reads_and_orm_writes(settings: Settings) -> None:
    settings.AUTOAUDIT = {"DATABASE": "other"}
    created = ActivityLog.objects.create(
        actor_type="system", action="create", entity="product", computed_entity="x.Y"
    )
    assert created._state.db == "other"
    assert ActivityLog.objects.using("default").count() == 0
    assert list(ActivityLog.objects.values_list("pk", flat=True)) == [created.pk]
    assert (read_alias(), log_alias()) == ("other", "other")
    # using() still wins.
    assert ActivityLog.objects.using("default").count() == 0


@pytest.mark.django_db(databases=MULTI)
def test_the_router_keeps_a_log_and_its_user_apart(routed: Settings, admin_user: User) -> None:
    routed.AUTOAUDIT = {"DATABASE": "other"}
    log = make_log_on("other")
    log.user = admin_user  # Django's own check would refuse two databases.
    log.save()
    loaded = ActivityLog.objects.get(pk=log.pk)
    assert loaded._state.db == "other"
    with CaptureQueriesContext(connections["default"]) as on_default:
        assert loaded.user == admin_user
    assert len(on_default.captured_queries) == 1  # the user, from the users' database
    assert [entry.pk for entry in admin_user.activity_logs.all()] == [log.pk]


# -- a replica (PostgreSQL: a test mirror of default) ---------------------------------

REPLICA = ["default", "replica"]


@pytest.fixture
def replica(routed: Settings) -> Settings:
    routed.AUTOAUDIT = {"READ_DATABASE": "replica"}
    return routed


@needs_replica
@pytest.mark.django_db(transaction=True, databases=REPLICA)
def test_a_tracked_change_is_read_back_through_the_replica(replica: Settings, track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="Lamp", price=10)
    product.price = 12
    product.save()
    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_default,
    ):
        actions = [log.action for log in ActivityLog.objects.for_instance(product)]
    assert actions == ["update", "create"]
    assert len(log_queries(on_replica)) == 1
    assert on_default.captured_queries == []


@needs_replica
@pytest.mark.django_db(transaction=True, databases=REPLICA)
def test_timeline_and_admin_read_the_replica(
    replica: Settings, track: Track, admin_user: User, client: Client
) -> None:
    track(Product)
    product = Product.objects.create(name="Lamp")
    login(client, admin_user)
    pages = [
        "/activity/",
        f"/activity/testapp.Product/{product.pk}/",
        "/admin/autoaudit/activitylog/",
    ]
    for url in pages:
        with (
            CaptureQueriesContext(connections["replica"]) as on_replica,
            CaptureQueriesContext(connections["default"]) as on_default,
        ):
            response = client.get(url)
        assert response.status_code == 200, url
        assert "Lamp" in response.content.decode(), url
        assert log_queries(on_replica), url
        assert log_reads(on_default) == [], url


@needs_replica
@pytest.mark.django_db(transaction=True, databases=REPLICA)
def test_a_log_read_from_the_replica_is_saved_to_the_primary(replica: Settings) -> None:
    make_log_on("default")
    log = ActivityLog.objects.get()
    assert log._state.db == "replica"
    log.set_extra_value("note", "checked")
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        log.save()
    assert log._state.db == "default"
    assert on_replica.captured_queries == []
    assert ActivityLog.objects.using("default").get().extra_data == {"note": "checked"}


@needs_replica
@pytest.mark.django_db(transaction=True, databases=REPLICA)
def test_export_reads_and_archive_selects_on_the_replica(replica: Settings, tmp_path: Path) -> None:
    from datetime import timedelta

    from django.utils import timezone

    old = make_log_on("default", entity_name="old")
    ActivityLog.objects.using("default").filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=400)
    )
    make_log_on("default", entity_name="new")
    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_default,
    ):
        out = io.StringIO()
        call_command("autoaudit_export", stdout=out, stderr=io.StringIO())
    assert out.getvalue().count('"entity_name"') == 2
    assert log_queries(on_replica)
    assert log_reads(on_default) == []

    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_default,
    ):
        call_command(
            "autoaudit_archive",
            "--older-than",
            "365",
            "--output-dir",
            str(tmp_path),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    read_sql = log_queries(on_replica)
    assert read_sql and all(sql.startswith("SELECT") for sql in read_sql)
    written = log_queries(on_default)
    assert any(sql.startswith("DELETE") for sql in written)
    # (Not counting the export's and the archive's own entries: the audit
    # of the audit log.)
    left = ActivityLog.objects.using("default").exclude(computed_entity="autoaudit.ActivityLog")
    assert [log.entity_name for log in left] == ["new"]
