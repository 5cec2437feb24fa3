"""AUTOAUDIT["DATABASE"]: the logs in a database of their own ("audit")."""

from __future__ import annotations

import pytest
from django.core import checks
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

import autoaudit
from autoaudit.checks import check_log_databases
from autoaudit.models import ActivityLog
from autoaudit.tracking import store
from tests.testapp.models import Product
from tests.typing_support import Track

BOTH = {"default", "audit"}


@pytest.fixture
def audit_database(settings: Settings, track: Track) -> None:
    settings.AUTOAUDIT = {"DATABASE": "audit"}
    track(Product)


@pytest.mark.django_db(transaction=True, databases=BOTH)
@pytest.mark.usefixtures("audit_database")
class TestLogDatabase:
    def test_logs_go_to_the_log_database_after_the_commit(self) -> None:
        with CaptureQueriesContext(connections["audit"]) as audit:
            with transaction.atomic():
                product = Product.objects.create(name="P")
                product.stock = 3
                product.save()
                assert not ActivityLog.objects.using("audit").exists()
            product.delete()
        logs = ActivityLog.objects.using("audit").order_by("id")
        assert [log.action for log in logs] == ["create", "update", "delete"]
        assert not ActivityLog.objects.using("default").exists()
        inserts = [
            q
            for q in audit.captured_queries
            if "activity_logs" in q["sql"] and not q["sql"].startswith("SELECT")
        ]
        assert len(inserts) == 2  # the transaction's two logs in one statement, then the delete's

    def test_a_rolled_back_change_leaves_no_log_there(self) -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            Product.objects.create(name="P")
            raise RuntimeError
        assert not ActivityLog.objects.using("audit").exists()

    def test_a_change_on_the_log_database_itself_commits_with_its_log(self) -> None:
        with transaction.atomic(using="audit"):
            Product.objects.using("audit").create(name="P")
            # "transaction" mode, same database: in the change's transaction.
            assert ActivityLog.objects.using("audit").count() == 1

    def test_manual_logs_go_there_too(self) -> None:
        log = autoaudit.log_activity(None, "view", "report", entity_id=1)
        assert log.pk is None  # written after the (autocommit) statement: no id here
        assert ActivityLog.objects.using("audit").get().entity == "report"

    def test_the_on_commit_mode_writes_there_as_well(self, settings: Settings) -> None:
        settings.AUTOAUDIT = {"DATABASE": "audit", "WRITE_MODE": "on_commit"}
        Product.objects.create(name="P")
        assert ActivityLog.objects.using("audit").count() == 1
        assert not ActivityLog.objects.using("default").exists()

    def test_the_task_mode_writes_there(self, settings: Settings) -> None:
        settings.AUTOAUDIT = {"DATABASE": "audit", "WRITE_MODE": "task"}
        Product.objects.create(name="P")  # ImmediateBackend: the task runs at once
        assert ActivityLog.objects.using("audit").get().write_id is not None


def test_defers_says_where_and_when(settings: Settings) -> None:
    assert not store.defers("default")
    settings.AUTOAUDIT = {"DATABASE": "audit"}
    assert store.defers("default") and not store.defers("audit")
    assert store.log_database("default") == "audit"
    settings.AUTOAUDIT = {"WRITE_MODE": "on_commit"}
    assert store.defers("default") and store.log_database("default") == "default"


def test_w004_says_atomicity_is_lost(settings: Settings) -> None:
    assert check_log_databases() == []
    settings.AUTOAUDIT = {"DATABASE": "audit"}
    (warning,) = check_log_databases()
    assert warning.id == "autoaudit.W007" and isinstance(warning, checks.Warning)
    assert "'default'" in warning.msg and "not in its transaction" in warning.msg


def test_e002_unknown_alias(settings: Settings) -> None:
    settings.AUTOAUDIT = {"DATABASE": "nowhere"}
    (error,) = check_log_databases()
    assert error.id == "autoaudit.E002" and "'nowhere'" in error.msg
