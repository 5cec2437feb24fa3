"""Per-task state: the explicit actor, extra context and the off switch.

Everything lives in :class:`contextvars.ContextVar` objects, set and reset with
tokens, so it nests cleanly and is isolated between threads and asyncio tasks.
Each helper works as a context manager and as a decorator (sync or async).
"""

from __future__ import annotations

import functools
import inspect
import re
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
_request_id: ContextVar[str | None] = ContextVar("autoaudit_request_id", default=None)

#: The longest request id (the ``request_id`` column's size).
MAX_REQUEST_ID_LENGTH = 64
#: What a request id may hold: letters, digits and ``. _ : + = / @ -`` (a
#: UUID, a ULID, a proxy's trace id), so it is safe in a URL, a header and a log.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+=/@-]+")


def current_actor() -> ExplicitActor | None:
    """The innermost explicit actor, if any."""
    return _actor.get()


def current_extra() -> Mapping[str, Any]:
    """The merged ``context(**extra)`` values (inner keys override outer)."""
    return _extra.get()


def is_disabled() -> bool:
    """True inside ``autoaudit.disabled()``."""
    return _disabled.get()


def current_request_id() -> str | None:
    """The id of the request, task or ``context(request_id=...)`` being served."""
    return _request_id.get()


def is_valid_request_id(value: object) -> bool:
    """Whether ``value`` may be a request id: a non-empty string of at most
    :data:`MAX_REQUEST_ID_LENGTH` safe characters (see ``_REQUEST_ID``)."""
    return (
        isinstance(value, str)
        and len(value) <= MAX_REQUEST_ID_LENGTH
        and _REQUEST_ID.fullmatch(value) is not None
    )


def check_request_id(value: object) -> str:
    """``value`` if it is a valid request id, else a ``TypeError`` or
    ``ValueError`` that says what is wrong with it."""
    if not isinstance(value, str):
        raise TypeError(f"request_id must be a string, not {type(value).__name__}.")
    if not is_valid_request_id(value):
        raise ValueError(
            f"request_id must be 1 to {MAX_REQUEST_ID_LENGTH} characters among letters, "
            f"digits and . _ : + = / @ -, not {value[:80]!r}."
        )
    return value


_Binding = tuple[ContextVar[Any], Any]
_Entry = tuple["_ContextVarScope", tuple[Token[Any], ...]]
# The scopes entered in this context, innermost last, with their tokens. It
# is context-local itself, so one scope object can be entered concurrently
# by several threads or tasks (a module-level ``disabled()``, a decorated
# function) and each exit resets its own token.
_entered: ContextVar[tuple[_Entry, ...]] = ContextVar("autoaudit_scopes", default=())


class _ContextVarScope:
    """Base for the three helpers: set ContextVars on enter, reset on exit.

    Reusable and re-entrant, and usable as a decorator on both plain and
    ``async`` functions.
    """

    def _bindings(self) -> tuple[_Binding, ...]:
        """The variables to set on enter, each with its value."""
        raise NotImplementedError

    def __enter__(self) -> None:
        tokens = tuple(var.set(value) for var, value in self._bindings())
        _entered.set((*_entered.get(), (self, tokens)))

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
        for token in reversed(stack[index][1]):
            token.var.reset(token)
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

    def _bindings(self) -> tuple[_Binding, ...]:
        return ((_actor, self.value),)


class context(_ContextVarScope):  # used like a function
    """Merge ``extra`` into the ``extra_data`` of every log written inside.

    ``tags`` (a list of strings) goes to the rows' ``tags`` column instead,
    after the model's tags; nested contexts add theirs to the outer ones'
    (in order, each once). A bad tag raises ``TypeError``/``ValueError`` here.

    ``request_id`` (a string of at most 64 letters, digits and ``. _ : + = /
    @ -``) is not extra data: it sets the ``request_id`` column of every log
    written inside, grouping them as the logs of one request are grouped.
    """

    def __init__(self, **extra: Any) -> None:
        # ``request_id`` is taken from ``extra`` rather than being a typed
        # keyword, so ``context(**mapping)`` of any values still type-checks.
        request_id = extra.pop("request_id", None)
        self.request_id = check_request_id(request_id) if request_id is not None else None
        if TAGS_KEY in extra:
            extra[TAGS_KEY] = clean_tags(extra[TAGS_KEY], "autoaudit.context()")
        self.extra = extra

    def _bindings(self) -> tuple[_Binding, ...]:
        bindings: tuple[_Binding, ...] = ()
        if self.extra:
            outer = _extra.get()
            merged = {**outer, **self.extra}
            if TAGS_KEY in self.extra and TAGS_KEY in outer:
                merged[TAGS_KEY] = tuple(dict.fromkeys((*outer[TAGS_KEY], *self.extra[TAGS_KEY])))
            bindings = ((_extra, MappingProxyType(merged)),)
        if self.request_id is not None:
            bindings = (*bindings, (_request_id, self.request_id))
        return bindings


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

    def _bindings(self) -> tuple[_Binding, ...]:
        return ((_disabled, True),)

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
