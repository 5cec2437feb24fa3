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

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

F = TypeVar("F", bound=Callable[..., Any])

_EMPTY: Mapping[str, Any] = MappingProxyType({})


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


class _ContextVarScope:
    """Base for the three helpers: set a ContextVar on enter, reset on exit.

    Reusable (each ``with`` gets its own token) and usable as a decorator on
    both plain and ``async`` functions.
    """

    def _var(self) -> ContextVar[Any]:
        raise NotImplementedError

    def _value(self) -> Any:
        raise NotImplementedError

    def __init__(self) -> None:
        self._tokens: list[Token[Any]] = []

    def __enter__(self) -> None:
        self._tokens.append(self._var().set(self._value()))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._var().reset(self._tokens.pop())

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
                with self._fresh():
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _fresh(self) -> _ContextVarScope:
        # A decorated function may run concurrently in several tasks; each
        # call gets its own scope object so tokens never cross.
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._tokens = []
        return clone


class actor(_ContextVarScope):  # noqa: N801 - used like a function
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
        super().__init__()
        from autoaudit.enums import ActorType

        if actor_type is not None and actor_type not in ActorType.values:
            raise ValueError(
                f"actor_type must be one of {', '.join(ActorType.values)}, not {actor_type!r}."
            )
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a mapping, not {type(metadata).__name__}.")
        self.value = ExplicitActor(user, identifier, name, metadata, actor_type)

    def _var(self) -> ContextVar[Any]:
        return _actor

    def _value(self) -> ExplicitActor:
        return self.value


class context(_ContextVarScope):  # noqa: N801 - used like a function
    """Merge ``extra`` into the ``extra_data`` of every log written inside."""

    def __init__(self, **extra: Any) -> None:
        super().__init__()
        self.extra = extra

    def _var(self) -> ContextVar[Any]:
        return _extra

    def _value(self) -> Mapping[str, Any]:
        return MappingProxyType({**_extra.get(), **self.extra})


class disabled(_ContextVarScope):  # noqa: N801 - used like a function
    """Log nothing inside (no queries, no rows)."""

    def _var(self) -> ContextVar[Any]:
        return _disabled

    def _value(self) -> bool:
        return True
