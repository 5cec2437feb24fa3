"""The one row assembler: every log row is built here, as a :class:`LogDraft`.

Saves, deletes, M2M changes, bulk operations, the manual helpers, auth
events and view events all call :func:`assemble`. It works in three steps:

1. **what**: the entity labels and key of the subject (a model instance, a
   model or a plain entity name) and its values, as JSON;
2. **who**: the actor (resolved now, unless the caller resolved it once for a
   whole bulk call), the ``context()`` extras and the request id (of the
   request, task or ``context(request_id=...)``);
3. **masking**, last and once, over every column: values by field name and
   by key at any depth (``extra_data`` and ``actor_metadata`` too), then the
   texts. The default description is rendered from the masked values, and
   the entity name and description are scrubbed of every raw value that was
   masked and of the subject's secret fields (registered or not), so no
   masked value of the subject reaches the values, extra data, metadata,
   name or description, even through ``__str__``. The actor columns name
   the actor as the actor rules say (a guest's email from ``guest_fields``
   included).

The draft is frozen: :mod:`autoaudit.tracking.store` only turns it into
statements.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from django.db import models
from django.utils.translation import get_language

from autoaudit.actors.resolve import resolve_actor
from autoaudit.actors.scopes import TAGS_KEY, current_extra, current_request_id
from autoaudit.conf import AutoauditSettings, get_settings, hash_key
from autoaudit.tracking.enrich import related_entity, row_tags
from autoaudit.tracking.registry import Tracker, entity_labels, registry
from autoaudit.values.descriptions import SUMMARY_LENGTH, change_triples, describe, summarise
from autoaudit.values.keys import stored_pk
from autoaudit.values.masking import (
    MaskPolicy,
    mask_value,
    scrub_json,
    scrub_list,
    scrub_text,
    strategy_for,
)
from autoaudit.values.serialization import (
    NAME_LENGTH,
    pk_integer,
    pk_text,
    safe_str,
    shorten,
    to_json,
)


@dataclass(frozen=True, slots=True)
class LogDraft:
    """One log row on its way to the table: every column, already masked.

    ``user`` is the user instance (or ``None``); every other attribute is
    the column of the same name. ``created_at`` is stamped by the store
    (when the change happens, for a log written later: see
    :mod:`autoaudit.tracking.deferred`); ``write_id`` is set only for a log
    a task writes (its retries insert it once). History imported from another
    package (``autoaudit_import``) gives its own ``created_at``.
    """

    action: str
    entity: str
    computed_entity: str
    entity_id: int | None
    entity_pk: str | None
    entity_name: str | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    changed_fields: list[str] | None
    description: str | None
    extra_data: dict[str, Any] | None
    user: Any
    actor_type: str
    actor_identifier: str | None
    actor_name: str | None
    actor_metadata: dict[str, Any] | None
    ip_address: str | None
    user_agent: str | None
    request_id: str | None = None
    tags: list[str] | None = None
    related_entity_type: str | None = None
    related_entity_id: str | None = None
    changes_summary: str | None = None
    # Stamped by the store, not assembled (see STAMPS).
    created_at: datetime.datetime | None = None
    write_id: str | None = None

    def columns(self) -> dict[str, Any]:
        """The draft as ``ActivityLog`` keyword arguments."""
        return {name: getattr(self, name) for name in COLUMNS}

    def as_json(self) -> dict[str, Any]:
        """The row as a JSON-safe dict (what sinks receive, what a task carries):
        every column by name, ``user`` as ``user_id`` (its key), ``created_at``
        in ISO 8601. Values are already masked and JSON-safe."""
        data = {name: getattr(self, name) for name in COLUMNS + STAMPS}
        user = data.pop("user")
        data["user_id"] = None if user is None else user.pk
        if self.created_at is not None:
            data["created_at"] = self.created_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], user: Any) -> LogDraft:
        """The draft :meth:`as_json` gave ``data`` for, with ``user`` (an
        instance standing for ``data["user_id"]``, or ``None``)."""
        values: dict[str, Any] = {name: data.get(name) for name in COLUMNS + STAMPS}
        values.pop("user")
        if values["created_at"] is not None:
            values["created_at"] = datetime.datetime.fromisoformat(values["created_at"])
        return cls(user=user, **values)


#: The columns the store stamps (the assembler leaves them ``None``).
STAMPS = ("created_at", "write_id")
#: The columns the assembler fills, in order.
COLUMNS = tuple(f.name for f in fields(LogDraft) if f.name not in STAMPS)
#: The columns that name the actor (``resolve_actor()``'s keys).
ACTOR_COLUMNS = (
    "user",
    "actor_type",
    "actor_identifier",
    "actor_name",
    "actor_metadata",
    "ip_address",
    "user_agent",
)

#: ``pk`` not given: take the instance's.
_INSTANCE_PK: Any = object()


def _json(
    values: Mapping[str, Any] | None, limit: int, bounds: Mapping[str, int]
) -> dict[str, Any] | None:
    if values is None:
        return None
    return {str(name): to_json(value, limit, **bounds) for name, value in values.items()}


def shared_actor(tracker: Tracker) -> dict[str, Any] | None:
    """The actor of every row of one bulk call or delete, resolved once; ``None``
    (resolve per row) for a model whose rows name their guest (``guest_fields``)."""
    return None if tracker.options.guest_fields else resolve_actor()


def _guest(tracker: Tracker | None, instance: models.Model | None) -> dict[str, Any] | None:
    """What the instance says about a guest (``register(guest_fields=...)``),
    each value masked as its field is: a guest named by a ``hash``-masked
    email is known by the hash, one named by an excluded field not at all."""
    if tracker is None or instance is None or not tracker.options.guest_fields:
        return None
    guest = {}
    for key, name in tracker.options.guest_fields.items():
        value = getattr(instance, name, None)
        strategy = tracker.policy.strategy(name)
        if value in (None, "") or strategy == "exclude":
            continue
        text = safe_str(value)
        guest[key] = mask_value(text, strategy, hash_key) if strategy else text
    return guest


def _labels(tracker: Tracker | None, model: type[models.Model] | None) -> Mapping[str, str]:
    """Verbose names of the fields in the active language (cached per tracker)."""
    if tracker is not None:
        language = get_language()
        labels = tracker.labels_cache.get(language)
        if labels is None:
            labels = {f.name: safe_str(f.verbose_name, f.name) for f in tracker.fields}
            labels.update((f.name, safe_str(f.verbose_name, f.name)) for f in tracker.m2m)
            tracker.labels_cache[language] = labels
        return labels
    if model is None:
        return {}
    return {
        f.name: safe_str(getattr(f, "verbose_name", f.name), f.name)
        for f in model._meta.get_fields()
        if hasattr(f, "verbose_name")
    }


def instance_name(tracker: Tracker | None, instance: models.Model, pk: Any) -> str:
    """The ``entity_name`` of ``instance``: the ``entity_name`` option, else
    ``str()``; Django's default text where either fails."""
    fallback = f"{type(instance).__name__} object ({safe_str(pk_text(pk))})"
    getter = tracker.options.entity_name if tracker is not None else None
    try:
        name = getter(instance) if getter is not None else str(instance)
    except Exception:
        return fallback
    return safe_str(name, fallback) or fallback


@functools.lru_cache(maxsize=256)
def _secret_attnames(
    model: type[models.Model], masks: frozenset[tuple[str, str]]
) -> tuple[str, ...]:
    """The attnames of an unregistered model's fields the global masks match."""
    global_masks = dict(masks)
    return tuple(
        f.attname
        for f in model._meta.concrete_fields
        if not f.primary_key and strategy_for(f.name, {}, global_masks) is not None
    )


def _secret_texts(
    tracker: Tracker | None,
    instance: models.Model | None,
    policy: MaskPolicy,
    settings: AutoauditSettings,
) -> list[str]:
    """The subject's secrets as text, tracked or not, registered or not: its
    secret fields' values, and what its JSON values hold under secret keys
    (an ``__str__`` may print either)."""
    if instance is None:
        return []
    if tracker is not None:
        attnames = tracker.secret_attnames
    else:
        attnames = _secret_attnames(type(instance), frozenset(settings.MASK_FIELDS.items()))
    data = instance.__dict__
    found = []
    for attname in attnames:
        value = data.get(attname)
        if value is not None and not isinstance(value, bool):
            found.append(safe_str(value))
    for attname in _attnames(type(instance)):
        value = data.get(attname)
        if isinstance(value, dict | list):
            policy.nested(to_json(value, settings.MAX_VALUE_LENGTH, **_bounds(settings)), found)
    return found


def subject_secrets(tracker: Tracker | None, instance: models.Model) -> list[str]:
    """What :func:`assemble` scrubs from the name and the description of a
    row about ``instance``, besides the values it masks: its secrets as text."""
    settings = get_settings()
    policy = tracker.policy if tracker is not None else MaskPolicy(settings.MASK_FIELDS, hash_key)
    return _secret_texts(tracker, instance, policy, settings)


def _bounds(settings: AutoauditSettings) -> dict[str, int]:
    """``to_json``'s bounds besides the string length (``MAX_ITEMS``, ``MAX_VALUE_BYTES``)."""
    return {"max_items": settings.MAX_ITEMS, "max_bytes": settings.MAX_VALUE_BYTES}


@functools.lru_cache(maxsize=256)
def _attnames(model: type[models.Model]) -> tuple[str, ...]:
    """The attnames of a model's concrete fields (not its caches: a
    ``_prefetched_objects_cache`` is a dict too, of querysets)."""
    return tuple(f.attname for f in model._meta.concrete_fields)


def assemble(
    action: str,
    *,
    instance: models.Model | None = None,
    tracker: Tracker | None = None,
    entity: tuple[str, str] | None = None,
    pk: Any = _INSTANCE_PK,
    name: Any = None,
    old: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
    changed: Sequence[str] | None = None,
    description: str | None = None,
    actor: Mapping[str, Any] | None = None,
    guest: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    model: type[models.Model] | None = None,
) -> LogDraft:
    """The draft of one log row.

    ``instance`` (a model instance) or ``model``/``entity`` (labels of what
    has no instance) say what the log is about; ``tracker`` defaults to the
    registered one. ``old``/``new`` are values by field name (Python or
    JSON-safe). ``name`` and ``description`` default to the instance's name
    and the action's standard text. ``actor`` is resolved now unless given
    (bulk calls resolve it once); ``guest`` adds what is known of a guest.
    """
    settings = get_settings()
    limit = settings.MAX_VALUE_LENGTH
    bounds = _bounds(settings)
    if instance is not None:
        model = type(instance)
    if tracker is None and model is not None:
        tracker = registry.tracker_for(model)
    if entity is None:
        if tracker is not None:
            entity = (tracker.entity, tracker.computed_entity)
        elif model is not None:
            entity = entity_labels(model)
        else:
            raise TypeError("assemble() needs an instance, a model or an entity.")
    if pk is _INSTANCE_PK:
        pk = instance.pk if instance is not None else None
    if pk is not None and model is not None:
        pk = stored_pk(model, pk)
    if name is None and instance is not None:
        name = instance_name(tracker, instance, pk)
    if actor is None:
        actor = resolve_actor(guest if guest is not None else _guest(tracker, instance))
    ambient = current_extra()
    # -- tags and the related entity (the model's options, context(tags=)) ---
    tags = row_tags(tracker, instance, ambient.get(TAGS_KEY))
    if TAGS_KEY in ambient:  # the column's, not extra data
        ambient = {key: value for key, value in ambient.items() if key != TAGS_KEY}
    related_type, related_id = related_entity(tracker, instance)
    merged = {**ambient, **extra} if extra else ambient
    if tracker is not None:
        policy = tracker.policy
        verbose = safe_str(tracker.verbose_name, entity[0])
    else:
        policy = MaskPolicy(settings.MASK_FIELDS, hash_key)
        verbose = safe_str(model._meta.verbose_name, entity[0]) if model else entity[0]

    # -- masking, over every column -------------------------------------------
    found = _secret_texts(tracker, instance, policy, settings)
    old_values = policy.values(_json(old, limit, bounds), found)
    new_values = policy.values(_json(new, limit, bounds), found)
    extra_data = policy.nested(to_json(merged, limit, **bounds), found) if merged else None
    metadata = actor.get("actor_metadata")
    if isinstance(metadata, Mapping):
        own = actor.get("own_metadata", ())
        metadata = policy.nested(to_json(metadata, limit, **bounds), found, keep=own)
    secrets = scrub_list(found)
    extra_data = scrub_json(extra_data, secrets)
    metadata = scrub_json(metadata, secrets)
    entity_name = scrub_text(safe_str(name), secrets) if name is not None else None
    changed_fields = [safe_str(f) for f in changed] if changed is not None else None
    if description is None:
        description = _default_description(
            action,
            tracker,
            model,
            verbose,
            entity_name,
            changed_fields,
            old_values,
            new_values,
            instance,
        )
    # -- the summary, from the masked values, scrubbed like the description --
    labels = _labels(tracker, model)
    m2m = frozenset(labels.get(f.name, f.name) for f in tracker.m2m) if tracker else frozenset()
    triples = _summary_triples(action, labels, changed_fields, old_values, new_values)
    summary = scrub_text(summarise(action, triples, m2m), secrets)
    return LogDraft(
        action=action,
        entity=safe_str(entity[0])[:50],
        computed_entity=safe_str(entity[1])[:100],
        entity_id=pk_integer(pk),
        entity_pk=pk_text(pk),
        entity_name=shorten(entity_name, NAME_LENGTH) if entity_name is not None else None,
        old_values=old_values,
        new_values=new_values,
        changed_fields=changed_fields,
        description=scrub_text(safe_str(description), secrets),
        extra_data=extra_data,
        user=actor.get("user"),
        actor_type=actor["actor_type"],
        actor_identifier=actor.get("actor_identifier"),
        actor_name=actor.get("actor_name"),
        actor_metadata=metadata,
        ip_address=actor.get("ip_address"),
        user_agent=scrub_text(actor.get("user_agent"), secrets),
        tags=tags,
        related_entity_type=related_type,
        related_entity_id=related_id,
        changes_summary=shorten(summary, SUMMARY_LENGTH) if summary is not None else None,
        request_id=current_request_id(),
    )


def _summary_triples(
    action: str,
    labels: Mapping[str, str],
    changed: list[str] | None,
    old_values: dict[str, Any] | None,
    new_values: dict[str, Any] | None,
) -> list[tuple[str, Any, Any]]:
    """``(label, old, new)`` of what a summary names: the changed fields,
    else every value the row holds (a create's new, a delete's old)."""
    if changed is None:
        names = list(new_values or {}) if action != "delete" else list(old_values or {})
        if not names:
            names = list(dict.fromkeys([*(old_values or {}), *(new_values or {})]))
        changed = names
    return change_triples(labels, changed, old_values, new_values)


def _default_description(
    action: str,
    tracker: Tracker | None,
    model: type[models.Model] | None,
    verbose: str,
    name: str | None,
    changed: list[str] | None,
    old_values: dict[str, Any] | None,
    new_values: dict[str, Any] | None,
    instance: models.Model | None,
) -> str:
    """The register option ``description``, else the standard text of the
    action, from the masked values."""
    custom: Callable[..., str] | None = tracker.options.description if tracker else None
    if custom is not None and instance is not None:
        try:
            text = custom(
                instance=instance,
                action=action,
                changed_fields=changed or [],
                old_values=old_values,
                new_values=new_values,
            )
        except Exception:
            text = None
        if text:
            return safe_str(text)
    # Many-to-many values are pk lists: described whole, not item by item.
    whole = [f.name for f in tracker.m2m] if tracker is not None else ()
    triples = change_triples(_labels(tracker, model), changed or [], old_values, new_values, whole)
    return describe(action, verbose, name, triples)
