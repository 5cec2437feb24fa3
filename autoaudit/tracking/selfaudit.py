"""Audit of the audit log (PCI DSS 10.2.1.3 and 10.2.1.6).

Four kinds of entry, each about ``autoaudit.ActivityLog`` itself and each
with its own switch (see docs/configuration.md):

- **reads** (``LOG_AUDIT_READS``): a ``view`` when staff read everyone's
  timeline, the admin's list or detail page, and when the export and
  archive commands read rows. Pages are rate-limited through the cache
  framework: one entry per user per page kind per ``AUDIT_READS_INTERVAL``
  seconds (default 60); commands log every run.
- **deletions** (``LOG_AUDIT_DELETES``): a ``delete`` per log row a
  superuser deletes in the admin, in the deletion's transaction.
- **switch-off** (``LOG_DISABLED_BLOCKS``): a ``deactivate`` as an outermost
  ``autoaudit.disabled()`` block is entered, naming the code that entered it.
- **settings** (``LOG_SETTINGS_CHANGES``): after ``migrate`` (every deploy
  runs it), the tracked models and the switches that are off are compared
  with the last such entry; a difference is logged as an ``update``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.core.exceptions import SynchronousOnlyOperation
from django.db import DatabaseError, connections, models, router, transaction
from django.utils.translation import gettext

from autoaudit.actors.resolve import resolve_actor
from autoaudit.actors.scopes import is_disabled
from autoaudit.conf import AUTH_EVENT_NAMES, get_settings
from autoaudit.tracking import store
from autoaudit.tracking.record import assemble
from autoaudit.tracking.registry import registry
from autoaudit.values.labels import model_label

logger = logging.getLogger("autoaudit")

#: ``(entity, computed_entity)`` of the settings entries.
SETTINGS_ENTITY = ("settings", "autoaudit.settings")
#: The cache keys of the read rate limit start with this.
READ_KEY_PREFIX = "autoaudit:read"


def _actor_key(actor: dict[str, Any]) -> str:
    user = actor.get("user")
    if user is not None and getattr(user, "pk", None) is not None:
        return f"user:{user.pk}"
    return f"{actor['actor_type']}:{actor.get('actor_identifier') or ''}"


def log_read(
    kind: str,
    name: str | None = None,
    *,
    extra: dict[str, Any] | None = None,
    rate_limited: bool = True,
    using: str | None = None,
) -> models.Model | None:
    """Log that the current actor read the audit log (``kind``: the page or
    command, e.g. ``"timeline"``, ``"admin:change"``, ``"export"``).

    With ``rate_limited`` at most one entry per actor and ``kind`` is
    written per ``AUDIT_READS_INTERVAL`` seconds (the cache holds the
    window). Returns the entry, or ``None`` when none was written.
    """
    settings = get_settings()
    if not settings.LOG_AUDIT_READS or is_disabled():
        return None
    actor = resolve_actor()
    if rate_limited and settings.AUDIT_READS_INTERVAL:
        key = f"{READ_KEY_PREFIX}:{kind}:{_actor_key(actor)}"
        if not cache.add(key, True, settings.AUDIT_READS_INTERVAL):
            return None
    draft = assemble(
        "view",
        model=store.log_model(),
        pk=None,
        name=name or kind,
        actor=actor,
        extra={"audit": "read", "page": kind, **(extra or {})},
    )
    return store.save(draft, using)


def log_deletions(logs: Iterable[Any], using: str) -> None:
    """Log the deletion of log rows ``logs`` (call it in the deleting
    transaction, before the rows go). Each entry names the row deleted
    (its id, action, target and time), not its actor or values."""
    if not get_settings().LOG_AUDIT_DELETES or is_disabled():
        return
    model = store.log_model()
    actor = resolve_actor()
    drafts = [
        assemble(
            "delete",
            model=model,
            pk=log.pk,
            name=f"{log.action} {log.computed_entity} #{log.entity_pk or ''}".strip(" #"),
            old={
                "action": log.action,
                "computed_entity": log.computed_entity,
                "entity_pk": log.entity_pk,
                "created_at": log.created_at,
            },
            actor=actor,
            extra={"audit": "delete"},
        )
        for log in logs
    ]
    if drafts:
        store.write(drafts, using)


def _caller() -> str:
    """``module:line`` of the code that entered ``disabled()``."""
    frame = inspect.currentframe()
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(("autoaudit.", "asgiref.", "contextlib")) and module not in (
            "autoaudit",
            "concurrent.futures.thread",
            "threading",
        ):
            return f"{module}:{frame.f_lineno}"
        frame = frame.f_back
    return ""


def log_switch_off() -> None:
    """Log that an outermost ``autoaudit.disabled()`` is being entered (the
    :func:`autoaudit.actors.scopes.on_disable` listener). Written before
    logging is off, as the current actor; ``ON_ERROR`` applies to the
    write. From async code use ``async with disabled()``: a plain ``with``
    there cannot write, and says so in the ``autoaudit`` logger."""
    if not get_settings().LOG_DISABLED_BLOCKS:
        return
    where = _caller()
    draft = assemble(
        "deactivate",
        model=store.log_model(),
        pk=None,
        name="autoaudit.disabled()",
        description=gettext("Logging switched off by autoaudit.disabled() in %(code)s")
        % {"code": where or "?"},
        extra={"audit": "disabled", "code": where},
    )
    try:
        store.save(draft)
    except SynchronousOnlyOperation:
        logger.warning(
            "autoaudit: disabled() entered in async code at %s was not logged; "
            "use `async with autoaudit.disabled()`.",
            where,
        )


def settings_snapshot() -> dict[str, list[str]]:
    """What the settings entry compares: the tracked models and the
    switches that are off (``GUEST_TRACKING``, auth events, the audit
    entries' own switches)."""
    settings = get_settings()
    off = [
        name
        for name in (
            "GUEST_TRACKING",
            "LOG_AUDIT_READS",
            "LOG_AUDIT_DELETES",
            "LOG_DISABLED_BLOCKS",
        )
        if not getattr(settings, name)
    ]
    off += [
        f"AUTH_EVENTS:{event}" for event in AUTH_EVENT_NAMES if event not in settings.AUTH_EVENTS
    ]
    if settings.ON_ERROR != "raise":
        off.append("ON_ERROR:log")
    return {
        "models": sorted(model_label(model) for model in registry.registered()),
        "off": off,
    }


def record_settings(using: str | None = None) -> models.Model | None:
    """Compare :func:`settings_snapshot` with the last settings entry on
    ``using`` and log the difference (the first run logs a ``create``).
    Returns the entry, or ``None`` if nothing changed or it is switched off."""
    if not get_settings().LOG_SETTINGS_CHANGES or is_disabled():
        return None
    model = store.log_model()
    alias = using or router.db_for_write(model)
    current = settings_snapshot()
    previous = (
        model._default_manager.using(alias)
        .filter(computed_entity=SETTINGS_ENTITY[1], action__in=("create", "update"))
        .order_by("-id")
        .values_list("new_values", flat=True)
        .first()
    )
    if previous == current:
        return None
    old = previous if isinstance(previous, dict) else {}
    parts = []
    for key in ("models", "off"):
        before, after = set(old.get(key) or ()), set(current[key])
        parts += [f"+{item}" for item in sorted(after - before)]
        parts += [f"-{item}" for item in sorted(before - after)]
    draft = assemble(
        "update" if previous is not None else "create",
        entity=SETTINGS_ENTITY,
        pk=None,
        name="AUTOAUDIT",
        old=old or None,
        new=current,
        changed=[k for k in ("models", "off") if old.get(k) != current[k]] if old else None,
        description=gettext("Tracking settings changed: %(changes)s")
        % {"changes": ", ".join(parts) or "-"},
        extra={"audit": "settings"},
    )
    return store.save(draft, alias)


def record_settings_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """``post_migrate`` receiver (autoaudit's app only): :func:`record_settings`
    once the log table is there; a database that cannot take the entry
    (migrated back past the table or its columns) is reported, not fatal."""
    if getattr(sender, "label", None) != "autoaudit" or not get_settings().LOG_SETTINGS_CHANGES:
        return
    connection = connections[using]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    if store.log_model()._meta.db_table not in tables:
        return
    try:
        with transaction.atomic(using=using):
            record_settings(using)
    except DatabaseError as exc:
        logger.warning("autoaudit: the settings entry could not be written: %s", exc)
