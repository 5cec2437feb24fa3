"""The keyword options of :func:`autoaudit.register`, validated and normalised."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models

from autoaudit.conf import MASK_STRATEGIES, unknown_options
from autoaudit.values.labels import model_label
from autoaudit.values.tags import clean_tags

CRUD_ACTIONS = frozenset({"create", "update", "delete"})
GUEST_FIELD_KEYS = frozenset({"email", "phone", "name"})


@dataclass(frozen=True)
class ModelOptions:
    """The keyword options of :func:`register`, normalised."""

    include_fields: tuple[str, ...] | None = None
    exclude_fields: tuple[str, ...] = ()
    mask_fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    m2m_fields: tuple[str, ...] = ()
    entity: str | None = None
    entity_name: Callable[[Any], str] | None = None
    guest_fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    actions: frozenset[str] = CRUD_ACTIONS
    bulk: bool = True
    description: Callable[..., str] | None = None
    accessor: str | None = None
    #: Tags of every row, or a callable ``instance -> list`` called per row.
    tags: tuple[str, ...] | Callable[[Any], Any] = ()
    #: ``instance -> the instance the change belongs to`` (or ``None``).
    related: Callable[[Any], Any] | None = None


def normalise_options(model: type[models.Model], raw: Mapping[str, Any]) -> ModelOptions:
    """``raw`` keyword options as :class:`ModelOptions`; ``ImproperlyConfigured``
    naming the model and the option for anything wrong, a misspelt option
    (with the name it was likely meant to be) included."""
    label = model_label(model)
    problem = unknown_options(raw)
    if problem is not None:
        raise ImproperlyConfigured(f"autoaudit.register({label}): {problem}")

    def names(option: str) -> tuple[str, ...]:
        value = raw.get(option) or ()
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise ImproperlyConfigured(
                f"autoaudit.register({label}): {option} must be a list of field names."
            )
        return tuple(value)

    mask = raw.get("mask_fields") or {}
    if isinstance(mask, list | tuple | set | frozenset):
        mask = dict.fromkeys(mask, "redact")
    if not isinstance(mask, Mapping):
        raise ImproperlyConfigured(
            f"autoaudit.register({label}): mask_fields must be a dict or a list."
        )
    for name, strategy in mask.items():
        if strategy not in MASK_STRATEGIES:
            raise ImproperlyConfigured(
                f"autoaudit.register({label}): mask_fields gives {name!r} the unknown "
                f"strategy {strategy!r}; choose one of {', '.join(MASK_STRATEGIES)}."
            )
    actions = raw.get("actions")
    if actions is None:
        actions_set = CRUD_ACTIONS
    else:
        actions_set = frozenset(actions)
        unknown = actions_set - CRUD_ACTIONS
        if isinstance(actions, str) or unknown:
            raise ImproperlyConfigured(
                f"autoaudit.register({label}): actions must be a subset of "
                f"create, update, delete (got {actions!r})."
            )
    guest = raw.get("guest_fields") or {}
    if not isinstance(guest, Mapping):
        raise ImproperlyConfigured(
            f"autoaudit.register({label}): guest_fields must be a dict like "
            "{'email': 'email_field', 'phone': ..., 'name': ...}."
        )
    tags = raw.get("tags") or ()
    if not callable(tags):
        try:
            tags = clean_tags(tags, f"autoaudit.register({label})")
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"{exc} Give a list of tags or a callable instance -> list."
            ) from None
    for option in ("entity_name", "description", "related"):
        if raw.get(option) is not None and not callable(raw[option]):
            raise ImproperlyConfigured(f"autoaudit.register({label}): {option} must be a callable.")
    entity = raw.get("entity")
    if entity is not None and (not isinstance(entity, str) or not entity or len(entity) > 50):
        raise ImproperlyConfigured(
            f"autoaudit.register({label}): entity must be a non-empty string of "
            "at most 50 characters."
        )
    bulk = raw.get("bulk", True)
    if not isinstance(bulk, bool):
        raise ImproperlyConfigured(f"autoaudit.register({label}): bulk must be True or False.")
    include = None if raw.get("include_fields") is None else names("include_fields")
    exclude = names("exclude_fields")
    both = [name for name in include or () if name in exclude]
    if both:
        raise ImproperlyConfigured(
            f"autoaudit.register({label}): {', '.join(map(repr, both))} is in both "
            "include_fields and exclude_fields; name each field in one of them "
            "(include_fields alone lists what is tracked)."
        )
    return ModelOptions(
        include_fields=include,
        exclude_fields=exclude,
        mask_fields=MappingProxyType(dict(mask)),
        m2m_fields=names("m2m_fields"),
        entity=entity,
        entity_name=raw.get("entity_name"),
        guest_fields=MappingProxyType(dict(guest)),
        actions=actions_set,
        bulk=bulk,
        description=raw.get("description"),
        accessor=raw.get("accessor"),
        tags=tags,
        related=raw.get("related"),
    )
