"""The ``activity_logs`` table in the real database, on every backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from io import StringIO
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.graph import MigrationGraph
from django.utils import timezone
from model_bakery import baker

from autoaudit.enums import ActionType, ActorType
from autoaudit.models import ActivityLog
from tests.testapp.models import Product

if TYPE_CHECKING:
    from django.db.backends.base.introspection import _ConstraintDict

TABLE = "activity_logs"

#: name -> [(column, order), ...], in index column order.
SEED_INDEXES = {
    "idx_actlog_created_at": [("created_at", "DESC")],
    "idx_actlog_type_time": [("actor_type", "ASC"), ("created_at", "DESC")],
    "idx_actlog_entity": [("entity", "ASC"), ("entity_id", "ASC")],
    "idx_actlog_comp_ent": [("computed_entity", "ASC"), ("entity_id", "ASC")],
    "idx_actlog_action_time": [("action", "ASC"), ("created_at", "DESC")],
    "idx_actlog_actor_id": [("actor_identifier", "ASC")],
    "idx_actlog_ent_time": [("entity", "ASC"), ("created_at", "DESC")],
}
EXTRA_INDEXES = {
    "idx_actlog_comp_pk_time": [
        ("computed_entity", "ASC"),
        ("entity_pk", "ASC"),
        ("created_at", "DESC"),
        ("id", "DESC"),
    ],
    "idx_actlog_user_time": [("user_id", "ASC"), ("created_at", "DESC")],
}
#: Migration 0005 (wave 2): for_request() and related_to().
WAVE2_INDEXES = {
    "idx_actlog_request": [("request_id", "ASC")],
    "idx_actlog_related_time": [
        ("related_entity_type", "ASC"),
        ("related_entity_id", "ASC"),
        ("created_at", "DESC"),
    ],
}
EXTRA_INDEXES.update(WAVE2_INDEXES)
ALL_INDEXES = {**SEED_INDEXES, **EXTRA_INDEXES}
#: PostgreSQL only (migration 0004): trigram indexes for the admin's search.
TRIGRAM_INDEXES = {
    "idx_actlog_trgm_actor_id",
    "idx_actlog_trgm_actor_name",
    "idx_actlog_trgm_entity_name",
}

#: Migration 0008's GIN index on ``tags`` (PostgreSQL only).
TAGS_GIN_INDEX = "idx_actlog_tags_gin"


def expected_index_names() -> set[str]:
    """Every index the migrations leave on this database's log table."""
    extra = TRIGRAM_INDEXES | {TAGS_GIN_INDEX} if connection.vendor == "postgresql" else set()
    return set(ALL_INDEXES) | extra


def _constraints() -> dict[str, _ConstraintDict]:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, TABLE)


def _table_names() -> list[str]:
    with connection.cursor() as cursor:
        return connection.introspection.table_names(cursor)


def _index_names(constraints: dict[str, _ConstraintDict]) -> set[str]:
    # Unique constraints are not these indexes (MariaDB lists them as indexes too).
    return {
        name
        for name, info in constraints.items()
        if info["index"] and not info["primary_key"] and not info["unique"]
    }


# --- indexes and keys --------------------------------------------------------


@pytest.mark.django_db
def test_the_write_id_is_unique_with_the_partition_keys() -> None:
    # Migration 0006: a retried write_logs task inserts nothing twice.
    info = _constraints()["uniq_actlog_write"]
    assert info["unique"]
    assert info["columns"] == ["write_id", "created_at", "actor_type"]


@pytest.mark.django_db
def test_table_exists() -> None:
    assert TABLE in _table_names()


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(SEED_INDEXES))
def test_seed_index(name: str) -> None:
    info = _constraints().get(name)
    assert info is not None, f"{name} missing on {connection.vendor}"
    assert info["index"] is True
    assert info["unique"] is False
    assert info["columns"] == [column for column, _order in SEED_INDEXES[name]]


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(EXTRA_INDEXES))
def test_extra_index(name: str) -> None:
    info = _constraints().get(name)
    assert info is not None, f"{name} missing on {connection.vendor}"
    assert info["index"] is True
    assert info["columns"] == [column for column, _order in EXTRA_INDEXES[name]]


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(ALL_INDEXES))
def test_index_column_orders(name: str) -> None:
    if not connection.features.supports_index_column_ordering:
        pytest.skip(f"{connection.vendor} stores no index column order")
    info = _constraints()[name]
    assert info["orders"] == [order for _column, order in ALL_INDEXES[name]]


@pytest.mark.django_db
def test_no_unexpected_indexes() -> None:
    # "MySQL safe": the FK reuses idx_actlog_user_time (leading user_id), so
    # InnoDB adds no index of its own, and nothing else is duplicated.
    assert _index_names(_constraints()) == expected_index_names()


@pytest.mark.django_db
def test_primary_key() -> None:
    primary = [info for info in _constraints().values() if info["primary_key"]]
    assert len(primary) == 1
    assert primary[0]["columns"] == ["id"]


@pytest.mark.django_db
def test_user_foreign_key_has_no_database_constraint() -> None:
    # Logs may live in another database than the users (a change on a
    # second database is logged there), so no constraint ties them.
    field = ActivityLog._meta.get_field("user")
    assert field.remote_field.model is get_user_model()
    # ForeignKey sets db_constraint in __init__; the stubs do not declare it.
    assert field.db_constraint is False  # type: ignore[attr-defined]
    assert not [info for info in _constraints().values() if info["foreign_key"]]


@pytest.mark.django_db
def test_user_id_leads_an_index() -> None:
    leading = {
        info["columns"][0] for info in _constraints().values() if info["index"] and info["columns"]
    }
    assert "user_id" in leading


@pytest.mark.django_db
def test_columns_in_database() -> None:
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, TABLE)
    columns = {column.name: column for column in description}
    assert set(columns) == {f.column for f in ActivityLog._meta.concrete_fields}
    for name in ("actor_type", "action", "entity", "computed_entity"):
        assert not columns[name].null_ok, name
    for name in ("user_id", "entity_id", "entity_pk", "entity_name", "extra_data"):
        assert columns[name].null_ok, name
    # Wave 2 columns are nullable, so adding them rewrites no table.
    for name in (
        "request_id",
        "tags",
        "related_entity_type",
        "related_entity_id",
        "changes_summary",
    ):
        assert columns[name].null_ok, name


@pytest.mark.django_db
def test_database_enforces_string_sizes() -> None:
    # Values at the limit fit on every backend (MariaDB strict mode included).
    log = ActivityLog.objects.create(
        actor_type=ActorType.SYSTEM,
        action=ActionType.LOGIN_FAILED,
        entity="e" * 50,
        computed_entity="c" * 100,
        entity_pk="p" * 255,
        entity_name="n" * 255,
        actor_identifier="i" * 255,
        actor_name="a" * 255,
        ip_address="2001:db8:85a3::8a2e:370:7334",
    )
    log.refresh_from_db()
    assert log.actor_type == "system"
    assert log.action == "login_failed"
    assert log.entity_pk is not None and len(log.entity_pk) == 255
    assert log.ip_address == "2001:db8:85a3::8a2e:370:7334"


@pytest.mark.django_db
def test_user_delete_sets_null_in_database() -> None:
    user = baker.make(get_user_model())
    log = ActivityLog.objects.create(
        user=user,
        actor_type=ActorType.USER,
        action="login",
        entity="user",
        computed_entity="auth.User",
    )
    user.delete()
    log.refresh_from_db()
    assert log.user_id is None


# --- migrations ---------------------------------------------------------------


def _migrate(targets: Sequence[tuple[str, str | None]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _leaf_nodes() -> list[tuple[str, str]]:
    graph: MigrationGraph = MigrationExecutor(connection).loader.graph
    return graph.leaf_nodes()


@pytest.fixture
def restore_migrations() -> Iterator[None]:
    """Whatever a test unapplies, migrate every app forward again afterwards."""
    try:
        yield
    finally:
        _migrate(_leaf_nodes())
        assert TABLE in _table_names()


@pytest.mark.django_db(transaction=True)
def test_migration_round_trip(restore_migrations: None) -> None:
    assert TABLE in _table_names()
    try:
        _migrate([("autoaudit", None)])
        assert TABLE not in _table_names()
        applied = MigrationExecutor(connection).loader.applied_migrations
        assert ("autoaudit", "0001_initial") not in applied

        _migrate([("autoaudit", "0001_initial")])
        assert TABLE in _table_names()
        applied = MigrationExecutor(connection).loader.applied_migrations
        assert ("autoaudit", "0001_initial") in applied

        latest = MigrationExecutor(connection).loader.graph.leaf_nodes("autoaudit")
        _migrate(latest)
        constraints = _constraints()
        assert _index_names(constraints) == expected_index_names()
        for name, columns in ALL_INDEXES.items():
            assert constraints[name]["columns"] == [column for column, _o in columns]
        assert not any(info["foreign_key"] for info in constraints.values())
    finally:
        _migrate(_leaf_nodes())
    # The table works after the round trip.
    ActivityLog.objects.create(
        actor_type=ActorType.SYSTEM, action="create", entity="x", computed_entity="a.X"
    )
    assert ActivityLog.objects.count() == 1


@pytest.mark.django_db
def test_migration_plan_is_complete() -> None:
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


# The SQLite schema editor refuses to run inside the test's atomic block.
@pytest.mark.django_db(transaction=True)
def test_sqlmigrate_names_the_seed_indexes() -> None:
    out = StringIO()
    call_command("sqlmigrate", "autoaudit", "0001_initial", stdout=out)
    sql = out.getvalue()
    for name in SEED_INDEXES:
        assert name in sql
    out = StringIO()
    call_command("sqlmigrate", "autoaudit", "0005_wave2_columns", stdout=out)
    for name in ("idx_actlog_request", "idx_actlog_related_time"):
        assert name in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("app_label", ["autoaudit", "testapp"])
def test_no_missing_migrations(app_label: str) -> None:
    out = StringIO()
    try:
        call_command(
            "makemigrations",
            app_label,
            check=True,
            dry_run=True,
            interactive=False,
            stdout=out,
            stderr=out,
        )
    except SystemExit as exc:  # pragma: no cover - only when a migration is missing
        pytest.fail(
            f"makemigrations --check found changes for {app_label}:\n{out.getvalue()}"
            f" (exit {exc.code})"
        )
    assert "No changes detected" in out.getvalue()


# --- PostgreSQL: the history query uses its index --------------------------------


def _plan_uses_index(plan: str, name: str) -> bool:
    return name in plan


@pytest.mark.django_db
def test_history_query_is_index_backed_on_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are checked on PostgreSQL only")
    product = baker.make(Product)
    now = timezone.now()
    rows = []
    for i in range(2_000):
        other_pk = product.pk + 1 + i % 250  # never the product's own pk
        rows.append(
            ActivityLog(
                actor_type=ActorType.SYSTEM,
                action=ActionType.UPDATE,
                entity="product",
                computed_entity="testapp.Product" if i % 4 else "testapp.UUIDItem",
                entity_id=other_pk,
                entity_pk=str(other_pk) if i % 4 else str(uuid.uuid4()),
                entity_name=f"item {i}",
            )
        )
    rows.append(
        ActivityLog(
            actor_type=ActorType.SYSTEM,
            action=ActionType.CREATE,
            entity="product",
            computed_entity="testapp.Product",
            entity_id=product.pk,
            entity_pk=str(product.pk),
        )
    )
    ActivityLog.objects.bulk_create(rows, batch_size=500)
    # auto_now_add gives every row "now": spread them out in time.
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET created_at = %s - (id * interval '1 second')", [now])
        cursor.execute(f"ANALYZE {TABLE}")

    queryset = ActivityLog.objects.for_instance(product)[:50]
    plan = queryset.explain()
    if not _plan_uses_index(plan, "idx_actlog_comp_pk_time"):
        # Small tables may still tempt the planner into a scan; forbid it for
        # this one statement and roll the setting back with the savepoint.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
            plan = queryset.explain()
            transaction.set_rollback(True)
    assert _plan_uses_index(plan, "idx_actlog_comp_pk_time"), plan
    # The index ends with the ordering's tie-break (-created_at, -id): the
    # newest rows come off it in order, with no sort step.
    assert "Sort" not in plan, plan
    assert [log.action for log in queryset] == ["create"]
