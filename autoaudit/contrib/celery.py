"""Celery support: the actor, context and request id follow every task.

Nothing to configure: when Celery is installed, ``AppConfig.ready()``
calls :func:`connect`, which hooks three Celery signals:

- ``before_task_publish`` puts :func:`autoaudit.actors.carry.capture` (the
  current actor as a user key plus the actor columns, the ``context()``
  extras and the request id) in the message's ``autoaudit`` header;
- ``task_prerun`` sets them in the worker for the task's duration, with
  ``extra_data["task"]`` = the task's name; a task published without the
  header runs as the system actor, and a task with no request id of its own
  groups its logs under the Celery task id;
- ``task_postrun`` resets them (context-variable tokens), also when the
  task failed, so nothing leaks into the next task the process runs.

Eager tasks (``task_always_eager``, ``Task.apply()``) are not published:
they run in the caller's context and keep its actor and request id.

A worker trusts its broker (see :mod:`autoaudit.actors.carry`): a forged
header can name any actor, as a forged message can run any task.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from celery import signals

from autoaudit.actors.carry import capture, task_scope

#: The message header that carries the description.
HEADER = "autoaudit"
#: The scopes entered at ``task_prerun``, by task id, until ``task_postrun``.
_open: dict[str, list[AbstractContextManager[None]]] = {}


def _publish(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is not None and HEADER not in headers:
        carried = capture()
        if carried is not None:
            headers[HEADER] = carried


def _prerun(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task is None or task_id is None:
        return
    request = getattr(task, "request", None)
    carried = getattr(request, HEADER, None)
    if carried is None:  # a protocol-1 message keeps custom headers apart
        carried = (getattr(request, "headers", None) or {}).get(HEADER)
    scope = task_scope(carried, str(task.name), request_id=task_id)
    scope.__enter__()
    _open.setdefault(task_id, []).append(scope)


def _postrun(task_id: str | None = None, **kwargs: Any) -> None:
    scopes = _open.get(task_id or "")
    if not scopes:
        return
    scope = scopes.pop()
    if not scopes:
        del _open[task_id or ""]
    scope.__exit__(None, None, None)


def connect() -> None:
    """Connect the three receivers (idempotent: stable ``dispatch_uid``)."""
    signals.before_task_publish.connect(_publish, dispatch_uid="autoaudit.publish", weak=False)
    signals.task_prerun.connect(_prerun, dispatch_uid="autoaudit.prerun", weak=False)
    signals.task_postrun.connect(_postrun, dispatch_uid="autoaudit.postrun", weak=False)


def disconnect() -> None:
    """Undo :func:`connect`."""
    signals.before_task_publish.disconnect(dispatch_uid="autoaudit.publish")
    signals.task_prerun.disconnect(dispatch_uid="autoaudit.prerun")
    signals.task_postrun.disconnect(dispatch_uid="autoaudit.postrun")
