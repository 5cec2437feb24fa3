"""WRITE_MODE "on_commit" and "task": logs written after their change commits."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from autoaudit.models import ActivityLog
from autoaudit.tracking import deferred, store
from tests.test_transactions import failing_log_inserts
from tests.testapp.models import Product, Untracked
from tests.typing_support import Track


def _log_inserts(context: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in context.captured_queries
        if "activity_logs" in q["sql"] and ("INSERT" in q["sql"] or "COPY" in q["sql"])
    ]


#: A trigger that rejects the log of a product named "bad" (setup, teardown).
_REJECT_BAD = {
    "postgresql": (
        [
            "CREATE FUNCTION aa_reject_bad() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.entity_name = 'bad' THEN RAISE EXCEPTION 'bad row'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER aa_reject_bad BEFORE INSERT ON activity_logs "
            "FOR EACH ROW EXECUTE FUNCTION aa_reject_bad()",
        ],
        ["DROP TRIGGER aa_reject_bad ON activity_logs", "DROP FUNCTION aa_reject_bad()"],
    ),
    "sqlite": (
        [
            "CREATE TRIGGER aa_reject_bad BEFORE INSERT ON activity_logs "
            "WHEN NEW.entity_name = 'bad' BEGIN SELECT RAISE(ABORT, 'bad row'); END"
        ],
        ["DROP TRIGGER aa_reject_bad"],
    ),
    "mysql": (
        [
            "CREATE TRIGGER aa_reject_bad BEFORE INSERT ON activity_logs FOR EACH ROW "
            "BEGIN IF NEW.entity_name = 'bad' THEN "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'bad row'; END IF; END"
        ],
        ["DROP TRIGGER aa_reject_bad"],
    ),
}


def _statements(context: CaptureQueriesContext) -> int:
    """Statements other than transaction control (SQLite logs BEGIN and COMMIT)."""
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")
    return sum(1 for q in context.captured_queries if not q["sql"].upper().startswith(control))


@pytest.fixture
def on_commit(settings: Settings, track: Track) -> None:
    settings.AUTOAUDIT = {"WRITE_MODE": "on_commit"}
    track(Product)


@pytest.mark.django_db
@pytest.mark.usefixtures("on_commit")
class TestOnCommit:
    def test_the_logs_of_a_transaction_go_in_after_it_in_one_statement(
        self, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
    ) -> None:
        with django_capture_on_commit_callbacks() as callbacks:
            with transaction.atomic():
                product = Product.objects.create(name="P", stock=1)
                product.stock = 2
                product.save()
                Product.objects.create(name="Q")
                product.delete()
            assert not ActivityLog.objects.exists()  # nothing before the commit
            assert deferred.pending("default") == 4
        with CaptureQueriesContext(connection) as flushed:
            for callback in callbacks:
                callback()
        assert len(_log_inserts(flushed)) == 1
        logs = list(ActivityLog.objects.order_by("id"))
        assert [log.action for log in logs] == ["create", "update", "create", "delete"]
        assert logs[1].old_values == {"stock": 1} and logs[1].new_values == {"stock": 2}
        assert deferred.pending("default") == 0

    def test_repeated_saves_of_one_object_give_one_log_each(
        self, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            product = Product.objects.create(name="P")
            for stock in (1, 2, 3):
                product.stock = stock
                product.save()
        updates = ActivityLog.objects.filter(action="update").order_by("id")
        assert [log.new_values for log in updates] == [{"stock": 1}, {"stock": 2}, {"stock": 3}]

    def test_a_rolled_back_savepoint_drops_the_drafts_made_in_it(
        self, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            Product.objects.create(name="kept before")
            with pytest.raises(RuntimeError), transaction.atomic():
                Product.objects.create(name="rolled back")
                with transaction.atomic():
                    Product.objects.create(name="rolled back, inner")
                raise RuntimeError
            with transaction.atomic():
                Product.objects.create(name="kept, released savepoint")
            # The last write's savepoint is rolled back: the earlier ones still go in.
            with pytest.raises(RuntimeError), transaction.atomic():
                Product.objects.create(name="rolled back last")
                raise RuntimeError
        names = set(ActivityLog.objects.values_list("entity_name", flat=True))
        assert names == {"kept before", "kept, released savepoint"}
        assert Product.objects.count() == 2

    def test_the_first_write_rolled_back_the_later_ones_still_go_in(
        self, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            with pytest.raises(RuntimeError), transaction.atomic():
                Product.objects.create(name="gone")
                raise RuntimeError
            Product.objects.create(name="kept")
        assert list(ActivityLog.objects.values_list("entity_name", flat=True)) == ["kept"]

    def test_a_rolled_back_transaction_leaves_no_log_and_no_pending_draft(self) -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            Product.objects.create(name="P")
            raise RuntimeError
        assert deferred.pending("default") == 0
        assert not ActivityLog.objects.exists()

    def test_no_one_statement_write_on_postgresql(
        self, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
    ) -> None:
        product = Product.objects.create(name="P")
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=True),
        ):
            product.stock = 4
            product.save()
            product.delete()
        assert not [q for q in queries.captured_queries if "aa_row" in q["sql"]]
        assert ActivityLog.objects.filter(action__in=["update", "delete"]).count() == 2

    def test_created_at_is_the_time_of_the_change(
        self, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
    ) -> None:
        from django.utils import timezone

        with django_capture_on_commit_callbacks() as callbacks:
            Product.objects.create(name="P")
        between = timezone.now()
        for callback in callbacks:
            callback()
        assert ActivityLog.objects.get().created_at <= between


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("on_commit")
class TestOnCommitCommitted:
    def test_autocommit_writes_right_after_the_statement(self) -> None:
        with CaptureQueriesContext(connection) as queries:
            product = Product.objects.create(name="P")
        assert ActivityLog.objects.filter(entity_pk=str(product.pk)).exists()
        assert len(_log_inserts(queries)) == 1

    def test_query_budget_in_autocommit(self) -> None:
        # As in "transaction" mode: create +1 (the insert after the commit),
        # update +2 (the locked read, the insert).
        with CaptureQueriesContext(connection) as plain_create:
            untracked = Untracked.objects.create(name="U")
        untracked.name = "V"
        with CaptureQueriesContext(connection) as plain_update:
            untracked.save()
        with CaptureQueriesContext(connection) as create:
            product = Product.objects.create(name="P")
        product.stock = 3
        with CaptureQueriesContext(connection) as update:
            product.save()
        assert _statements(create) == _statements(plain_create) + 1
        assert _statements(update) == _statements(plain_update) + 2
        assert ActivityLog.objects.count() == 2

    def test_a_failed_log_write_is_logged_and_the_change_stays(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with (
            failing_log_inserts(),
            caplog.at_level(logging.ERROR, logger="autoaudit"),
            transaction.atomic(),
        ):
            Product.objects.create(name="A")
            Product.objects.create(name="B")
        assert Product.objects.count() == 2
        assert not ActivityLog.objects.exists()
        messages = [r.getMessage() for r in caplog.records if r.name == "autoaudit"]
        assert len(messages) == 2  # the batch failed; each row was tried and reported
        assert all("could not write the create log of testapp.Product" in m for m in messages)

    def test_a_bad_row_does_not_take_the_others_with_it(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        create, drop = _REJECT_BAD[connection.vendor]
        with connection.cursor() as cursor:
            for sql in create:
                cursor.execute(sql)
        try:
            with caplog.at_level(logging.ERROR, logger="autoaudit"), transaction.atomic():
                Product.objects.create(name="good")
                Product.objects.create(name="bad")
                Product.objects.create(name="fine")
        finally:
            with connection.cursor() as cursor:
                for sql in drop:
                    cursor.execute(sql)
        names = ActivityLog.objects.order_by("id").values_list("entity_name", flat=True)
        assert list(names) == ["good", "fine"]
        assert any("bad row" in r.getMessage() for r in caplog.records)


# -- WRITE_MODE="task" ----------------------------------------------------------------
@pytest.fixture
def task_mode(settings: Settings, track: Track) -> None:
    settings.AUTOAUDIT = {"WRITE_MODE": "task"}
    track(Product)


def _dummy_results() -> list[Any]:
    try:
        from django.tasks import task_backends
    except ImportError:  # Django 5.2: the django-tasks backport
        from django_tasks import task_backends  # type: ignore[assignment,no-redef,import-not-found,unused-ignore]

    backend: Any = task_backends["dummy"]
    return backend.results  # type: ignore[no-any-return]


@pytest.mark.django_db
@pytest.mark.usefixtures("task_mode")
class TestTaskMode:
    def test_the_task_writes_the_logs_of_the_transaction(
        self, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
    ) -> None:
        # TASKS["default"] is the ImmediateBackend: the task runs on enqueue.
        with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
            product = Product.objects.create(name="P")
            product.stock = 9
            product.save()
        assert not ActivityLog.objects.exists()
        for callback in callbacks:
            callback()
        logs = list(ActivityLog.objects.order_by("id"))
        assert [log.action for log in logs] == ["create", "update"]
        assert all(log.write_id is not None for log in logs)
        assert len({log.write_id for log in logs}) == 2

    def test_one_task_per_transaction_with_json_arguments(
        self,
        settings: Settings,
        django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    ) -> None:
        from django.contrib.auth.models import User

        import autoaudit

        settings.AUTOAUDIT = {"WRITE_MODE": "task", "TASK_BACKEND": "dummy"}
        _dummy_results().clear()
        user = User.objects.create(username="u", email="u@example.com")
        with (
            django_capture_on_commit_callbacks(execute=True),
            transaction.atomic(),
            autoaudit.actor(user=user),
        ):
            Product.objects.create(name="P", internal_note="x")
            Product.objects.create(name="Q")
        (result,) = _dummy_results()
        assert result.task.module_path == "autoaudit.tasks.write_logs"
        logs, alias = result.args
        assert alias == "default"
        assert json.loads(json.dumps(result.args)) == list(result.args)  # JSON as it is
        assert [row["entity_name"] for row in logs] == ["P", "Q"]
        assert logs[0]["user_id"] == user.pk
        assert logs[0]["created_at"] and logs[0]["write_id"]
        assert not ActivityLog.objects.exists()
        # The worker runs it (twice: a retry): each row goes in once.
        for _ in range(2):
            assert result.task.call(*result.args) == 2
        rows = list(ActivityLog.objects.order_by("id"))
        assert [row.entity_name for row in rows] == ["P", "Q"]
        assert rows[0].user == user
        assert rows[0].created_at.isoformat() == logs[0]["created_at"]

    def test_a_retry_after_a_partial_write_adds_only_the_missing_rows(
        self,
        settings: Settings,
        django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    ) -> None:
        settings.AUTOAUDIT = {"WRITE_MODE": "task", "TASK_BACKEND": "dummy"}
        _dummy_results().clear()
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            for name in "ABC":
                Product.objects.create(name=name)
        (result,) = _dummy_results()
        logs, alias = result.args
        store.write_once(logs[:1], alias)  # the first try got one row in
        store.write_once(logs, alias)
        names = ActivityLog.objects.order_by("entity_name").values_list("entity_name", flat=True)
        assert list(names) == list("ABC")

    def test_rows_without_a_write_id_are_refused(self) -> None:
        with pytest.raises(ValueError, match="write_id"):
            store.write_once([{"action": "create"}], "default")

    def test_an_enqueue_failure_is_logged(
        self,
        settings: Settings,
        caplog: pytest.LogCaptureFixture,
        django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    ) -> None:
        settings.AUTOAUDIT = {"WRITE_MODE": "task", "TASK_BACKEND": "missing"}
        with (
            caplog.at_level(logging.ERROR, logger="autoaudit"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            Product.objects.create(name="P")
        assert Product.objects.filter(name="P").exists()
        assert any("they are lost" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("task_mode")
def test_task_mode_commits_then_runs_the_task() -> None:
    with transaction.atomic():
        Product.objects.create(name="P")
        assert not ActivityLog.objects.exists()
    assert ActivityLog.objects.get().write_id is not None


# -- a real worker: django-tasks-db's db_worker ------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_database_backends_worker_writes_the_logs_once(
    settings: Settings, track: Track
) -> None:
    pytest.importorskip("django_tasks_db")  # the dev extra installs it
    from django.core.management import call_command

    from autoaudit.tasks import write_logs

    settings.AUTOAUDIT = {"WRITE_MODE": "task", "TASK_BACKEND": "db"}
    track(Product)
    with transaction.atomic():
        Product.objects.create(name="P")
        Product.objects.create(name="Q")
    assert not ActivityLog.objects.exists()  # enqueued: one task for the transaction

    def work() -> None:
        call_command("db_worker", "--backend", "db", "--batch", "--no-startup-delay", verbosity=0)

    from django_tasks_db.models import DBTaskResult

    (queued,) = DBTaskResult.objects.all()
    work()
    names = ActivityLog.objects.order_by("id").values_list("entity_name", flat=True)
    assert list(names) == ["P", "Q"]
    # The same task again (a retry): nothing twice.
    write_logs.using(backend="db").enqueue(*queued.args_kwargs["args"])
    work()
    assert ActivityLog.objects.count() == 2
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == 2
