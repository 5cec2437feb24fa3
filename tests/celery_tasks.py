"""Celery tasks of tests/test_celery.py: each changes a registered model."""

from __future__ import annotations

from typing import Any

from autoaudit.actors.scopes import current_request_id
from tests.celery_app import app
from tests.testapp.models import DecoratedNote


@app.task(name="tests.celery_tasks.retitle_note")
def retitle_note(pk: int, title: str) -> dict[str, Any]:
    note = DecoratedNote.objects.get(pk=pk)
    note.title = title
    note.save()
    return {"request_id": current_request_id()}


@app.task(name="tests.celery_tasks.fail_after_save", bind=True)
def fail_after_save(self: Any, pk: int) -> None:
    DecoratedNote.objects.filter(pk=pk).update(title="failed")
    raise RuntimeError("boom")


@app.task(name="tests.celery_tasks.chain_retitle")
def chain_retitle(pk: int, title: str) -> str:
    """Enqueues another task from inside a task: the actor follows again."""
    retitle_note.delay(pk, title)
    return title
