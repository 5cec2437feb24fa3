"""``autoaudit_partition`` (PostgreSQL) and ``autoaudit_prune`` on its partitions.

Most tests run in the test's own transaction: PostgreSQL's DDL is
transactional, so the conversion is rolled back with everything else. The
one test of a conversion beside live writers commits, and puts a plain
table back afterwards (the migrations, backwards and forwards).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import threading
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import Settings

import autoaudit
from autoaudit.lifecycle import partitions
from autoaudit.lifecycle.retention import prune
from autoaudit.models import ActivityLog
from tests.test_privacy_support import make_log
from tests.testapp.models import Product, Tag
from tests.typing_support import Track

POSTGRES = connection.vendor == "postgresql"
pg_only = pytest.mark.skipif(not POSTGRES, reason="partitions are a PostgreSQL feature")
# These start from a plain table; the rest of the suite runs against a
# partitioned one with AUTOAUDIT_TEST_PARTITIONED=1 (see tests/conftest.py).
pytestmark = pytest.mark.skipif(
    os.environ.get("AUTOAUDIT_TEST_PARTITIONED") == "1",
    reason="the suite's table is partitioned already",
)
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def run_partition(*args: str) -> str:
    out = io.StringIO()
    call_command("autoaudit_partition", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def names() -> set[str]:
    return {leaf.name for leaf in partitions.leaves("default")}


def index_names(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        return {row[0] for row in cursor.fetchall()}


def at(log: ActivityLog, when: dt.datetime) -> ActivityLog:
    ActivityLog.objects.filter(pk=log.pk).update(created_at=when)
    log.created_at = when
    return log


def month(year: int, number: int) -> dt.datetime:
    return dt.datetime(year, number, 1, tzinfo=dt.UTC)


@pytest.mark.skipif(POSTGRES, reason="on PostgreSQL the command works")
@pytest.mark.django_db
def test_elsewhere_the_command_says_it_needs_postgresql() -> None:
    with pytest.raises(CommandError, match="partitions need PostgreSQL; the database 'default'"):
        run_partition()
    assert partitions.is_partitioned("default") is False


def test_months() -> None:
    assert partitions.add_months(month(2026, 11), 3) == month(2027, 2)
    assert partitions.add_months(month(2026, 1), -1) == month(2025, 12)
    assert list(partitions.months(NOW, month(2026, 8))) == [
        month(2026, 6),
        month(2026, 7),
        month(2026, 8),
    ]
    local = dt.datetime(2026, 7, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert partitions.month_start(local) == month(2026, 6)  # 30 June 18:00 UTC


@pg_only
@pytest.mark.django_db
def test_an_empty_table_is_converted_and_a_rerun_changes_nothing() -> None:
    plain_indexes = index_names("activity_logs") - {"activity_logs_pkey"}
    result = partitions.partition("default", ahead=2, now=NOW)
    assert result.converted and result.rows_copied == 0
    assert partitions.is_partitioned("default")
    expected = {
        f"activity_logs_{kind}_{suffix}"
        for kind in ("user", "guest", "system")
        for suffix in ("2026_06", "2026_07", "2026_08", "default")
    }
    assert names() == expected
    # Django's index names are on the new parent, and the key is wider.
    assert plain_indexes <= index_names("activity_logs")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conname = 'activity_logs_pkey'"
        )
        assert cursor.fetchone()[0] == "PRIMARY KEY (id, actor_type, created_at)"
    again = partitions.partition("default", ahead=2, now=NOW)
    assert (again.converted, again.created) == (False, [])
    more = partitions.partition("default", ahead=3, now=NOW)
    assert sorted(more.created) == [
        "activity_logs_guest_2026_09",
        "activity_logs_system_2026_09",
        "activity_logs_user_2026_09",
    ]


@pg_only
@pytest.mark.django_db
def test_the_command_reports_and_is_idempotent() -> None:
    out = run_partition("--ahead", "1")
    assert "Converted activity_logs to a partitioned table (0 rows)." in out
    assert "Created" in out
    assert "Every partition exists already." in run_partition("--ahead", "1")
    with pytest.raises(CommandError, match="'nowhere' is not a key of DATABASES"):
        run_partition("--database", "nowhere")


@pg_only
@pytest.mark.django_db
def test_existing_rows_are_copied_with_their_ids_and_the_sequence_goes_on() -> None:
    old = at(make_log(actor_type="user", entity_name="old"), month(2025, 3) + dt.timedelta(days=3))
    guest = at(make_log(actor_type="guest"), month(2026, 5))
    odd = make_log(actor_type="robot")  # no such actor type: the top default partition
    before = list(ActivityLog.objects.order_by("id").values())
    result = partitions.partition("default", ahead=1, now=NOW)
    assert result.rows_copied == 3
    assert list(ActivityLog.objects.order_by("id").values()) == before
    assert "activity_logs_user_2025_03" in names()  # from the oldest row's month on
    assert "activity_logs_guest_2025_03" in names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, tableoid::regclass::text FROM activity_logs")
        where = dict(cursor.fetchall())
    assert where == {
        old.pk: "activity_logs_user_2025_03",
        guest.pk: "activity_logs_guest_2026_05",
        odd.pk: "activity_logs_default",
    }
    newer = make_log()
    assert newer.pk > odd.pk


@pg_only
@pytest.mark.django_db
def test_the_write_paths_work_on_a_partitioned_table(track: Track) -> None:
    """Every way a log is written: the one-statement create and update (a
    CTE around Django's statement), the delete, bulk (``COPY``), M2M and by
    hand; then the history reads them back."""
    partitions.partition("default", ahead=1)
    track(Product, m2m_fields=["tags"])
    with CaptureQueriesContext(connection) as context:
        product = Product.objects.create(name="Lamp", price=10)
    assert [q["sql"][:26] for q in context.captured_queries] == ["WITH aa_row AS (INSERT INT"]
    product.price = 12
    with CaptureQueriesContext(connection) as context:
        product.save()
    assert len(context.captured_queries) == 1
    assert context.captured_queries[0]["sql"].startswith("WITH ")
    tag = Tag.objects.create(name="sale")
    product.tags.add(tag)
    Product.objects.bulk_create([Product(name=f"p{i}") for i in range(3)])
    Product.objects.filter(name__startswith="p").update(stock=5)
    autoaudit.log_activity(None, "export", "product", entity_id=product.pk)
    assert ActivityLog.objects.filter(action="export", entity_id=product.pk).exists()
    actions = [log.action for log in ActivityLog.objects.for_instance(product)]
    assert actions == ["update", "update", "create"]
    assert ActivityLog.objects.filter(action="update", entity_name__startswith="p").count() == 3
    pk = product.pk
    product.delete()
    assert (
        ActivityLog.objects.filter(entity_pk=str(pk)).values_list("action", flat=True)[0]
        == "delete"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ONLY activity_logs_user_default")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM activity_logs_system_default")
        assert cursor.fetchone()[0] == 0


@pg_only
@pytest.mark.django_db
def test_rows_beyond_the_months_go_to_the_default_and_move_when_theirs_is_made() -> None:
    partitions.partition("default", ahead=0, now=NOW)
    early = at(make_log(actor_type="guest"), month(2026, 9) + dt.timedelta(days=2))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM activity_logs_guest_default")
        assert cursor.fetchall() == [(early.pk,)]
    result = partitions.partition("default", ahead=0, now=NOW)
    assert result.moved == {"activity_logs_guest_2026_09": 1}
    assert "activity_logs_user_2026_09" not in names()  # only the guests had rows
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM activity_logs_guest_2026_09")
        assert cursor.fetchall() == [(early.pk,)]
        cursor.execute("SELECT count(*) FROM activity_logs_guest_default")
        assert cursor.fetchone()[0] == 0


def _prune_fixture() -> dict[str, list[int]]:
    partitions.partition("default", ahead=0, now=NOW)
    made: dict[str, list[int]] = {}
    # Guests are kept 30 days by default: the cutoff is 16 May 12:00.
    for label, when in {
        "march": month(2026, 3) + dt.timedelta(days=9),
        "april": month(2026, 4) + dt.timedelta(days=20),
        "may_old": month(2026, 5) + dt.timedelta(days=3),
        "may_new": month(2026, 5) + dt.timedelta(days=25),
        "june": NOW - dt.timedelta(hours=1),
    }.items():
        made[f"guest_{label}"] = [at(make_log(actor_type="guest"), when).pk]
    for when in (month(2026, 3) + dt.timedelta(days=9), month(2026, 4) + dt.timedelta(days=20)):
        made.setdefault("user", []).append(at(make_log(actor_type="user"), when).pk)
    # The old rows went to the default partitions; their months are made now.
    moved = partitions.partition("default", ahead=0, now=NOW).moved
    assert sum(moved.values()) == 6
    return made


@pg_only
@pytest.mark.django_db
def test_prune_drops_expired_months_and_deletes_only_inside_the_boundary_month(
    settings: Settings,
) -> None:
    settings.AUTOAUDIT = {"RETENTION_DAYS": {"guest": 30, "user": None, "system": 90}}
    made = _prune_fixture()
    before = names()
    dry = prune(dry_run=True, now=NOW)
    assert dry.rows["guest"] == 3
    assert dry.dropped == {"guest": ["activity_logs_guest_2026_03", "activity_logs_guest_2026_04"]}
    assert names() == before
    with CaptureQueriesContext(connection) as context:
        result = prune(now=NOW)
    assert result.rows == {"guest": 3, "system": 0}
    assert result.dropped["guest"] == ["activity_logs_guest_2026_03", "activity_logs_guest_2026_04"]
    assert names() == before - {"activity_logs_guest_2026_03", "activity_logs_guest_2026_04"}
    # Only the boundary month (and the empty default) saw a row delete.
    deletes = [q["sql"] for q in context.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 1
    kept = set(ActivityLog.objects.values_list("pk", flat=True))
    assert kept == {*made["guest_may_new"], *made["guest_june"], *made["user"]}
    # The users' months are kept forever; every other partition is untouched.
    assert {"activity_logs_user_2026_03", "activity_logs_user_2026_04"} <= names()


@pg_only
@pytest.mark.django_db
def test_prune_command_names_the_dropped_partitions(settings: Settings) -> None:
    settings.AUTOAUDIT = {"RETENTION_DAYS": {"guest": 30}}
    partitions.partition("default", ahead=0, now=timezone.now())
    old = partitions.month_start(timezone.now()) - dt.timedelta(days=100)
    partitions.partition("default", ahead=0, now=old)  # an older month exists now
    name = partitions.leaf_name("activity_logs", "guest", partitions.month_start(old))
    at(make_log(actor_type="guest"), old + dt.timedelta(days=1))
    out = io.StringIO()
    call_command("autoaudit_prune", stdout=out)
    assert f"guest: dropped 1 month partition(s): {name}." in out.getvalue()
    assert "guest: deleted 1 rows" in out.getvalue()


# -- a conversion beside live writers (commits; restores a plain table) --------------


@pytest.fixture
def plain_table_afterwards() -> Iterator[None]:
    yield
    if partitions.is_partitioned("default"):
        # Every table of the app (the seals' too), then its migrations again.
        tables = [m._meta.db_table for m in apps.get_app_config("autoaudit").get_models()]
        with connection.cursor() as cursor:
            cursor.execute(
                f"DROP TABLE {', '.join(map(connection.ops.quote_name, tables))} CASCADE"
            )
            cursor.execute("DELETE FROM django_migrations WHERE app = 'autoaudit'")
        call_command("migrate", "autoaudit", verbosity=0)
    assert not partitions.is_partitioned("default")


@pg_only
@pytest.mark.django_db(transaction=True)
def test_a_conversion_beside_live_writers_loses_nothing(plain_table_afterwards: None) -> None:
    for _batch in range(6):
        ActivityLog.objects.bulk_create(
            ActivityLog(actor_type="user", action="create", entity="x", computed_entity="a.B")
            for _ in range(500)
        )
    written: list[int] = []
    changed: list[int] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            while not stop.is_set():
                log = make_log(actor_type="guest")
                written.append(log.pk)
                if len(written) % 5 == 0:  # rows changed while they are copied
                    ActivityLog.objects.filter(pk=written[0]).update(entity_name="changed")
                    changed.append(written[0])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen: list[str] = []
        result = partitions.partition(
            "default", ahead=1, batch_size=300, lock_timeout=5, progress=seen.append
        )
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert written, "the writer wrote nothing during the conversion"
    assert result.converted and len(seen) > 5
    ids = set(ActivityLog.objects.values_list("pk", flat=True))
    assert set(written) <= ids
    assert len(ids) == 3000 + len(written)
    if changed:
        assert ActivityLog.objects.get(pk=changed[0]).entity_name == "changed"
    assert make_log().pk > max(ids)
