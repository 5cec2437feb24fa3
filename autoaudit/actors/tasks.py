"""``@autoaudit.tracked_task``: the actor follows a Django task into its worker.

Django's tasks framework (``django.tasks``, Django 6.0+; the ``django-tasks``
backport on 5.2) has no hook around enqueueing and running a task, so the
decorator goes on top of ``@task``::

    @autoaudit.tracked_task
    @task()
    def recalculate(order_id: int) -> None: ...

    recalculate.enqueue(order.pk)  # in a view: the worker acts as its user

It returns the same task, of a subclass of its class whose ``enqueue()`` /
``aenqueue()`` add the :func:`~autoaudit.actors.carry.capture` description
as one more keyword argument (JSON, as every task argument must be), and
whose function takes it out again and runs inside
:func:`~autoaudit.actors.carry.task_scope`. Any backend works (the
immediate one, a database worker, ...), ``using()`` keeps the tracking, and
the function's signature and ``call()`` are unchanged. A task enqueued with
no request id gets a new one at enqueue time, shared by its retries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

from autoaudit.actors.carry import capture, entered, task_scope, task_scopes
from autoaudit.actors.requestid import new_request_id

T = TypeVar("T")


def _task_classes() -> tuple[type[Any], ...]:
    """The task classes installed: ``django.tasks``' (Django 6.0+) and the
    ``django-tasks`` backport's (Django 5.2, or beside Django 6)."""
    classes: list[type[Any]] = []
    for module in ("django.tasks.base", "django_tasks.base"):
        with contextlib.suppress(ImportError):
            classes.append(importlib.import_module(module).Task)
    return tuple(classes)


#: The keyword argument that carries the description to the worker.
CARRY_KWARG = "autoaudit_scope"
_classes: dict[type[Any], type[Any]] = {}


def _carried() -> dict[str, Any] | None:
    carried = capture()
    if carried is not None and carried["request_id"] is None:
        carried["request_id"] = new_request_id()
    return carried


def _tracked_class(base: type[Any]) -> type[Any]:
    """The subclass of the task class ``base`` whose enqueue carries the actor."""
    if base in _classes:
        return _classes[base]

    def enqueue(self: Any, *args: Any, **kwargs: Any) -> Any:
        return base.enqueue(self, *args, **{**kwargs, CARRY_KWARG: _carried()})

    async def aenqueue(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Resolving the actor may load the request's user: not in the event loop.
        carried = await sync_to_async(_carried)()
        return await base.aenqueue(self, *args, **{**kwargs, CARRY_KWARG: carried})

    name = f"Tracked{base.__name__}"
    # Module-level and named, so a backend that pickles tasks finds it.
    tracked = type(
        name,
        (base,),
        {
            "__slots__": (),
            "__module__": __name__,
            "__qualname__": name,
            "enqueue": enqueue,
            "aenqueue": aenqueue,
        },
    )
    globals()[name] = tracked
    _classes[base] = tracked
    return tracked


def _runner(func: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``func`` run as the carried actor (the description taken out of its kwargs)."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def arun(*args: Any, **kwargs: Any) -> Any:
            # The user is looked up in a thread; the scopes are entered here.
            scopes = await sync_to_async(task_scopes)(kwargs.pop(CARRY_KWARG, None), name)
            with entered(scopes):
                return await func(*args, **kwargs)

        return arun

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        with task_scope(kwargs.pop(CARRY_KWARG, None), name):
            return func(*args, **kwargs)

    return run


def tracked_task(task: T) -> T:
    """Carry the current actor, ``context()`` and request id into ``task``.

    Put it on top of ``@task`` (a ``django.tasks.Task``). In the worker the
    task's logs are written as the enqueuing actor (a task enqueued with no
    actor runs as ``system``), with the enqueuing request's id and
    ``extra_data["task"]`` = the task's dotted path. Raises ``TypeError``
    for anything but a task, and ``ImproperlyConfigured`` if no tasks
    framework is installed.
    """
    classes = _task_classes()
    if not classes:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "autoaudit.tracked_task needs Django's tasks framework: Django 6.0 or "
            "newer, or the django-tasks package on Django 5.2."
        )
    if not isinstance(task, classes):
        raise TypeError(
            f"@autoaudit.tracked_task goes on top of @task, on a Task, not on "
            f"{type(task).__name__}."
        )
    if type(task) in _classes.values():
        return task  # tracked already
    values = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)}
    values["func"] = _runner(task.func, task.module_path)
    return _tracked_class(type(task))(**values)  # type: ignore[no-any-return]
