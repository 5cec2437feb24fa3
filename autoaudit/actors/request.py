"""The current request: django-crum behind one small adapter.

django-crum keeps the request in a ``threading.local``. Under ASGI many
requests share the event loop's thread, so a thread-local would hand one
request's user to another. On import this module therefore swaps crum's
storage for :class:`ContextLocal` (the patch is made, once, by
``autoaudit.tracking.patches.install_crum_storage()`` from ``AppConfig.ready()``),
whose attributes live in a
:class:`~contextvars.ContextVar`: every asyncio task (each ASGI request) gets
its own values, and asgiref copies them into ``sync_to_async`` threads and
back. In plain threads (WSGI) a ContextVar behaves like a thread-local, so
nothing changes there. The swap is done once and is idempotent.

autoaudit itself reads its own ContextVar first (set by ``AuditMiddleware`` or
a ``request=`` argument) and falls back to crum, so projects that set crum
themselves (``crum.CurrentRequestUserMiddleware``, ``crum.impersonate``) are
attributed too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

import crum
from django.http import HttpRequest

_request: ContextVar[Any] = ContextVar("autoaudit_request", default=None)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class ContextLocal:
    """A drop-in for ``threading.local`` whose attributes are context-local.

    The attributes are kept in an immutable mapping inside one ContextVar;
    every assignment stores a new mapping, so a change made in one task or
    thread is never seen by another (copy on write).
    """

    __slots__ = ("_state",)
    _state: ContextVar[Mapping[str, Any]]

    def __init__(self, name: str = "autoaudit_context_local") -> None:
        object.__setattr__(self, "_state", ContextVar(name, default=_EMPTY))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._state.get()[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._state.set(MappingProxyType({**self._state.get(), name: value}))

    def __delattr__(self, name: str) -> None:
        state = dict(self._state.get())
        if name not in state:
            raise AttributeError(name)
        del state[name]
        self._state.set(MappingProxyType(state))

    def snapshot(self) -> Mapping[str, Any]:
        """Every attribute at once (to put back with :meth:`restore`)."""
        return self._state.get()

    def restore(self, state: Mapping[str, Any]) -> None:
        self._state.set(state)


def as_request(obj: Any) -> HttpRequest | None:
    """``obj`` as a Django request, or ``None`` if it is not one.

    Wrappers that carry the Django request as ``_request`` (Django REST
    framework's ``Request``) are unwrapped; other objects are ignored rather
    than trusted, so a stray value cannot become the "current request".
    """
    if isinstance(obj, HttpRequest):
        return obj
    inner = getattr(obj, "_request", None) if obj is not None else None
    return inner if isinstance(inner, HttpRequest) else None


def current_request() -> HttpRequest | None:
    """The request being served in this task or thread, or ``None``."""
    request = _request.get()
    if request is not None:
        return as_request(request)
    return as_request(crum.get_current_request())


@contextmanager
def using_request(request: Any) -> Iterator[None]:
    """Make ``request`` current for autoaudit only, inside the block.

    ``None`` (or something that is not a request) leaves the current
    request, if any, in place.
    """
    resolved = as_request(request)
    if resolved is None:
        yield
        return
    token = _request.set(resolved)
    try:
        yield
    finally:
        _request.reset(token)


@contextmanager
def request_scope(request: HttpRequest) -> Iterator[None]:
    """Make ``request`` current for autoaudit and django-crum, then restore.

    Whatever crum held before (request and impersonated user) is put back on
    exit, also when the block raises, so nothing leaks to the next request
    served by the same thread.
    """
    token = _request.set(request)
    storage = crum._thread_locals
    saved = storage.snapshot() if isinstance(storage, ContextLocal) else None
    previous = crum.get_current_request()
    crum.set_current_request(request)
    try:
        yield
    finally:
        if saved is not None and isinstance(storage, ContextLocal):
            storage.restore(saved)
        else:  # someone replaced crum's storage after us: use its API
            crum.set_current_request(previous)
        _request.reset(token)
