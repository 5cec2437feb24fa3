"""Django tasks the task tests run (tests/test_tasks.py), on the immediate
backend and on the database backend's worker."""

from __future__ import annotations

from typing import Any

import autoaudit
from autoaudit.actors.scopes import current_request_id
from tests.testapp.models import DecoratedNote

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the django-tasks backport
    from django_tasks import task  # type: ignore[no-redef,unused-ignore]


def _retitle(pk: int, title: str) -> dict[str, Any]:
    note = DecoratedNote.objects.get(pk=pk)
    note.title = title
    note.save()
    return {"request_id": current_request_id()}


@autoaudit.tracked_task
@task()
def retitle_note(pk: int, title: str) -> dict[str, Any]:
    """Renames a note (an update log, written as the enqueuing actor)."""
    return _retitle(pk, title)


@autoaudit.tracked_task
@task()
async def aretitle_note(pk: int, title: str) -> dict[str, Any]:
    """The async flavour (the immediate backend runs it to completion)."""
    from asgiref.sync import sync_to_async

    return await sync_to_async(_retitle)(pk, title)


@autoaudit.tracked_task
@task(takes_context=True)
def retitle_with_context(context: Any, pk: int, title: str) -> int:
    """A task that takes Django's task context first."""
    _retitle(pk, title)
    return int(context.attempt)


@autoaudit.tracked_task
@task(backend="db")
def db_retitle_note(pk: int, title: str) -> dict[str, Any]:
    """The same, on the database backend, run by ``db_worker``."""
    return _retitle(pk, title)
