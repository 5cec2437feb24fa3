"""Masking of sensitive values: ``redact``, ``partial``, ``hash``, ``exclude``.

A name (a field, or a key inside a JSON value) is masked when the model's
``mask_fields`` names it, or when one of the global ``MASK_FIELDS`` entries
matches it. Names and entries are normalised first (:func:`name_tokens`:
camelCase split, ``_``, ``-``, ``.`` and spaces dropped, lower-cased), so
``privateKey``, ``private-key`` and ``PRIVATE_KEY`` are one name. An entry
of five letters or more matches anywhere in the joined name
(``secret_token`` has ``token``); a shorter one (``pin``, ``otp``, ``ssn``)
only as whole tokens (``user_pin``, not ``spinner``). The longest matching
entry decides the strategy. :class:`MaskPolicy` applies those rules to a
whole log row at once: values by name, JSON keys at any depth, and the raw
masked texts scrubbed out of every free text and JSON string.

This module is pure: settings come in as arguments (the hash key as a
callable, so it is read only when a ``hash`` mask needs it).
"""

from __future__ import annotations

import functools
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


#: Entries shorter than this match whole name tokens only.
MIN_FRAGMENT_LENGTH = 5
_WORDS = re.compile(r"[^\W_]+")
#: Token boundaries inside a word: ``aB``, ``ABc`` (before the ``B``), ``a1``, ``1a``.
_CAMEL = re.compile(
    r"(?<=[^\W_])(?=[A-Z][a-z])|(?<=[a-z0-9])(?=[A-Z])|(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])"
)


@functools.lru_cache(maxsize=4096)
def name_tokens(name: str) -> tuple[str, ...]:
    """The lower-case tokens of a name: ``"x-api-key"``, ``"xApiKey"`` and
    ``"X_API_KEY"`` are all ``("x", "api", "key")``; ``"APIKey"`` is
    ``("api", "key")``."""
    tokens: list[str] = []
    for word in _WORDS.findall(name):
        tokens.extend(part.lower() for part in _CAMEL.split(word) if part)
    return tuple(tokens)


class Matcher:
    """The global mask entries, compiled for :meth:`match`."""

    def __init__(self, masks: Mapping[str, str]) -> None:
        # One entry per normalised name; a later one replaces an earlier one
        # ("cardNumber": "partial" in the settings replaces "card_number").
        by_name: dict[str, tuple[tuple[str, ...], str]] = {}
        for entry, strategy in masks.items():
            tokens = name_tokens(entry)
            if tokens:
                by_name.pop("".join(tokens), None)
                by_name["".join(tokens)] = (tokens, strategy)
        # The longest entry that matches decides.
        entries = [(tokens, joined, strategy) for joined, (tokens, strategy) in by_name.items()]
        entries.sort(key=lambda item: -len(item[1]))
        self._entries = tuple(entries)
        self._cache: dict[str, str | None] = {}

    def match(self, name: str) -> str | None:
        """The strategy of the longest entry that matches ``name``, or ``None``."""
        try:
            return self._cache[name]
        except KeyError:
            pass
        tokens = name_tokens(name)
        joined = "".join(tokens)
        found = None
        for entry_tokens, entry, strategy in self._entries:
            if (
                entry in joined
                if len(entry) >= MIN_FRAGMENT_LENGTH
                else _has_run(tokens, entry_tokens)
            ):
                found = strategy
                break
        if len(self._cache) < 4096:
            self._cache[name] = found
        return found


def _has_run(tokens: tuple[str, ...], run: tuple[str, ...]) -> bool:
    size = len(run)
    return any(tokens[i : i + size] == run for i in range(len(tokens) - size + 1))


@functools.lru_cache(maxsize=32)
def _matcher(masks: tuple[tuple[str, str], ...]) -> Matcher:
    return Matcher(dict(masks))


def matcher(global_masks: Mapping[str, str]) -> Matcher:
    """The compiled :class:`Matcher` of ``global_masks`` (cached)."""
    return _matcher(tuple(global_masks.items()))


def strategy_for(
    name: str, model_masks: Mapping[str, str], global_masks: Mapping[str, str]
) -> str | None:
    """The strategy for a field or key name, or ``None``: the model's
    ``mask_fields`` by exact name, else the global entries."""
    if name in model_masks:
        return model_masks[name]
    return matcher(global_masks).match(name)


def partial(text: str) -> str:
    """Enough to recognise, never most of it: ``j***n@example.com``,
    ``+628****7890`` (a number of 13 digits or more keeps its first and last
    four), ``****20`` (9 to 12 digits keep their last two), ``***`` (a short
    number such as a PIN), ``s***t`` (other text of six characters or more
    keeps its first and last; shorter text keeps nothing)."""
    match = _EMAIL.match(text)
    if match:
        local, domain = match.groups()
        head = local[0] + "***" + (local[-1] if len(local) > 3 else "")
        return f"{head}@{domain}"
    if _PHONE.match(text) or (text.isdigit() and text.isascii()):
        digits = re.sub(r"[\s().-]", "", text)
        if len(digits) >= 13:
            return digits[:4] + "****" + digits[-4:]
        if len(digits) >= 9:
            return "****" + digits[-2:]
        return "***"
    if len(text) < 6:
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


_HASHED = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")


def is_mask(value: Any) -> bool:
    """Whether a stored value is what ``redact`` or ``hash`` leaves in place
    of a value (``partial`` leaves nothing as recognisable)."""
    return isinstance(value, str) and (value == REDACTED or bool(_HASHED.match(value)))


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

    @functools.cached_property
    def _matcher(self) -> Matcher:
        return matcher(self.global_masks)

    def key_strategy(self, name: str) -> str | None:
        """The strategy for a key inside a JSON value (or any other name)."""
        if name in self.model_masks:
            return self.model_masks[name]
        return self._matcher.match(name)

    def strategy(self, name: str) -> str | None:
        """The strategy for a top-level name (a field, or a manual log's key)."""
        if name in self.known:
            return self.known[name]
        return self.key_strategy(name)

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

    def nested(self, value: Any, secrets: list[str], keep: Iterable[str] = ()) -> Any:
        """Mask matching keys anywhere inside a JSON value; top-level keys in
        ``keep`` are not matched (values autoaudit made safe itself)."""
        if isinstance(value, dict):
            result = {}
            for key, item in value.items():
                strategy = None if key in keep else self.key_strategy(str(key))
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


def scrub_list(secrets: Iterable[str]) -> list[str]:
    """The secrets worth scrubbing, longest first (so a secret that contains
    another is replaced whole), each once."""
    unique = {secret for secret in secrets if len(secret) >= MIN_SCRUB_LENGTH}
    return sorted(unique, key=lambda secret: (-len(secret), secret))


def scrub_text(text: str | None, secrets: Iterable[str]) -> str | None:
    """Replace raw masked values that appear in free text (names,
    descriptions, the User-Agent). ``secrets`` as :func:`scrub_list` gives them."""
    if not text:
        return text
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub_json(value: Any, secrets: list[str]) -> Any:
    """``value`` (JSON-safe) with every string in it, keys included, passed
    through :func:`scrub_text`. ``secrets`` as :func:`scrub_list` gives them."""
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {scrub_text(k, secrets): scrub_json(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(item, secrets) for item in value]
    return value
