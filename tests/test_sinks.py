"""AUTOAUDIT["SINKS"]: every committed log, as a dict, after the commit."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from autoaudit.checks import check_sinks, check_task_backend
from autoaudit.conf import parse_settings
from autoaudit.models import ActivityLog
from tests.testapp.models import Product
from tests.typing_support import Track

received: list[dict[str, Any]] = []
NOT_CALLABLE = 42


def collect(log: dict[str, Any]) -> None:
    received.append(log)


def explode(log: dict[str, Any]) -> None:
    raise RuntimeError("sink down")


@pytest.fixture(autouse=True)
def _tracked(track: Track) -> None:
    track(Product, mask_fields={"internal_note": "redact"})
    received.clear()


SINK = "tests.test_sinks.collect"


@pytest.mark.django_db
class TestSinks:
    def test_each_committed_log_reaches_the_sink_after_the_commit(
        self, settings: Settings, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
    ) -> None:
        settings.AUTOAUDIT = {"SINKS": [SINK]}
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            product = Product.objects.create(name="P", internal_note="secret note")
            product.stock = 2
            product.save()
            assert received == []
        assert [log["action"] for log in received] == ["create", "update"]
        first = received[0]
        assert first["new_values"]["internal_note"] != "secret note"  # masked stays masked
        assert "secret note" not in json.dumps(received)
        assert first["computed_entity"] == "testapp.Product"
        assert first["user_id"] is None and first["created_at"]
        stored = ActivityLog.objects.get(action="create")
        assert first["new_values"] == stored.new_values

    def test_a_rolled_back_change_reaches_no_sink(
        self, settings: Settings, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
    ) -> None:
        settings.AUTOAUDIT = {"SINKS": [SINK]}
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            Product.objects.create(name="P")
            raise RuntimeError
        assert received == []

    def test_a_failing_sink_is_logged_and_breaks_nothing(
        self,
        settings: Settings,
        caplog: pytest.LogCaptureFixture,
        django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    ) -> None:
        settings.AUTOAUDIT = {"SINKS": ["tests.test_sinks.explode", SINK, "tests.nowhere.sink"]}
        with (
            caplog.at_level(logging.ERROR, logger="autoaudit"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            Product.objects.create(name="P")
        assert len(received) == 1  # the next sink still ran
        assert ActivityLog.objects.count() == 1
        messages = [r.getMessage() for r in caplog.records if r.name == "autoaudit"]
        assert any("tests.test_sinks.explode" in m and "raised" in m for m in messages)
        assert any("tests.nowhere.sink" in m and "cannot be imported" in m for m in messages)

    def test_json_logger_writes_one_json_line_per_log(
        self,
        settings: Settings,
        caplog: pytest.LogCaptureFixture,
        django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    ) -> None:
        settings.AUTOAUDIT = {"SINKS": ["autoaudit.sinks.json_logger"]}
        with (
            caplog.at_level(logging.INFO, logger="autoaudit"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            Product.objects.create(name="P", internal_note="secret note")
        (record,) = [r for r in caplog.records if r.name == "autoaudit"]
        line = json.loads(record.getMessage())
        assert line["action"] == "create" and line["entity_name"] == "P"
        assert "secret note" not in record.getMessage()

    @pytest.mark.parametrize("mode", ["on_commit", "task"])
    def test_every_mode_feeds_the_sinks(
        self,
        settings: Settings,
        mode: str,
        django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    ) -> None:
        settings.AUTOAUDIT = {"SINKS": [SINK], "WRITE_MODE": mode}
        with django_capture_on_commit_callbacks(execute=True):
            Product.objects.create(name="P")
        assert [log["entity_name"] for log in received] == ["P"]
        assert (received[0]["write_id"] is not None) == (mode == "task")

    @pytest.mark.parametrize("mode", ["transaction", "on_commit"])
    def test_sinks_add_no_query(
        self,
        settings: Settings,
        mode: str,
        django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    ) -> None:
        def count(sinks: list[str]) -> int:
            settings.AUTOAUDIT = {"SINKS": sinks, "WRITE_MODE": mode}
            with (
                CaptureQueriesContext(connection) as queries,
                django_capture_on_commit_callbacks(execute=True),
            ):
                product = Product.objects.create(name="P")
                product.stock = 5
                product.save()
            return len(queries)

        without = count([])
        with_sink = count([SINK])
        if mode == "transaction" and connection.vendor == "postgresql":
            # A sink, like a post_log receiver, takes PostgreSQL's saves off the
            # one-statement path: the log is an INSERT of its own again, and
            # the update reads its old values first (create +1, update +2).
            assert with_sink == without + 3
        else:
            assert with_sink == without
        assert len(received) == 2


def test_settings_are_validated() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"WRITE_MODE.*'on_commit'"):
        parse_settings({"WRITE_MODE": "oncommit"})
    with pytest.raises(ImproperlyConfigured, match="SINKS"):
        parse_settings({"SINKS": "autoaudit.sinks.json_logger"})
    with pytest.raises(ImproperlyConfigured, match="SINKS"):
        parse_settings({"SINKS": ["json_logger"]})
    with pytest.raises(ImproperlyConfigured, match="DATABASE"):
        parse_settings({"DATABASE": ""})
    with pytest.raises(ImproperlyConfigured, match="TASK_BACKEND"):
        parse_settings({"TASK_BACKEND": None})
    parsed = parse_settings({"WRITE_MODE": "task", "DATABASE": "audit", "SINKS": [SINK]})
    assert (parsed.WRITE_MODE, parsed.DATABASE, parsed.SINKS) == ("task", "audit", (SINK,))
    assert parse_settings({}).WRITE_MODE == "transaction"


def test_e001_sinks_that_do_not_import_or_call(settings: Settings) -> None:
    settings.AUTOAUDIT = {"SINKS": [SINK, "tests.nowhere.sink", "tests.test_sinks.NOT_CALLABLE"]}
    errors = check_sinks()
    assert [e.id for e in errors] == ["autoaudit.E001", "autoaudit.E001"]
    assert "cannot be imported" in errors[0].msg and "not a callable" in errors[1].msg


def test_e003_task_backend(settings: Settings) -> None:
    settings.AUTOAUDIT = {"WRITE_MODE": "task"}
    assert check_task_backend() == []
    settings.AUTOAUDIT = {"WRITE_MODE": "task", "TASK_BACKEND": "missing"}
    (error,) = check_task_backend()
    assert error.id == "autoaudit.E003" and "'missing'" in error.msg
