"""Masking of sensitive values: ``redact``, ``partial``, ``hash``, ``exclude``.

A field is masked when the model's ``mask_fields`` names it, or when one of
the global ``MASK_FIELDS`` fragments occurs in its name (case-insensitive).
The same rule applies to keys inside JSON values. Masked values are written
as their masked form everywhere in the row; the raw value never is.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from autoaudit.conf import get_settings

REDACTED = "********"
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


def _partial(text: str) -> str:
    match = _EMAIL.match(text)
    if match:
        local, domain = match.groups()
        head = local[0] + "***" + (local[-1] if len(local) > 1 else "")
        return f"{head}@{domain}"
    if _PHONE.match(text):
        digits = text.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
        digits = digits.replace(".", "")
        if len(digits) > 8:
            return digits[:4] + "****" + digits[-4:]
        return "****" + digits[-2:]
    if len(text) <= 2:
        return "***"
    return text[0] + "***" + text[-1]


def _hash(text: str) -> str:
    key = get_settings().MASK_HASH_KEY
    digest = hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return "hmac-sha256:" + digest.hexdigest()


def mask_value(value: Any, strategy: str) -> Any:
    """Mask one (already JSON-safe) value; ``None`` stays ``None``."""
    if value is None:
        return None
    if strategy == "redact" or strategy == "exclude":
        return REDACTED
    if isinstance(value, dict | list):
        import json

        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    if strategy == "hash":
        return _hash(text)
    if strategy == "partial":
        return _partial(text)
    return REDACTED


def mask_nested(value: Any, model_masks: Mapping[str, str], global_masks: Mapping[str, str]) -> Any:
    """Mask matching keys anywhere inside a JSON value."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            strategy = strategy_for(str(key), model_masks, global_masks)
            if strategy == "exclude":
                continue
            if strategy is not None:
                result[key] = mask_value(item, strategy)
            else:
                result[key] = mask_nested(item, model_masks, global_masks)
        return result
    if isinstance(value, list):
        return [mask_nested(item, model_masks, global_masks) for item in value]
    return value


def mask_mapping(
    values: Mapping[str, Any] | None,
    model_masks: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """Mask a whole ``{name: json_value}`` mapping (manual logging)."""
    if values is None:
        return None
    result = mask_nested(dict(values), model_masks or {}, get_settings().MASK_FIELDS)
    return result  # type: ignore[no-any-return]


def scrub_text(text: str | None, secrets: list[str]) -> str | None:
    """Replace raw masked values that appear in free text (names, descriptions)."""
    if not text or not secrets:
        return text
    for secret in secrets:
        if secret and len(secret) >= 3 and secret in text:
            text = text.replace(secret, REDACTED)
    return text
