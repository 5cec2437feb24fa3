"""Masking of sensitive values: ``redact``, ``partial``, ``hash``, ``exclude``.

A name (a field, or a key inside a JSON value) is masked when the model's
``mask_fields`` names it, or when one of the global ``MASK_FIELDS``
fragments occurs in it (case-insensitive). :class:`MaskPolicy` applies those
rules to a whole log row at once: values by name, JSON keys at any depth,
and the raw masked texts scrubbed out of free text (names, descriptions).

This module is pure: settings come in as arguments (the hash key as a
callable, so it is read only when a ``hash`` mask needs it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

REDACTED = "********"
#: Texts shorter than this are not scrubbed out of free text (they match too often).
MIN_SCRUB_LENGTH = 3
_EMAIL = re.compile(r"^([^@\s]+)@([^@\s]+)$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,}$")


def strategy_for(
    name: str, model_masks: Mapping[str, str], global_masks: Mapping[str, str]
) -> str | None:
    """The mask strategy for a field or key name, or ``None``."""
    if name in model_masks:
        return model_masks[name]
    lowered = name.lower()
    for fragment, strategy in global_masks.items():
        if fragment in lowered:
            return strategy
    return None


def partial(text: str) -> str:
    """``j***n@example.com``, ``+628****7890``, ``s***t``: enough to recognise."""
    match = _EMAIL.match(text)
    if match:
        local, domain = match.groups()
        head = local[0] + "***" + (local[-1] if len(local) > 1 else "")
        return f"{head}@{domain}"
    if _PHONE.match(text):
        digits = re.sub(r"[\s().-]", "", text)
        if len(digits) > 8:
            return digits[:4] + "****" + digits[-4:]
        return "****" + digits[-2:]
    if len(text) <= 2:
        return "***"
    return text[0] + "***" + text[-1]


def keyed_hash(text: str, key: bytes) -> str:
    """``hmac-sha256:<hex>``: comparable, not reversible without the key."""
    digest = hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return "hmac-sha256:" + digest.hexdigest()


def mask_value(value: Any, strategy: str, key: Callable[[], bytes]) -> Any:
    """Mask one (already JSON-safe) value; ``None`` stays ``None``."""
    if value is None:
        return None
    if strategy not in ("hash", "partial"):
        return REDACTED
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    if strategy == "hash":
        return keyed_hash(text, key())
    return partial(text)


def _texts(value: Any) -> Iterable[str]:
    """The raw texts inside a masked value (what must not show up elsewhere)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


@dataclass(frozen=True)
class MaskPolicy:
    """How one log row is masked.

    ``known`` holds names whose answer is worked out in advance (a tracked
    model's fields: strategy or ``None``); any other name, and every key
    inside JSON values, is matched against ``model_masks`` then
    ``global_masks``.
    """

    global_masks: Mapping[str, str]
    hash_key: Callable[[], bytes]
    model_masks: Mapping[str, str] = field(default_factory=dict)
    known: Mapping[str, str | None] = field(default_factory=dict)

    def strategy(self, name: str) -> str | None:
        """The strategy for a top-level name (a field, or a manual log's key)."""
        if name in self.known:
            return self.known[name]
        return strategy_for(name, self.model_masks, self.global_masks)

    def values(self, values: Mapping[str, Any] | None, secrets: list[str]) -> dict[str, Any] | None:
        """``values`` masked by name and by key at any depth; the raw texts
        that were masked are appended to ``secrets``."""
        if values is None:
            return None
        result = {}
        for name, value in values.items():
            strategy = self.strategy(name)
            if strategy == "exclude":
                secrets.extend(_texts(value))
            elif strategy is not None:
                secrets.extend(_texts(value))
                result[name] = mask_value(value, strategy, self.hash_key)
            elif isinstance(value, dict | list):
                result[name] = self.nested(value, secrets)
            else:
                result[name] = value
        return result

    def nested(self, value: Any, secrets: list[str]) -> Any:
        """Mask matching keys anywhere inside a JSON value."""
        if isinstance(value, dict):
            result = {}
            for key, item in value.items():
                strategy = strategy_for(str(key), self.model_masks, self.global_masks)
                if strategy == "exclude":
                    secrets.extend(_texts(item))
                elif strategy is not None:
                    secrets.extend(_texts(item))
                    result[key] = mask_value(item, strategy, self.hash_key)
                else:
                    result[key] = self.nested(item, secrets)
            return result
        if isinstance(value, list):
            return [self.nested(item, secrets) for item in value]
        return value


def scrub_text(text: str | None, secrets: Iterable[str]) -> str | None:
    """Replace raw masked values that appear in free text (names, descriptions)."""
    if not text:
        return text
    for secret in secrets:
        if len(secret) >= MIN_SCRUB_LENGTH and secret in text:
            text = text.replace(secret, REDACTED)
    return text
