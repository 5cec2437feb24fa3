"""Carry who is acting into a background task, and act as them there.

At enqueue time :func:`capture` describes the current actor, the
``context()`` extras and the request id as plain JSON (a user by primary
key plus the actor columns, never a model instance), so it travels in a
Celery header or a Django task's keyword arguments. In the worker,
:func:`task_scope` validates that description, looks the user up again and
sets :func:`~autoaudit.actor`, :func:`~autoaudit.context` and the request
id for the task's duration, with ``extra_data["task"]`` naming the task.

A worker trusts its broker: whoever can put messages on the queue can run
any task with any arguments, so a forged description can only do what a
forged task can already do. It is still checked strictly: a malformed one
(wrong types, an unknown actor type, an invalid request id, oversized
values) is ignored with a warning on the ``"autoaudit"`` logger, and the
task runs as the system actor; it never makes the task fail.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError

from autoaudit.actors.resolve import resolve_actor
from autoaudit.actors.scopes import (
    actor,
    context,
    current_extra,
    current_request_id,
    is_valid_request_id,
)
from autoaudit.enums import ActorType
from autoaudit.values.serialization import to_json

logger = logging.getLogger("autoaudit")

#: The version of the carried description (a newer worker may read older ones).
VERSION = 1
#: The key of ``extra_data`` that names the task.
TASK_KEY = "task"
#: Bounds of what a worker accepts (a description is small: one actor).
_MAX_TEXT = 255
_MAX_CARRIED = 64 * 1024


def capture() -> dict[str, Any] | None:
    """The current actor, ``context()`` extras and request id, as JSON.

    The actor is resolved now (the request's user, an explicit
    ``actor()``, a guest or the system), so a task enqueued in a request
    acts as that request's actor even though the worker has no request.
    The IP address, user agent and a guest's session id are not carried
    (the task is not the request). Never raises: if the actor cannot be resolved, the error is
    logged on the ``"autoaudit"`` logger and ``None`` is returned (the task
    is still enqueued, and runs as the system actor).
    """
    try:
        resolved = resolve_actor()
        user = resolved.get("user")
        # A guest's session id is the request's, like the IP address (and it
        # stays in actor_identifier when it identifies the guest).
        metadata = {
            key: value
            for key, value in (resolved.get("actor_metadata") or {}).items()
            if key != "session_id"
        }
        return {
            "v": VERSION,
            "actor": {
                "type": str(resolved["actor_type"]),
                "user": to_json(user.pk, _MAX_TEXT) if user is not None else None,
                "identifier": resolved.get("actor_identifier"),
                "name": resolved.get("actor_name"),
                "metadata": to_json(dict(metadata), 10_000) if metadata else None,
            },
            "extra": to_json(dict(current_extra()), 10_000),
            "request_id": current_request_id(),
        }
    except Exception:
        logger.exception("autoaudit: could not describe the actor of a task being enqueued.")
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise ValueError("a text field is not a short string")
    return value


def _user(pk: Any) -> Any:
    """The user with primary key ``pk`` now, or ``None`` if it was deleted
    since; ``ValueError`` for a key that does not fit the user model."""
    if isinstance(pk, bool) or not isinstance(pk, int | str) or len(str(pk)) > _MAX_TEXT:
        raise ValueError("the user key is not a short int or string")
    model = get_user_model()
    try:
        key = model._meta.pk.to_python(pk)
    except (ValidationError, ValueError, TypeError):
        raise ValueError("the user key does not fit the user model") from None
    return model._default_manager.filter(pk=key).first()


def _actor_scope(described: Any) -> actor:
    """The ``actor()`` a carried actor description stands for."""
    if not isinstance(described, Mapping):
        raise ValueError("the actor is not a mapping")
    kind = described.get("type")
    if kind not in ActorType.values:
        raise ValueError(f"unknown actor type {kind!r}")
    identifier, name = _text(described.get("identifier")), _text(described.get("name"))
    metadata = described.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise ValueError("the actor metadata is not a mapping")
    if kind == ActorType.USER and described.get("user") is not None:
        user = _user(described["user"])
        if user is not None:
            # The columns as they were at enqueue time (an explicit actor()
            # may have named the user differently).
            return actor(user=user, identifier=identifier, name=name, metadata=metadata)
    # A user deleted since (known by name), a guest, or the system.
    return actor(identifier=identifier, name=name, metadata=metadata, actor_type=kind)


def _scopes(carried: Any) -> tuple[actor, dict[str, Any], str | None]:
    if not isinstance(carried, Mapping) or carried.get("v") != VERSION:
        raise ValueError("not a version-1 description")
    if len(repr(carried)) > _MAX_CARRIED:
        raise ValueError("too large")
    extra = carried.get("extra") or {}
    if not isinstance(extra, Mapping) or not all(isinstance(key, str) for key in extra):
        raise ValueError("the extras are not a mapping with string keys")
    request_id = carried.get("request_id")
    if request_id is not None and not is_valid_request_id(request_id):
        raise ValueError("the request id is not valid")
    return _actor_scope(carried.get("actor")), dict(extra), request_id


def task_scopes(
    carried: Any, task_name: str, request_id: str | None = None
) -> list[AbstractContextManager[None]]:
    """The scopes :func:`task_scope` enters, made ready (the user looked up:
    async code calls this through ``sync_to_async`` and enters them itself)."""
    scopes: list[AbstractContextManager[None]] = []
    extra: dict[str, Any] = {}
    carried_id = None
    if carried is not None:
        try:
            scope, extra, carried_id = _scopes(carried)
        except (ValueError, DatabaseError) as error:  # malformed, or the user lookup failed
            logger.warning(
                "autoaudit: ignored the actor carried into task %s (%s); "
                "it runs as the system actor.",
                task_name,
                error,
            )
            scope = actor(actor_type=ActorType.SYSTEM)
        scopes.append(scope)
    final_id = carried_id or current_request_id() or request_id
    if final_id is not None and not is_valid_request_id(final_id):
        final_id = None
    scopes.append(context(request_id=final_id, **{**extra, TASK_KEY: task_name}))
    return scopes


@contextmanager
def entered(scopes: list[AbstractContextManager[None]]) -> Iterator[None]:
    """Enter ``scopes`` in order, exit them in reverse."""
    with ExitStack() as stack:
        for scope in scopes:
            stack.enter_context(scope)
        yield


@contextmanager
def task_scope(carried: Any, task_name: str, request_id: str | None = None) -> Iterator[None]:
    """Act, inside, as ``carried`` (a :func:`capture` description) says.

    Every log written inside has ``extra_data["task"] = task_name`` and a
    request id: the carried one (the enqueuing request's), else the one
    current here, else ``request_id`` (e.g. the task's id). With nothing
    carried (``None``, a task run in the caller's process without being
    enqueued, or published by something else), the actor current here is
    kept: in a worker that is the system actor.
    """
    with entered(task_scopes(carried, task_name, request_id)):
        yield
