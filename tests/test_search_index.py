"""Migration 0004: trigram indexes for the admin's search, PostgreSQL only."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import RequestFactory

from autoaudit.admin import ActivityLogAdmin
from autoaudit.models import ActivityLog
from tests.test_schema import TABLE, TAGS_GIN_INDEX, TRIGRAM_INDEXES, expected_index_names

migration = importlib.import_module("autoaudit.migrations.0004_admin_search_trigram")
BEFORE = ("autoaudit", "0003_user_no_db_constraint")
LATEST = ("autoaudit", "0004_admin_search_trigram")


def _leaf() -> tuple[str, str]:
    """autoaudit's newest migration: where each test leaves the schema."""
    graph = MigrationExecutor(connection).loader.graph
    leaf: tuple[str, str] = next(n for n in graph.leaf_nodes() if n[0] == "autoaudit")
    return leaf


def _index_names() -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    # Unique constraints are not these indexes (MariaDB lists them as indexes too).
    return {
        name
        for name, info in constraints.items()
        if info["index"] and not info["primary_key"] and not info["unique"]
    }


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def test_the_migration_names_the_indexes_the_tests_expect() -> None:
    assert set(migration.TRIGRAM_INDEXES) == TRIGRAM_INDEXES
    assert set(migration.TRIGRAM_INDEXES.values()) == set(ActivityLogAdmin.search_fields)


@pytest.fixture
def back_to_latest() -> Iterator[None]:
    try:
        yield
    finally:
        _migrate(_leaf())


@pytest.mark.django_db(transaction=True)
def test_migration_applies_and_reverses(back_to_latest: None) -> None:
    assert _index_names() == expected_index_names()
    _migrate(BEFORE)
    # PostgreSQL: the three are gone; elsewhere the migration never did
    # anything. The later migrations' indexes (0005, 0008) are gone too.
    later = {"idx_actlog_request", "idx_actlog_related_time", TAGS_GIN_INDEX}
    assert _index_names() == expected_index_names() - TRIGRAM_INDEXES - later
    _migrate(_leaf())
    assert _index_names() == expected_index_names()
    # Applying it again over existing indexes is harmless (IF NOT EXISTS).
    migration.create_indexes(_apps(), _Editor())
    assert _index_names() == expected_index_names()


class _Editor:
    """What the migration's functions read of a schema editor: its connection."""

    def __init__(self, conn: Any = None) -> None:
        self.connection = conn or connection


def _apps() -> Any:
    return MigrationExecutor(connection).loader.project_state(LATEST).apps


def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes exist on PostgreSQL only")


@pytest.mark.django_db
def test_admin_search_sql_can_use_the_indexes() -> None:
    _postgres_only()
    ActivityLog.objects.create(
        actor_type="user", action="update", entity="x", computed_entity="a.X", actor_name="Okafor"
    )
    request = RequestFactory().get("/admin/autoaudit/activitylog/", {"q": "okafor"})
    model_admin = ActivityLogAdmin(ActivityLog, admin.site)
    queryset, _duplicates = model_admin.get_search_results(
        request, ActivityLog.objects.all(), "okafor"
    )
    assert 'UPPER("activity_logs"."actor_name"::text) LIKE UPPER(' in str(queryset.query)
    # The table is tiny, so forbid the scans (of the table, and of the
    # created_at index for the ordering): a plan on the trigram indexes is
    # then proof that they match the expressions Django sends.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
        plan = queryset.explain()
        transaction.set_rollback(True)
    for name in TRIGRAM_INDEXES:
        assert f"Bitmap Index Scan on {name}" in plan, plan
    assert [log.actor_name for log in queryset] == ["Okafor"]


@pytest.mark.django_db(transaction=True)
def test_extension_that_cannot_be_created_fails_clearly() -> None:
    _postgres_only()
    import psycopg  # the driver is installed where PostgreSQL is tested

    settings = connection.settings_dict
    name, role = f"{settings['NAME']}_noext", "aa_no_create_role"
    admin_conn = psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    )
    admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin_conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    admin_conn.execute(f'CREATE DATABASE "{name}"')
    # Neither superuser nor owner, and no CREATE on the database.
    admin_conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER')
    wrapper = type(connections["default"])({**settings, "NAME": name, "USER": role}, alias="noext")
    connections["noext"] = wrapper  # atomic(using=...) looks the alias up
    try:
        with pytest.raises(ImproperlyConfigured) as caught:
            migration.create_indexes(_apps(), _Editor(wrapper))
        message = str(caught.value)
        assert "could not create the PostgreSQL extension pg_trgm" in message
        assert f"GRANT CREATE ON DATABASE {name} TO {role}" in message
        assert "CREATE EXTENSION pg_trgm;" in message
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")
            assert cursor.fetchone() == (0,)
    finally:
        wrapper.close()
        del connections["noext"]
        admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin_conn.close()


def test_other_databases_get_nothing() -> None:
    class Vendor:
        vendor = "sqlite"

    # No cursor is ever asked for: a connection without one would raise.
    migration.create_indexes(None, _Editor(Vendor()))
    migration.drop_indexes(None, _Editor(Vendor()))
    assert os.environ.get("AUTOAUDIT_TEST_DB", "sqlite") in {"sqlite", "postgres", "mysql"}
