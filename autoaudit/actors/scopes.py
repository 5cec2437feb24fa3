"""Per-task state: the explicit actor, extra context and the off switch.

Everything lives in :class:`contextvars.ContextVar` objects, set and reset with
tokens, so it nests cleanly and is isolated between threads and asyncio tasks.
Each helper works as a context manager and as a decorator (sync or async).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import sync_to_async

from autoaudit.values.tags import clean_tags

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

F = TypeVar("F", bound=Callable[..., Any])

_EMPTY: Mapping[str, Any] = MappingProxyType({})

#: The ``context()`` key whose value is the rows' ``tags`` column, not extra data.
TAGS_KEY = "tags"


@dataclass(frozen=True)
class ExplicitActor:
    """An actor given with :func:`autoaudit.actor`; it beats the request's user."""

    user: AbstractBaseUser | AnonymousUser | None = None
    identifier: str | None = None
    name: str | None = None
    metadata: Mapping[str, Any] | None = None
    actor_type: str | None = None


_actor: ContextVar[ExplicitActor | None] = ContextVar("autoaudit_actor", default=None)
_extra: ContextVar[Mapping[str, Any]] = ContextVar("autoaudit_extra", default=_EMPTY)
_disabled: ContextVar[bool] = ContextVar("autoaudit_disabled", default=False)


def current_actor() -> ExplicitActor | None:
    """The innermost explicit actor, if any."""
    return _actor.get()


def current_extra() -> Mapping[str, Any]:
    """The merged ``context(**extra)`` values (inner keys override outer)."""
    return _extra.get()


def is_disabled() -> bool:
    """True inside ``autoaudit.disabled()``."""
    return _disabled.get()


_Entry = tuple["_ContextVarScope", Token[Any]]
# The scopes entered in this context, innermost last, with their tokens. It
# is context-local itself, so one scope object can be entered concurrently
# by several threads or tasks (a module-level ``disabled()``, a decorated
# function) and each exit resets its own token.
_entered: ContextVar[tuple[_Entry, ...]] = ContextVar("autoaudit_scopes", default=())


class _ContextVarScope:
    """Base for the three helpers: set a ContextVar on enter, reset on exit.

    Reusable and re-entrant, and usable as a decorator on both plain and
    ``async`` functions.
    """

    def _var(self) -> ContextVar[Any]:
        raise NotImplementedError

    def _value(self) -> Any:
        raise NotImplementedError

    def __enter__(self) -> None:
        token = self._var().set(self._value())
        _entered.set((*_entered.get(), (self, token)))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = _entered.get()
        for index in range(len(stack) - 1, -1, -1):
            if stack[index][0] is self:
                break
        else:
            raise RuntimeError(f"{type(self).__name__}() exited without being entered here.")
        self._var().reset(stack[index][1])
        _entered.set(stack[:index] + stack[index + 1 :])

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with self:
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class actor(_ContextVarScope):  # used like a function
    """Attribute everything inside to an explicit actor.

    With ``user`` it is a user actor; with only identifier/name/metadata a
    guest; with ``actor_type="system"`` a system actor.
    """

    def __init__(
        self,
        user: AbstractBaseUser | AnonymousUser | None = None,
        identifier: str | None = None,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        actor_type: str | None = None,
    ) -> None:
        from autoaudit.enums import ActorType

        if actor_type is not None and actor_type not in ActorType.values:
            choices = ", ".join(ActorType.values)
            raise ValueError(f"actor_type must be one of {choices}, not {actor_type!r}.")
        if metadata is not None and not isinstance(metadata, Mapping):
            kind = type(metadata).__name__
            raise TypeError(f"metadata must be a mapping, not {kind}.")
        if user is not None and not hasattr(user, "is_authenticated"):
            kind = type(user).__name__
            raise TypeError(f"user must be a user object, not {kind}.")
        frozen = MappingProxyType(dict(metadata)) if metadata is not None else None
        self.value = ExplicitActor(user, identifier, name, frozen, actor_type)

    def _var(self) -> ContextVar[Any]:
        return _actor

    def _value(self) -> ExplicitActor:
        return self.value


class context(_ContextVarScope):  # used like a function
    """Merge ``extra`` into the ``extra_data`` of every log written inside.

    ``tags`` (a list of strings) goes to the rows' ``tags`` column instead,
    after the model's tags; nested contexts add theirs to the outer ones'
    (in order, each once). A bad tag raises ``TypeError``/``ValueError`` here.
    """

    def __init__(self, **extra: Any) -> None:
        if TAGS_KEY in extra:
            extra[TAGS_KEY] = clean_tags(extra[TAGS_KEY], "autoaudit.context()")
        self.extra = extra

    def _var(self) -> ContextVar[Any]:
        return _extra

    def _value(self) -> Mapping[str, Any]:
        outer = _extra.get()
        merged = {**outer, **self.extra}
        if TAGS_KEY in self.extra and TAGS_KEY in outer:
            merged[TAGS_KEY] = tuple(dict.fromkeys((*outer[TAGS_KEY], *self.extra[TAGS_KEY])))
        return MappingProxyType(merged)


#: Called as an outermost ``disabled()`` is entered, before logging is off:
#: :mod:`autoaudit.tracking.selfaudit` logs the switch-off there.
_disable_listeners: list[Callable[[], Any]] = []


def on_disable(listener: Callable[[], Any]) -> None:
    """Call ``listener()`` each time logging is switched off by an outermost
    ``disabled()`` (not one nested in another). ``async with disabled()``
    and decorated ``async`` functions call it in a thread (``sync_to_async``),
    so it may use the database."""
    if listener not in _disable_listeners:
        _disable_listeners.append(listener)


class disabled(_ContextVarScope):  # used like a function
    """Log nothing inside (no queries, no rows).

    Entering it is itself logged, once per outermost block, unless
    ``AUTOAUDIT["LOG_DISABLED_BLOCKS"]`` is ``False`` (see docs/configuration.md).
    """

    def _var(self) -> ContextVar[Any]:
        return _disabled

    def _value(self) -> bool:
        return True

    def __enter__(self) -> None:
        if not _disabled.get():
            for listener in _disable_listeners:
                listener()
        super().__enter__()

    async def __aenter__(self) -> None:
        if not _disabled.get():
            for listener in _disable_listeners:
                await sync_to_async(listener)()
        super().__enter__()
