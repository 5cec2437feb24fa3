"""The right to be forgotten: ``autoaudit_forget`` anonymises or erases one
person's logs, in batches of ``PRUNE_BATCH_SIZE`` rows, each batch in its
own short transaction.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from autoaudit.actors.resolve import GUEST_NAME
from autoaudit.conf import get_settings
from autoaudit.enums import ActorType
from autoaudit.lifecycle.maintenance import maintenance
from autoaudit.lifecycle.selection import (
    ActorMatch,
    counts_by_actor_type,
    delete_in_batches,
    effective_batch_size,
    iter_pages,
    log_alias,
)
from autoaudit.tracking.registry import registry
from autoaudit.values.labels import model_for_label
from autoaudit.values.masking import MIN_SCRUB_LENGTH, REDACTED, strategy_for

if TYPE_CHECKING:
    from autoaudit.lifecycle.selection import LogQuerySet
    from autoaudit.models import ActivityLog

#: Mask strategies whose stored value is still derived from the person's data.
_DERIVED_STRATEGIES = frozenset({"partial", "hash"})
#: The columns forgetting rewrites.
ANONYMISED_FIELDS = (
    "user",
    "actor_identifier",
    "actor_name",
    "actor_metadata",
    "ip_address",
    "user_agent",
    "entity_name",
    "old_values",
    "new_values",
    "description",
    "extra_data",
)


@dataclass
class ForgetResult:
    """What forgetting one identifier matched and did."""

    identifier: str
    by_actor_type: dict[str, int]
    user_accounts: int
    rows: int = 0
    replacement: str | None = None

    @property
    def matched(self) -> int:
        return sum(self.by_actor_type.values())

    @property
    def ambiguous(self) -> bool:
        """True if both a user and a guest match (the same email, for example)."""
        has_user = self.user_accounts > 0 or self.by_actor_type.get(ActorType.USER, 0) > 0
        return has_user and self.by_actor_type.get(ActorType.GUEST, 0) > 0


def _user_secrets(user_ids: list[Any]) -> set[str]:
    """Usernames, emails and names of the matched accounts."""
    found: set[str] = set()
    if not user_ids:
        return found
    for user in get_user_model()._default_manager.filter(pk__in=user_ids):
        found.add(str(user.get_username()))
        email = getattr(user, user.get_email_field_name(), None)
        for method in ("get_full_name", "get_short_name"):
            getter = getattr(user, method, None)
            if callable(getter):
                found.add(str(getter() or ""))
        found.add(str(email or ""))
    found.discard("")
    return found


@functools.lru_cache(maxsize=64)
def _pattern(known: frozenset[str]) -> re.Pattern[str] | None:
    """Whole-word, case-insensitive matches of the known texts, longest first
    (so ``ann`` is found in "call Ann back" but not in "annual")."""
    texts = sorted((t for t in known if len(t) >= MIN_SCRUB_LENGTH), key=len, reverse=True)
    if not texts:
        return None
    alternatives = "|".join(re.escape(text) for text in texts)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


class _Scrubber:
    """Replaces one person's data inside a row's values and texts."""

    def __init__(self, known: Iterable[str]) -> None:
        self.redacted = REDACTED
        self.known = {text for text in known if text}
        self.global_masks = get_settings().MASK_FIELDS

    def _personal_keys(self, computed_entity: str) -> tuple[frozenset[str], Mapping[str, str]]:
        model = model_for_label(computed_entity)
        tracker = registry.tracker_for(model) if model is not None else None
        if tracker is None:
            return frozenset(), {}
        keys = set(tracker.options.guest_fields.values())
        keys.update(name for name, how in tracker.masks.items() if how in _DERIVED_STRATEGIES)
        return frozenset(keys), tracker.options.mask_fields

    def text(self, value: Any, known: set[str]) -> Any:
        if not isinstance(value, str) or not value:
            return value
        if value.casefold() in {text.casefold() for text in known}:
            return self.redacted
        pattern = _pattern(frozenset(known))
        return pattern.sub(self.redacted, value) if pattern is not None else value

    def values(
        self, value: Any, keys: frozenset[str], masks: Mapping[str, str], known: set[str]
    ) -> Any:
        if isinstance(value, dict):
            result = {}
            for key, item in value.items():
                strategy = strategy_for(str(key), masks, self.global_masks)
                if item is not None and (key in keys or strategy in _DERIVED_STRATEGIES):
                    result[key] = self.redacted
                else:
                    result[key] = self.values(item, keys, masks, known)
            return result
        if isinstance(value, list):
            return [self.values(item, keys, masks, known) for item in value]
        return self.text(value, known)

    def row(self, log: ActivityLog, replacement: str, stamp: str) -> None:
        known = set(self.known)
        for text in (log.actor_identifier, log.actor_name):
            if text and text != GUEST_NAME:
                known.add(text)
        if isinstance(log.actor_metadata, dict):
            for key in ("email", "phone", "name"):
                if isinstance(log.actor_metadata.get(key), str):
                    known.add(log.actor_metadata[key])
        known.discard("")
        keys, masks = self._personal_keys(log.computed_entity)
        log.user = None
        log.actor_identifier = replacement
        log.actor_name = None
        log.actor_metadata = {"anonymised_at": stamp}
        log.ip_address = None
        log.user_agent = None
        log.entity_name = self.text(log.entity_name, known)
        log.description = self.text(log.description, known)
        log.old_values = self.values(log.old_values, keys, masks, known)
        log.new_values = self.values(log.new_values, keys, masks, known)
        log.extra_data = self.values(log.extra_data, frozenset(), {}, known)


def anonymise(
    queryset: LogQuerySet,
    *,
    known: Iterable[str] = (),
    batch_size: int | None = None,
    replacement: str | None = None,
) -> tuple[int, str]:
    """Anonymise every row of ``queryset`` in place; ``(rows, replacement)``.

    The actor columns are replaced (the identifier by ``replacement``, a
    random ``forgotten-<hex>`` by default, so the person's rows still read as
    one anonymous actor but nothing links them to the person). Personal
    fields of the values (``guest_fields`` and fields masked with
    ``partial``/``hash``) become the redaction placeholder, as does any
    occurrence of ``known`` texts (and the row's own identifier and name).
    """
    from autoaudit.models import ActivityLog, SealEvent

    alias = log_alias()
    size = effective_batch_size(batch_size or get_settings().PRUNE_BATCH_SIZE, alias)
    replacement = replacement or f"forgotten-{secrets.token_hex(6)}"
    stamp = timezone.now().isoformat()
    scrubber = _Scrubber(known)
    queryset = queryset.using(alias)
    total = 0
    for page in iter_pages(queryset, ("id",), size):
        with maintenance(alias) as ledger:
            ids = [row["id"] for row in page]
            logs = list(queryset.filter(id__in=ids).select_for_update().order_by("id"))
            before = ledger.snapshot(log.pk for log in logs)
            for log in logs:
                scrubber.row(log, replacement, stamp)
            ActivityLog.objects.using(alias).bulk_update(logs, ANONYMISED_FIELDS, batch_size=500)
            ledger.record(SealEvent.Kind.ANONYMISED, before)
        total += len(logs)
    return total, replacement


def forget(
    match: ActorMatch,
    *,
    erase: bool = False,
    dry_run: bool = False,
    actor_type: str | None = None,
    batch_size: int | None = None,
) -> ForgetResult:
    """Anonymise (default) or erase (``erase=True``) one person's logs."""
    from autoaudit.models import ActivityLog, SealEvent

    queryset = ActivityLog.objects.using(log_alias()).filter(match.q)
    if actor_type:
        queryset = queryset.filter(actor_type=actor_type)
    result = ForgetResult(
        identifier=match.identifier,
        by_actor_type=counts_by_actor_type(queryset),
        user_accounts=len(match.user_ids),
    )
    if dry_run or result.matched == 0:
        result.rows = result.matched
        return result
    size = batch_size or get_settings().PRUNE_BATCH_SIZE
    if erase:
        result.rows = delete_in_batches(queryset, size, kind=SealEvent.Kind.ERASED)
    else:
        known = {match.identifier, *_user_secrets(match.user_ids)}
        result.rows, result.replacement = anonymise(queryset, known=known, batch_size=size)
    return result
