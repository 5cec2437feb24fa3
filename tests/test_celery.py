"""Celery: the actor, context and request id follow a task into a real worker.

The worker is a real ``celery worker`` process (solo pool) started by the
``celery_worker`` fixture against the machine's Redis (127.0.0.1:6379, which
``.ci/run`` starts), on a queue of its own, with the test settings pointed at
the test database; the tests are transactional so it sees their rows. It
runs on SQLite (a file), PostgreSQL and MariaDB alike.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import RequestFactory

import autoaudit
from autoaudit.contrib import celery as autoaudit_celery
from autoaudit.middleware import AuditMiddleware
from autoaudit.models import ActivityLog
from tests.celery_app import app
from tests.celery_tasks import chain_retitle, fail_after_save, retitle_note
from tests.testapp.models import DecoratedNote
from tests.worker_support import Worker, worker_env

TASK = "tests.celery_tasks.retitle_note"
TIMEOUT = 60


def _user(username: str) -> Any:
    return get_user_model()._default_manager.create_user(
        username, f"{username}@example.com", "pw", first_name=username.title()
    )


def _note(title: str = "draft") -> DecoratedNote:
    with autoaudit.disabled():
        return DecoratedNote.objects.create(title=title)


def _update_log(note: DecoratedNote) -> ActivityLog:
    return ActivityLog.objects.for_instance(note).get(action="update")


# -- eager mode: the task runs in the caller's context ----------------------
@pytest.fixture
def eager() -> Iterator[None]:
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_an_eager_task_keeps_the_callers_actor_and_names_the_task() -> None:
    alice, note = _user("alice"), _note()
    with (
        autoaudit.actor(user=alice),
        autoaudit.context(source="import", request_id="req-eager"),
    ):
        result = retitle_note.delay(note.pk, "eager")
    assert result.get() == {"request_id": "req-eager"}
    log = _update_log(note)
    assert (log.user, log.actor_type, log.request_id) == (alice, "user", "req-eager")
    assert log.extra_data == {"source": "import", "task": TASK}


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_an_eager_task_outside_any_scope_is_the_system_with_the_task_id() -> None:
    note = _note()
    result = retitle_note.delay(note.pk, "eager")
    log = _update_log(note)
    assert log.actor_type == "system"
    assert log.request_id == result.id
    assert log.extra_data == {"task": TASK}


def test_publishing_puts_the_description_in_the_headers() -> None:
    headers: dict[str, Any] = {}
    with autoaudit.actor(identifier="g@example.com", name="Gina"), autoaudit.context(k="v"):
        autoaudit_celery._publish(headers=headers)
    carried = headers["autoaudit"]
    assert carried["actor"]["type"] == "guest"
    assert carried["actor"]["identifier"] == "g@example.com"
    assert carried["extra"] == {"k": "v"}
    forged = {"autoaudit": {"v": 1}}
    autoaudit_celery._publish(headers=forged)  # a header already there stays
    assert forged == {"autoaudit": {"v": 1}}


def test_connect_is_idempotent() -> None:
    from celery import signals

    before = len(signals.task_prerun.receivers)
    autoaudit_celery.connect()
    assert len(signals.task_prerun.receivers) == before
    autoaudit_celery.disconnect()
    assert len(signals.task_prerun.receivers) == before - 1
    autoaudit_celery.connect()
    assert len(signals.task_prerun.receivers) == before


# -- a real worker ------------------------------------------------------------
@pytest.fixture(scope="module")
def celery_worker(django_db_setup: None, django_db_blocker: Any) -> Iterator[Worker]:
    """A ``celery worker`` process on a queue of its own, stopped afterwards."""
    queue = f"autoaudit-tests-{uuid.uuid4().hex[:12]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    with django_db_blocker.unblock():
        env = worker_env(AUTOAUDIT_TEST_CELERY_QUEUE=queue)
    worker = Worker(
        [
            "-m",
            "celery",
            "-A",
            "tests.celery_app",
            "worker",
            "--pool=solo",
            "--queues",
            queue,
            "--hostname",
            f"{queue}@%h",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        ready_text=" ready.",
        env=env,
    )
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        app.conf.task_default_queue = previous


pytestmark_worker = pytest.mark.django_db(transaction=True)


@pytestmark_worker
def test_the_worker_acts_as_the_actor_with_the_context_and_request_id(
    celery_worker: Worker,
) -> None:
    alice, note = _user("alice"), _note()
    with (
        autoaudit.actor(user=alice),
        autoaudit.context(source="import", request_id="req-42"),
    ):
        result = retitle_note.delay(note.pk, "renamed")
    assert result.get(timeout=TIMEOUT) == {"request_id": "req-42"}, celery_worker.output()
    log = _update_log(note)
    assert (log.user_id, log.actor_type, log.actor_identifier, log.actor_name) == (
        alice.pk,
        "user",
        "alice@example.com",
        "Alice",
    )
    assert log.request_id == "req-42"
    assert log.extra_data == {"source": "import", "task": TASK}
    assert log.new_values == {"title": "renamed"}


@pytestmark_worker
def test_a_task_enqueued_in_a_request_is_part_of_that_request(celery_worker: Worker) -> None:
    bob, note = _user("bob"), _note()
    results: list[Any] = []

    def view(request: HttpRequest) -> HttpResponse:
        results.append(retitle_note.delay(note.pk, "from a view"))
        return JsonResponse({})

    request = RequestFactory().post("/")
    request.user = bob
    response = AuditMiddleware(view)(request)
    results[0].get(timeout=TIMEOUT)
    log = _update_log(note)
    assert (log.user_id, log.actor_type) == (bob.pk, "user")
    assert log.request_id == response["X-Request-ID"]
    assert log.ip_address is None  # the task is not the request
    assert list(ActivityLog.objects.for_request(response["X-Request-ID"])) == [log]


@pytestmark_worker
def test_a_guest_and_a_task_with_no_actor(celery_worker: Worker) -> None:
    note, other = _note(), _note("other")
    with autoaudit.actor(identifier="g@example.com", name="Gina", metadata={"source": "kiosk"}):
        retitle_note.delay(note.pk, "by a guest").get(timeout=TIMEOUT)
    guest = _update_log(note)
    assert (guest.actor_type, guest.actor_identifier, guest.actor_name) == (
        "guest",
        "g@example.com",
        "Gina",
    )
    assert guest.user is None
    result = retitle_note.delay(other.pk, "by nobody")
    result.get(timeout=TIMEOUT)
    system = _update_log(other)
    assert (system.actor_type, system.user, system.actor_identifier) == ("system", None, None)
    assert system.request_id == result.id  # its own logs, grouped by the task id
    assert system.extra_data == {"task": TASK}


@pytestmark_worker
def test_nothing_leaks_into_the_next_task_after_a_failure(celery_worker: Worker) -> None:
    alice, note, other = _user("alice"), _note(), _note("other")
    with autoaudit.actor(user=alice), autoaudit.context(request_id="req-fail"):
        failing = fail_after_save.delay(note.pk)
    with pytest.raises(RuntimeError):
        failing.get(timeout=TIMEOUT, propagate=True)
    failed = _update_log(note)
    assert (failed.user_id, failed.request_id) == (alice.pk, "req-fail")
    retitle_note.delay(other.pk, "next").get(timeout=TIMEOUT)  # the same process
    assert _update_log(other).actor_type == "system"


@pytestmark_worker
def test_a_task_enqueued_by_a_task_carries_the_actor_again(celery_worker: Worker) -> None:
    alice, note = _user("alice"), _note()
    with autoaudit.actor(user=alice), autoaudit.context(request_id="req-chain"):
        chain_retitle.delay(note.pk, "chained").get(timeout=TIMEOUT)
    for _ in range(TIMEOUT * 10):
        if ActivityLog.objects.for_instance(note).filter(action="update").exists():
            break
        time.sleep(0.1)
    log = _update_log(note)
    assert (log.user_id, log.request_id) == (alice.pk, "req-chain")
    assert log.extra_data == {"task": TASK}


@pytestmark_worker
def test_a_forged_or_malformed_header_runs_as_the_system(celery_worker: Worker) -> None:
    alice = _user("alice")
    notes = [_note(f"n{i}") for i in range(4)]
    forged: list[Any] = [
        {"v": 1, "actor": {"type": "root", "user": alice.pk}},
        {"v": 1, "actor": {"type": "user", "user": alice.pk}, "request_id": "bad id!"},
        "not a mapping",
        {"v": 1, "actor": {"type": "user", "user": "x" * 300}},
    ]
    for note, header in zip(notes, forged, strict=True):
        retitle_note.apply_async((note.pk, "forged"), headers={"autoaudit": header}).get(
            timeout=TIMEOUT
        )
    for note in notes:
        log = _update_log(note)
        assert (log.actor_type, log.user_id) == ("system", None), log.extra_data
        assert log.extra_data == {"task": TASK}
    assert "ignored the actor carried into task" in celery_worker.output()


@pytestmark_worker
def test_a_user_deleted_before_the_task_runs_is_named_not_linked(celery_worker: Worker) -> None:
    carol, note = _user("carol"), _note()
    headers: dict[str, Any] = {}
    with autoaudit.actor(user=carol):
        autoaudit_celery._publish(headers=headers)
    with autoaudit.disabled():
        carol.delete()
    retitle_note.apply_async((note.pk, "late"), headers=headers).get(timeout=TIMEOUT)
    log = _update_log(note)
    assert (log.actor_type, log.user_id) == ("user", None)
    assert (log.actor_identifier, log.actor_name) == ("carol@example.com", "Carol")
