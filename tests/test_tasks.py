"""``@autoaudit.tracked_task``: Django tasks run as the actor who enqueued them.

On the immediate backend (in process) and on the django-tasks-db database
backend, whose real ``db_worker`` process the ``db_worker`` fixture starts
(``python -m django db_worker``, the test settings pointed at the test
database; the tests are transactional so it sees their rows) and stops.
Django 6.0+ runs ``django.tasks``; Django 5.2 the django-tasks backport.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

import autoaudit
from autoaudit.actors.tasks import CARRY_KWARG
from autoaudit.middleware import AuditMiddleware
from autoaudit.models import ActivityLog
from tests.asgi_support import run_async
from tests.testapp import tasks
from tests.testapp.models import DecoratedNote
from tests.worker_support import Worker, worker_env

TIMEOUT = 60


def _user(username: str) -> Any:
    return get_user_model()._default_manager.create_user(username, f"{username}@example.com", "pw")


def _note(title: str = "draft") -> DecoratedNote:
    with autoaudit.disabled():
        return DecoratedNote.objects.create(title=title)


def _update_log(note: DecoratedNote) -> ActivityLog:
    return ActivityLog.objects.for_instance(note).get(action="update")


# -- the immediate backend --------------------------------------------------------
@pytest.mark.django_db
def test_the_task_runs_as_the_enqueuing_actor_with_its_context() -> None:
    alice, note = _user("alice"), _note()
    with autoaudit.actor(user=alice), autoaudit.context(source="cli", request_id="req-7"):
        result = tasks.retitle_note.enqueue(note.pk, "renamed")
    assert result.return_value == {"request_id": "req-7"}
    log = _update_log(note)
    assert (log.user, log.actor_type, log.request_id) == (alice, "user", "req-7")
    assert log.extra_data == {"source": "cli", "task": "tests.testapp.tasks.retitle_note"}


@pytest.mark.django_db
def test_a_task_enqueued_with_no_actor_runs_as_the_system_under_a_new_id() -> None:
    note = _note()
    result = tasks.retitle_note.enqueue(note.pk, "renamed")
    log = _update_log(note)
    assert (log.actor_type, log.user) == ("system", None)
    assert log.request_id and log.request_id == result.return_value["request_id"]


@pytest.mark.django_db
def test_the_arguments_reach_the_function_without_the_description() -> None:
    note = _note()
    result = tasks.retitle_note.enqueue(pk=note.pk, title="by keyword")
    assert CARRY_KWARG in result.kwargs  # stored with the task, as JSON
    assert result.kwargs["pk"] == note.pk
    note.refresh_from_db()
    assert note.title == "by keyword"


@pytest.mark.django_db
def test_using_keeps_the_tracking_and_context_tasks_work() -> None:
    alice, note = _user("alice"), _note()
    with autoaudit.actor(user=alice):
        tasks.retitle_note.using(priority=5).enqueue(note.pk, "prioritised")
        attempt = tasks.retitle_with_context.enqueue(note.pk, "with context").return_value
    assert attempt == 1
    logs = ActivityLog.objects.for_instance(note).filter(action="update")
    assert [log.user for log in logs] == [alice, alice]


@pytest.mark.django_db(transaction=True)
def test_an_async_task_enqueued_from_async_code() -> None:
    alice, note = _user("alice"), _note()

    async def enqueue() -> Any:
        with autoaudit.actor(user=alice), autoaudit.context(request_id="req-async"):
            return await tasks.aretitle_note.aenqueue(note.pk, "async")

    result = run_async(enqueue())
    assert result.return_value == {"request_id": "req-async"}
    log = _update_log(note)
    assert (log.user_id, log.request_id) == (alice.pk, "req-async")
    assert log.extra_data == {"task": "tests.testapp.tasks.aretitle_note"}


@pytest.mark.django_db
def test_call_runs_in_the_callers_scope() -> None:
    alice, note = _user("alice"), _note()
    with autoaudit.actor(user=alice):
        tasks.retitle_note.call(note.pk, "called")
    assert _update_log(note).user == alice


@pytest.mark.django_db
def test_a_malformed_description_runs_as_the_system(caplog: pytest.LogCaptureFixture) -> None:
    alice, note = _user("alice"), _note()
    base: Any = type(tasks.retitle_note).__mro__[1]  # the backend's own class: no capture
    with autoaudit.actor(user=alice):
        base.enqueue(
            tasks.retitle_note, note.pk, "forged", **{CARRY_KWARG: {"v": 1, "actor": "me"}}
        )
    log = _update_log(note)
    assert (log.actor_type, log.user) == ("system", None)
    assert "ignored the actor carried into task tests.testapp.tasks.retitle_note" in caplog.text


def test_tracked_task_needs_a_task() -> None:
    with pytest.raises(TypeError, match="on top of @task"):
        autoaudit.tracked_task(lambda: None)
    assert autoaudit.tracked_task(tasks.retitle_note) is tasks.retitle_note


# -- a real db_worker process ------------------------------------------------------
@pytest.fixture(scope="module")
def db_worker(django_db_setup: None, django_db_blocker: Any) -> Iterator[Worker]:
    """django-tasks-db's ``db_worker`` on the "db" backend, stopped afterwards."""
    with django_db_blocker.unblock():
        env = worker_env()
    worker = Worker(
        [
            "-m",
            "django",
            "db_worker",
            "--backend",
            "db",
            "--queue-name",
            "default",
            "--interval",
            "0.1",
            "--no-startup-delay",
            "--verbosity",
            "1",
        ],
        ready_text="Starting worker",
        env=env,
    )
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def _wait(result: Any, worker: Worker) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        result.refresh()
        if result.is_finished:
            return result
        time.sleep(0.1)
    raise AssertionError(f"The task did not finish:\n{worker.output()}")


@pytest.mark.django_db(transaction=True)
def test_the_db_worker_acts_as_the_enqueuing_actor(db_worker: Worker) -> None:
    alice, note = _user("alice"), _note()
    with autoaudit.actor(user=alice), autoaudit.context(source="api", request_id="req-db"):
        result = tasks.db_retitle_note.enqueue(note.pk, "from the worker")
    assert _wait(result, db_worker).return_value == {"request_id": "req-db"}, db_worker.output()
    log = _update_log(note)
    assert (log.user_id, log.actor_type, log.request_id) == (alice.pk, "user", "req-db")
    assert log.extra_data == {"source": "api", "task": "tests.testapp.tasks.db_retitle_note"}


@pytest.mark.django_db(transaction=True)
def test_a_db_task_enqueued_in_a_request_and_one_with_no_actor(db_worker: Worker) -> None:
    bob, note, other = _user("bob"), _note(), _note("other")
    results: list[Any] = []

    def view(request: HttpRequest) -> HttpResponse:
        results.append(tasks.db_retitle_note.enqueue(note.pk, "from a view"))
        return HttpResponse()

    request = RequestFactory().post("/")
    request.user = bob
    response = AuditMiddleware(view)(request)
    unattributed = tasks.db_retitle_note.enqueue(other.pk, "by nobody")
    _wait(results[0], db_worker)
    _wait(unattributed, db_worker)
    log = _update_log(note)
    assert (log.user_id, log.request_id) == (bob.pk, response["X-Request-ID"])
    system = _update_log(other)
    assert (system.actor_type, system.user_id) == ("system", None)
    assert system.request_id not in (None, response["X-Request-ID"])


@pytest.mark.django_db
def test_a_task_is_enqueued_even_if_the_actor_cannot_be_described(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("resolver down")

    monkeypatch.setattr("autoaudit.actors.carry.resolve_actor", broken)
    note = _note()
    tasks.retitle_note.enqueue(note.pk, "still runs")
    assert _update_log(note).actor_type == "system"
    assert "could not describe the actor" in caplog.text


@pytest.mark.django_db
def test_a_guest_is_carried_without_what_belongs_to_the_request() -> None:
    from django.contrib.sessions.backends.db import SessionStore

    from autoaudit.actors.carry import capture
    from autoaudit.actors.request import using_request

    request = RequestFactory().post("/", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64)")
    request.session = SessionStore()
    request.session.create()
    with using_request(request):
        carried = capture()
    assert carried is not None
    described = carried["actor"]
    assert described["type"] == "guest"
    assert described["identifier"].startswith("sess_")  # it identifies the guest
    assert "session_id" not in (described["metadata"] or {})
    assert "ip_address" not in described and "user_agent" not in described


@pytest.mark.django_db
def test_an_explicit_actors_naming_of_a_user_is_kept() -> None:
    alice, note = _user("alice"), _note()
    with autoaudit.actor(user=alice, name="Alice (support)", metadata={"ticket": 7}):
        tasks.retitle_note.enqueue(note.pk, "on behalf")
    log = _update_log(note)
    assert (log.user, log.actor_name, log.actor_metadata) == (
        alice,
        "Alice (support)",
        {"ticket": 7},
    )
