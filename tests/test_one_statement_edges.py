"""Edges of the one statement per save (PostgreSQL) found in review: each
case must log exactly what the usual path logs. Models made for these tests
only (their tables are created and dropped by the fixture)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, models
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext
from django.utils.functional import cached_property

from autoaudit.models import ActivityLog
from tests.test_transactions import failing_log_inserts
from tests.testapp.models import Product, Seat
from tests.typing_support import Track

pytestmark = pytest.mark.django_db(transaction=True)

POSTGRES = connection.vendor == "postgresql"


def _define() -> SimpleNamespace:
    """The models, defined when a test needs them and removed from Django's
    app registry after it (a model that lives in the registry has to be in
    a migration: ``test_schema`` checks that)."""

    class EdgeGenerated(models.Model):
        price = models.IntegerField()
        qty = models.IntegerField(default=1)
        total = models.GeneratedField(
            expression=models.F("price") * models.F("qty"),
            output_field=models.IntegerField(),
            db_persist=True,
        )

        class Meta:
            app_label = "testapp"

    class EdgeNullJson(models.Model):
        name = models.CharField(max_length=20)
        data = models.JSONField(null=True)

        class Meta:
            app_label = "testapp"

    class EdgeSerial(models.Model):
        name = models.CharField(max_length=20)
        serial = models.IntegerField(db_default=41)

        class Meta:
            app_label = "testapp"

        def __str__(self) -> str:
            return f"{self.name} #{self.serial}"

    class EdgeCached(models.Model):
        name = models.CharField(max_length=20)

        class Meta:
            app_label = "testapp"

        def __str__(self) -> str:
            return self.code

        @cached_property
        def code(self) -> str:
            return f"C-{self.pk}"

    class EdgePin(models.Model):
        pin = models.CharField(max_length=20)

        class Meta:
            app_label = "testapp"

        def __str__(self) -> str:
            return f"Account {self.pk}"

    class CaseInsensitiveText(models.TextField):  # type: ignore[type-arg]
        def db_type(self, connection: Any) -> str | None:
            return "citext" if connection.vendor == "postgresql" else super().db_type(connection)

    class EdgeCi(models.Model):
        name = models.CharField(max_length=20)
        email = CaseInsensitiveText()

        class Meta:
            app_label = "testapp"

    return SimpleNamespace(
        Generated=EdgeGenerated,
        NullJson=EdgeNullJson,
        Serial=EdgeSerial,
        Cached=EdgeCached,
        Pin=EdgePin,
        Ci=EdgeCi,
    )


@pytest.fixture
def edge() -> Iterator[SimpleNamespace]:
    namespace = _define()
    made = list(vars(namespace).values())
    if POSTGRES:
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS citext")
    with connection.schema_editor() as editor:
        for model in made:
            editor.create_model(model)
    try:
        yield namespace
    finally:
        with connection.schema_editor() as editor:
            for model in made:
                editor.delete_model(model)
        for model in made:
            del apps.all_models["testapp"][model._meta.model_name]
        apps.clear_cache()


def statements(operation: Any) -> list[str]:
    with CaptureQueriesContext(connection) as context:
        operation()
    return [q["sql"] for q in context.captured_queries]


def test_a_generated_column_refreshed_by_the_update_is_logged(
    track: Track, edge: SimpleNamespace
) -> None:
    track(edge.Generated)
    item = edge.Generated._default_manager.create(price=2, qty=3)
    item.refresh_from_db()
    item.price = 5
    item.save()
    log = ActivityLog.objects.get(action="update")
    if item.total == 15:  # Django 6 refreshes it with UPDATE ... RETURNING
        assert log.new_values.get("total") == 15, log.new_values


def test_a_json_column_holding_null_passes_the_guard(track: Track, edge: SimpleNamespace) -> None:
    track(edge.NullJson)
    item = edge.NullJson._default_manager.create(name="a", data=None)
    item.name = "b"
    sql = statements(item.save)
    if POSTGRES:
        assert len(sql) == 1 and sql[0].startswith("WITH aa_row AS (UPDATE"), sql
    assert ActivityLog.objects.get(action="update").new_values == {"name": "b"}


def test_a_name_showing_an_untracked_database_default_is_the_saved_one(
    track: Track, edge: SimpleNamespace
) -> None:
    track(edge.Serial, exclude_fields=["serial"])
    item = edge.Serial._default_manager.create(name="s")
    assert ActivityLog.objects.get().entity_name == str(item) == "s #41"


def test_a_row_re_inserted_by_a_save_of_nothing_tracked_is_logged(track: Track) -> None:
    track(Seat, exclude_fields=["number"])
    seat = Seat.objects.create(number=1)
    Seat.objects.all()._raw_delete("default")  # gone, without a log
    seat.save()  # Django: the UPDATE finds nothing, so it inserts
    assert Seat.objects.filter(pk=seat.pk).exists()
    actions = list(ActivityLog.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["create", "create"]


def _comment(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    return execute("/* app=x */ " + sql, params, many, context)


def test_a_statement_an_outer_wrapper_rewrote_keeps_the_change_and_log_together(
    track: Track,
) -> None:
    """An execute wrapper of the application's (a comment in front, as query
    taggers do) hides Django's statement from autoaudit: the save takes the
    usual path, so a log that cannot be written undoes the change."""
    track(Product)
    product = Product.objects.create(name="a")
    with failing_log_inserts(), connection.execute_wrapper(_comment):
        with pytest.raises(DatabaseError):
            Product.objects.create(name="new")
        product.name = "b"
        with pytest.raises(DatabaseError):
            product.save()
    assert list(Product.objects.values_list("name", flat=True)) == ["a"]
    assert ActivityLog.objects.count() == 1


def test_a_cached_property_of_str_never_sees_the_stand_in_key(
    track: Track, edge: SimpleNamespace
) -> None:
    track(edge.Cached)
    item = edge.Cached._default_manager.create(name="x")
    assert item.code == f"C-{item.pk}"
    assert ActivityLog.objects.get().entity_name == f"C-{item.pk}"


@pytest.mark.skipif(not POSTGRES, reason="restarts a PostgreSQL sequence")
def test_a_key_that_completes_a_secret_in_the_name_is_still_scrubbed(
    track: Track, edge: SimpleNamespace
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ALTER SEQUENCE testapp_edgepin_id_seq RESTART WITH 4821")
    track(edge.Pin, mask_fields={"pin": "redact"})
    edge.Pin._default_manager.create(pin="4821")
    log = ActivityLog.objects.get()
    assert "4821" not in (log.entity_name or "") + (log.description or "")


@pytest.mark.skipif(not POSTGRES, reason="citext is PostgreSQL's")
def test_the_guard_tells_values_a_case_insensitive_type_calls_equal(
    track: Track, edge: SimpleNamespace
) -> None:
    track(edge.Ci)
    item = edge.Ci._default_manager.create(name="a", email="bob@x.org")
    errors: list[BaseException] = []

    def other() -> None:
        try:
            edge.Ci._default_manager.filter(pk=item.pk).update(email="BOB@X.ORG")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    def meanwhile(sender: Any, instance: Any, **kwargs: Any) -> None:
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(10)

    pre_save.connect(meanwhile, sender=edge.Ci, dispatch_uid="test-edge-ci")
    try:
        item.name = "b"
        item.save()
    finally:
        pre_save.disconnect(sender=edge.Ci, dispatch_uid="test-edge-ci")
    assert not errors
    state: dict[str, Any] = {}
    for action, old, new in ActivityLog.objects.order_by("id").values_list(
        "action", "old_values", "new_values"
    ):
        if action != "create":
            assert {k: state[k] for k in old or {}} == old
        state.update(new or {})
    assert state["email"] == edge.Ci._default_manager.get().email
