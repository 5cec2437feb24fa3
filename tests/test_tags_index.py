"""Migration 0008 (the GIN index on ``tags``, PostgreSQL only) and migration
0005's online index builds: CONCURRENTLY really runs outside a transaction."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from tests.test_schema import TABLE, TAGS_GIN_INDEX

gin = importlib.import_module("autoaudit.migrations.0008_tags_gin")
wave2 = importlib.import_module("autoaudit.migrations.0005_wave2_columns")
BEFORE = ("autoaudit", "0005_wave2_columns")

pytestmark = pytest.mark.django_db(transaction=True)


def _index_names() -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return {name for name, info in constraints.items() if info["index"]}


def _leaf() -> tuple[str, str]:
    graph = MigrationExecutor(connection).loader.graph
    leaf: tuple[str, str] = next(n for n in graph.leaf_nodes() if n[0] == "autoaudit")
    return leaf


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.fixture
def back_to_latest() -> Iterator[None]:
    try:
        yield
    finally:
        _migrate(_leaf())


def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("CONCURRENTLY and the GIN index are PostgreSQL's")


def test_0008_applies_and_reverses(back_to_latest: None) -> None:
    on_postgres = connection.vendor == "postgresql"
    assert (TAGS_GIN_INDEX in _index_names()) is on_postgres
    _migrate(BEFORE)
    assert TAGS_GIN_INDEX not in _index_names()
    _migrate(_leaf())
    assert (TAGS_GIN_INDEX in _index_names()) is on_postgres


def _apps() -> Any:
    return MigrationExecutor(connection).loader.project_state(_leaf()).apps


def test_0008_builds_concurrently_outside_a_transaction(back_to_latest: None) -> None:
    _postgres_only()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {TAGS_GIN_INDEX}")
    with connection.schema_editor(atomic=False) as editor, CaptureQueriesContext(connection) as sql:
        assert not connection.in_atomic_block
        gin._create(_apps(), editor)
    assert any(q["sql"].startswith(f'CREATE INDEX CONCURRENTLY "{TAGS_GIN_INDEX}"') for q in sql), (
        sql.captured_queries
    )
    assert TAGS_GIN_INDEX in _index_names()


def test_0008_rebuilds_an_invalid_index(back_to_latest: None) -> None:
    _postgres_only()
    with connection.cursor() as cursor:
        # What a CONCURRENTLY build that failed half way leaves behind.
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass",
            [TAGS_GIN_INDEX],
        )
    with connection.schema_editor(atomic=False) as editor, CaptureQueriesContext(connection) as sql:
        gin._create(_apps(), editor)
    statements = [q["sql"] for q in sql]
    assert any(
        s.startswith(f'DROP INDEX CONCURRENTLY IF EXISTS "{TAGS_GIN_INDEX}"') for s in statements
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass", [TAGS_GIN_INDEX]
        )
        assert cursor.fetchone() == (True,)


def test_0005_builds_its_indexes_concurrently_outside_a_transaction(
    back_to_latest: None,
) -> None:
    _postgres_only()
    operation = next(
        op
        for op in wave2.Migration.operations
        if isinstance(op, wave2.AddIndexOnline) and op.index.name == "idx_actlog_request"
    )
    executor = MigrationExecutor(connection)
    before = executor.loader.project_state(BEFORE)
    with connection.cursor() as cursor:
        cursor.execute('DROP INDEX "idx_actlog_request"')
    with connection.schema_editor(atomic=False) as editor, CaptureQueriesContext(connection) as sql:
        assert not connection.in_atomic_block
        operation.database_forwards("autoaudit", editor, before, before)
    # The schema editor defers nothing for an index: it ran, and CONCURRENTLY.
    statements = [q["sql"] for q in sql]
    assert any(s.startswith('CREATE INDEX CONCURRENTLY "idx_actlog_request"') for s in statements)
    assert "idx_actlog_request" in _index_names()
    # Inside a transaction the same operation builds plainly.
    with connection.cursor() as cursor:
        cursor.execute('DROP INDEX "idx_actlog_request"')
    with connection.schema_editor(atomic=True) as editor, CaptureQueriesContext(connection) as sql:
        operation.database_forwards("autoaudit", editor, before, before)
    statements = [q["sql"] for q in sql]
    assert any(s.startswith('CREATE INDEX "idx_actlog_request"') for s in statements), statements
