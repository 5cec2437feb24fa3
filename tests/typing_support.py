"""Types the test suite shares (the ``track`` fixture's signature, mostly).

Importable from any test module: ``from tests.typing_support import Track``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypedDict, TypeVar, Unpack

from django.db import models

M = TypeVar("M", bound=models.Model)


class TrackOptions(TypedDict, total=False):
    """The keyword options of ``autoaudit.register`` (see ``tracking/options.py``)."""

    include_fields: Iterable[str]
    exclude_fields: Iterable[str]
    # a mapping field -> strategy, or a list of fields to redact
    mask_fields: Mapping[str, str] | Iterable[str]
    m2m_fields: Iterable[str]
    entity: str
    entity_name: Callable[[Any], str]
    guest_fields: Mapping[str, str]
    actions: Iterable[str]
    bulk: bool
    # called with keyword arguments: instance, action, changed_fields, old_values, new_values
    description: Callable[..., str]
    accessor: str
    # a list of tags, or instance -> list
    tags: Iterable[str] | Callable[[Any], Any]
    # instance -> the instance it belongs to, a (model or label, pk) pair, or None
    related: Callable[[Any], Any]


class Track(Protocol):
    """The ``track`` fixture: register a model for one test, return it."""

    def __call__(self, model: type[M], /, **options: Unpack[TrackOptions]) -> type[M]: ...


class TextResponse(Protocol):
    """What tests read from a test-client response (django-stubs' own name
    for the type, ``_MonkeyPatchedWSGIResponse``, is private)."""

    status_code: int

    @property
    def text(self) -> str: ...
