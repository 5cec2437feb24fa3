"""Build and insert log rows: one path for automatic and manual logs.

Everything that writes an :class:`~autoaudit.models.ActivityLog` goes through
:func:`write`, which fills the actor, merges ``context()`` extras, applies the
size limits and honours ``ON_ERROR``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, connections, router, transaction

from autoaudit import statements
from autoaudit.actors import resolve_actor
from autoaudit.conf import get_settings
from autoaudit.context import current_extra, is_disabled
from autoaudit.serialization import ENTITY_NAME_LENGTH, safe_str, to_json, truncate

if TYPE_CHECKING:
    from django.db import models

    from autoaudit.models import ActivityLog

logger = logging.getLogger("autoaudit")

_BIGINT_MAX = 2**63 - 1


def entity_id_for(pk: Any) -> int | None:
    """The BIGINT ``entity_id`` for integer keys, else ``None``."""
    if isinstance(pk, int) and not isinstance(pk, bool) and -_BIGINT_MAX <= pk <= _BIGINT_MAX:
        return pk
    return None


def entity_pk_for(pk: Any) -> str | None:
    return None if pk is None else truncate(safe_str(pk), 200)[:255]


def cut_name(name: Any) -> str | None:
    if name is None:
        return None
    text = safe_str(name)
    return text if len(text) <= ENTITY_NAME_LENGTH else text[: ENTITY_NAME_LENGTH - 1] + "…"


def _merge_extra(extra: Mapping[str, Any] | None) -> dict[str, Any] | None:
    ambient = current_extra()
    if not ambient and not extra:
        return None
    merged = {**ambient, **(extra or {})}
    return to_json(merged, get_settings().MAX_VALUE_LENGTH)  # type: ignore[no-any-return]


def build(
    *,
    action: str,
    entity: str,
    computed_entity: str,
    pk: Any = None,
    entity_name: Any = None,
    old_values: Any = None,
    new_values: Any = None,
    changed_fields: Any = None,
    description: str | None = None,
    guest: Mapping[str, Any] | None = None,
    extra_data: Mapping[str, Any] | None = None,
    actor_fields: Mapping[str, Any] | None = None,
) -> ActivityLog:
    """An unsaved log row with actor fields resolved now."""
    from autoaudit.models import new_log

    actor = dict(actor_fields) if actor_fields is not None else resolve_actor(guest)
    return new_log(
        dict(
            action=action,
            entity=safe_str(entity)[:50],
            computed_entity=safe_str(computed_entity)[:100],
            entity_id=entity_id_for(pk),
            entity_pk=entity_pk_for(pk),
            entity_name=cut_name(entity_name),
            old_values=old_values,
            new_values=new_values,
            changed_fields=changed_fields,
            description=description,
            extra_data=_merge_extra(extra_data),
            **actor,
        )
    )


def insert(
    log: ActivityLog, using: str | None = None, *, need_id: bool = True
) -> ActivityLog | None:
    """Insert ``log`` on ``using`` (the database of the change it records).

    With ``ON_ERROR="raise"`` a failure propagates, so the surrounding change
    rolls back with it. With ``"log"`` the insert runs in a savepoint, a
    failure is reported to the ``autoaudit`` logger and the change goes on.
    Automatic logs pass ``need_id=False``: a precompiled ``INSERT`` without
    reading the new id back.
    """
    from autoaudit.models import ActivityLog

    if is_disabled():
        return None  # inside autoaudit.disabled(): nothing is written
    alias = using or router.db_for_write(ActivityLog)
    if get_settings().ON_ERROR == "raise":
        if need_id:
            log.save(force_insert=True, using=alias)
        else:
            statements.insert_log(log, alias)
        return log
    try:
        if connections[alias].in_atomic_block:
            with transaction.atomic(using=alias):
                log.save(force_insert=True, using=alias)
        else:
            log.save(force_insert=True, using=alias)
    except (DatabaseError, ValueError, TypeError) as exc:
        logger.error(
            "autoaudit could not write the %s log of %s %s: %s",
            log.action,
            log.computed_entity,
            log.entity_pk,
            exc,
            exc_info=True,
        )
        return None
    return log


def create_for_instance(instance: models.Model, action: str, **kwargs: Any) -> ActivityLog:
    """``ActivityLog.create_for_instance``: fill entity and actor, mask, insert."""
    from autoaudit.masking import mask_mapping, scrub_text
    from autoaudit.registry import entity_labels, registry

    entity, computed = entity_labels(type(instance))
    tracker = registry.tracker_for(type(instance))
    model_masks = tracker.options.mask_fields if tracker is not None else None
    limit = get_settings().MAX_VALUE_LENGTH
    actor_keys = (
        "user",
        "actor_type",
        "actor_identifier",
        "actor_name",
        "actor_metadata",
        "ip_address",
        "user_agent",
    )
    given_actor = {key: kwargs.pop(key) for key in actor_keys if key in kwargs}
    actor = resolve_actor()
    if "user" in given_actor and given_actor["user"] is not None:
        from autoaudit.actors import _user_fields

        actor.update(_user_fields(given_actor["user"]))
    actor.update(given_actor)
    values = {}
    for key in ("old_values", "new_values"):
        values[key] = mask_mapping(to_json(kwargs.pop(key, None), limit), model_masks)
    name = kwargs.pop("entity_name", None)
    if name is None:
        name = safe_str(instance, f"{type(instance).__name__} object ({instance.pk})")
    description = kwargs.pop("description", None)
    secrets = _raw_secrets(instance, tracker)
    log = build(
        action=action,
        entity=kwargs.pop("entity", entity),
        computed_entity=kwargs.pop("computed_entity", computed),
        pk=instance.pk,
        entity_name=scrub_text(safe_str(name), secrets),
        description=scrub_text(description, secrets) if description else description,
        changed_fields=kwargs.pop("changed_fields", None),
        extra_data=kwargs.pop("extra_data", None),
        actor_fields=actor,
        **values,
    )
    for key, value in kwargs.items():
        setattr(log, key, value)
    using = instance._state.db or None
    insert_result = insert(log, using)
    return insert_result if insert_result is not None else log


def _raw_secrets(instance: Any, tracker: Any) -> list[str]:
    if tracker is None:
        return []
    secrets = []
    for name in tracker.masks:
        value = getattr(instance, name, None)
        if isinstance(value, str) and value:
            secrets.append(value)
    return secrets
