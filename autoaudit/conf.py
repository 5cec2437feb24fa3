"""The ``AUTOAUDIT`` settings: one typed, validated, cached object.

Read it with :func:`get_settings`. The result is cached and dropped whenever
``AUTOAUDIT`` changes (``override_settings``, the pytest ``settings``
fixture), so nothing on the hot path parses ``django.conf``. ``SECRET_KEY``
is not read here: :func:`hash_key` reads it when a keyed hash is first
needed, as Django itself does.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

MASK_STRATEGIES = ("redact", "partial", "hash", "exclude")
ACTOR_TYPES = ("user", "guest", "system")
AUTH_EVENT_NAMES = ("login", "logout", "login_failed")
#: When and where logs are written (``WRITE_MODE``; see docs/scaling.md).
WRITE_MODES = ("transaction", "on_commit", "task")
WriteMode = Literal["transaction", "on_commit", "task"]
REGISTER_OPTIONS = (
    "include_fields",
    "exclude_fields",
    "mask_fields",
    "m2m_fields",
    "entity",
    "entity_name",
    "guest_fields",
    "actions",
    "bulk",
    "description",
    "accessor",
    "tags",
    "related",
)


def close_match(name: object, known: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for a misspelt ``name`` among ``known``, else ``""``."""
    if not isinstance(name, str):
        return ""
    found = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {found[0]!r}?)" if found else ""


def unknown_options(given: Iterable[object]) -> str | None:
    """What is wrong with register options ``given``: the unknown ones, each
    with its likely meant name, and the known ones; ``None`` if all are known."""
    unknown = sorted((str(o) for o in given if o not in REGISTER_OPTIONS), key=str)
    if not unknown:
        return None
    named = ", ".join(f"{o!r}{close_match(o, REGISTER_OPTIONS)}" for o in unknown)
    return f"unknown option(s) {named}; known: {', '.join(REGISTER_OPTIONS)}."


#: ``AUTOAUDIT["MODELS"] = "__all__"`` (or this key in the dict form): every model.
ALL_MODELS = "__all__"

#: Never registered by ``"__all__"``: Django's bookkeeping and autoaudit's own
#: tables (``EXCLUDE_MODELS`` adds to these; naming one in ``MODELS`` still
#: registers it). Django's migration records are not app models at all.
DEFAULT_EXCLUDE_MODELS = (
    "autoaudit",
    "admin.LogEntry",
    "auth.Permission",
    "contenttypes.ContentType",
    "sessions.Session",
)

#: Names masked out of the box. Field names, JSON keys and these entries are
#: normalised alike (camelCase split, ``_``/``-``/spaces dropped, lower-case):
#: entries of five letters or more match anywhere in a name (``secret_token``,
#: ``privateKey``, ``x-api-key``), shorter ones as whole tokens only
#: (``user_pin`` but not ``spinner``). See docs/masking.md.
DEFAULT_MASK_FIELDS: Mapping[str, str] = dict.fromkeys(
    (
        "password",
        "passwd",
        "pwd",
        "passcode",
        "passphrase",
        "secret",
        "token",
        "api_key",
        "access_key",
        "private_key",
        "credential",
        "authorization",
        "cookie",
        "session",
        "card_number",
        "credit_card",
        "cvv",
        "cvc",
        "pin",
        "otp",
        "totp",
        "ssn",
        "iban",
    ),
    "redact",
)

DEFAULT_RETENTION_DAYS: Mapping[str, int | None] = {
    "user": 730,
    "guest": 90,
    "system": 730,
}

#: A century; beyond it keep logs forever with ``None``.
MAX_RETENTION_DAYS = 36_500

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Paths whose POSTs ``LOG_POST_REQUESTS`` never logs (admin, static and media files).
DEFAULT_POST_SKIP_PREFIXES: tuple[str, ...] = ("/admin/", "/static/", "/media/")


@dataclass(frozen=True)
class AutoauditSettings:
    """The validated ``AUTOAUDIT`` settings with every default filled in."""

    #: label -> options; the key ``"__all__"`` (:data:`ALL_MODELS`) stands for
    #: every model not named, less :attr:`EXCLUDE_MODELS`.
    MODELS: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: ``"app_label"`` or ``"app_label.Model"`` labels ``"__all__"`` leaves out,
    #: besides :data:`DEFAULT_EXCLUDE_MODELS`.
    EXCLUDE_MODELS: tuple[str, ...] = ()
    MASK_FIELDS: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_MASK_FIELDS))
    #: ``None``: ``SECRET_KEY``, read when a hash is made (:func:`hash_key`).
    MASK_HASH_KEY: bytes | None = None
    MAX_VALUE_LENGTH: int = 10_000
    MAX_ITEMS: int = 1000
    MAX_VALUE_BYTES: int = 64 * 1024
    TRUSTED_PROXIES: tuple[IPNetwork, ...] = ()
    GUEST_TRACKING: bool = True
    HONOR_GPC: bool = True
    HONOR_DNT: bool = True
    OPT_OUT_COOKIE: str = "autoaudit_opt_out"
    RETENTION_DAYS: Mapping[str, int | None] = field(
        default_factory=lambda: dict(DEFAULT_RETENTION_DAYS)
    )
    PRUNE_BATCH_SIZE: int = 5000
    ARCHIVE_DIR: str | None = None
    #: ``None``: ``SECRET_KEY`` (:func:`archive_secrets`).
    ARCHIVE_KEY: bytes | None = None
    ARCHIVE_KEY_FALLBACKS: tuple[bytes, ...] = ()
    #: ``None``: derived from ``SECRET_KEY`` (:func:`seal_secret`).
    SEAL_KEY: bytes | None = None
    #: Seconds a log row must be old before ``autoaudit_seal`` seals it.
    SEAL_DELAY: int = 300
    ON_ERROR: Literal["raise", "log"] = "raise"
    AUTH_EVENTS: frozenset[str] = frozenset(AUTH_EVENT_NAMES)
    LOG_RAW_SAVES: bool = False
    LOG_POST_REQUESTS: bool = False
    LOG_POST_SKIP_PREFIXES: tuple[str, ...] = DEFAULT_POST_SKIP_PREFIXES
    LOG_POST_ACTION: str = "create"
    PAGE_SIZE: int = 50
    DASHBOARD_CACHE_TIMEOUT: int = 300
    #: Audit of the audit log (PCI DSS 10.2.1.3, 10.2.1.6): see docs/configuration.md.
    LOG_AUDIT_READS: bool = True
    AUDIT_READS_INTERVAL: int = 60
    LOG_AUDIT_DELETES: bool = True
    LOG_DISABLED_BLOCKS: bool = True
    LOG_SETTINGS_CHANGES: bool = True
    # Write modes, the log database and sinks (docs/scaling.md).
    WRITE_MODE: WriteMode = "transaction"
    #: ``None``: each log goes to the database of its change.
    DATABASE: str | None = None
    #: Alias history, the timeline, the admin and the commands read logs from
    #: (a read replica); ``None``: :attr:`DATABASE`.
    READ_DATABASE: str | None = None
    TASK_BACKEND: str = "default"
    SINKS: tuple[str, ...] = ()


def _fail(key: str, message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"AUTOAUDIT[{key!r}] {message}")


def _require_strings(key: str, values: Any) -> None:
    for item in values:
        if not isinstance(item, str):
            raise _fail(key, f"must list strings, not {item!r}.")


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, f"must be True or False, not {value!r}.")
    return value


def _mask_fields(value: Any) -> dict[str, str]:
    key = "MASK_FIELDS"
    if isinstance(value, list | tuple):
        _require_strings(key, value)
        value = dict.fromkeys(value, "redact")
    if not isinstance(value, Mapping):
        raise _fail(key, f"must be a dict of field name -> strategy or a list, not {value!r}.")
    merged = dict(DEFAULT_MASK_FIELDS)
    for name, strategy in value.items():
        if not isinstance(name, str) or not any(ch.isalnum() for ch in name):
            raise _fail(key, f"has a name with no letters or digits to match on: {name!r}.")
        if strategy not in MASK_STRATEGIES:
            raise _fail(
                key,
                f"gives {name!r} the unknown strategy {strategy!r}; "
                f"choose one of {', '.join(MASK_STRATEGIES)}.",
            )
        # A later entry replaces an earlier one of the same normalised name
        # ("cardNumber" replaces the default "card_number"; see Matcher).
        merged[name.lower()] = strategy
    return merged


def _models(value: Any) -> dict[str, dict[str, Any]]:
    key = "MODELS"
    if value == ALL_MODELS:
        value = {ALL_MODELS: {}}
    if isinstance(value, list | tuple):
        _require_strings(key, value)
        value = {label: {} for label in value}
    if not isinstance(value, Mapping):
        raise _fail(key, f"must be a dict of 'app_label.Model' -> options, not {value!r}.")
    result: dict[str, dict[str, Any]] = {}
    for label, options in value.items():
        if label != ALL_MODELS and (not isinstance(label, str) or label.count(".") != 1):
            raise _fail(
                key,
                f"has {label!r}, which is not an 'app_label.ModelName' label (or '__all__').",
            )
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise _fail(key, f"gives {label!r} options that are not a dict: {options!r}.")
        problem = unknown_options(options)
        if problem is not None:
            raise _fail(key, f"gives {label!r} {problem}")
        result[label] = dict(options)
    return result


def _exclude_models(value: Any) -> tuple[str, ...]:
    key = "EXCLUDE_MODELS"
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise _fail(
            key, f"must be a list of 'app_label' or 'app_label.Model' labels, not {value!r}."
        )
    for label in value:
        parts = label.split(".") if isinstance(label, str) else []
        if not 1 <= len(parts) <= 2 or not all(part.isidentifier() for part in parts):
            raise _fail(
                key, f"has {label!r}, which is not an 'app_label' or 'app_label.Model' label."
            )
    return tuple(value)


def _secret(key: str, value: Any, *, none: str = "") -> bytes:
    """A key: a non-empty ``str`` (encoded as UTF-8) or ``bytes``."""
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, bytes) or not value:
        raise _fail(key, f"must be a non-empty string or bytes{none}, not {value!r}.")
    return value


def _secret_or_none(key: str, value: Any) -> bytes | None:
    """A key, or ``None`` for ``SECRET_KEY``."""
    return None if value is None else _secret(key, value, none=", or None for SECRET_KEY")


def _secrets(key: str, value: Any) -> tuple[bytes, ...]:
    if not isinstance(value, list | tuple):
        raise _fail(key, f"must be a list of keys (strings or bytes), not {value!r}.")
    return tuple(_secret(key, item) for item in value)


def _at_least(key: str, value: Any, lowest: int) -> int:
    """The bounds of stored values: ``MAX_VALUE_LENGTH`` (characters, at
    least 100), ``MAX_ITEMS`` (items per list or dict, at least 1) and
    ``MAX_VALUE_BYTES`` (at least 100: its marker must fit)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise _fail(key, f"must be an integer of at least {lowest}, not {value!r}.")
    return value


def _trusted_proxies(value: Any) -> tuple[IPNetwork, ...]:
    key = "TRUSTED_PROXIES"
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise _fail(key, f"must be a list of IP addresses or CIDR networks, not {value!r}.")
    networks = []
    for item in value:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise _fail(key, f"has {item!r}, which is not an IP address or network.") from None
    return tuple(networks)


def _retention(value: Any) -> dict[str, int | None]:
    key = "RETENTION_DAYS"
    if not isinstance(value, Mapping):
        raise _fail(key, f"must be a dict of actor type -> days or None, not {value!r}.")
    merged = dict(DEFAULT_RETENTION_DAYS)
    for actor_type, days in value.items():
        if actor_type not in ACTOR_TYPES:
            raise _fail(
                key,
                f"has the unknown actor type {actor_type!r}; use {', '.join(ACTOR_TYPES)}.",
            )
        if days is not None and (
            isinstance(days, bool)
            or not isinstance(days, int)
            or not 1 <= days <= MAX_RETENTION_DAYS
        ):
            raise _fail(
                key,
                f"gives {actor_type!r} {days!r}; use a number of days from 1 to "
                f"{MAX_RETENTION_DAYS} or None (keep forever).",
            )
        merged[actor_type] = days
    return merged


def _on_error(value: Any) -> Literal["raise", "log"]:
    if value == "raise":
        return "raise"
    if value == "log":
        return "log"
    raise _fail("ON_ERROR", f"must be 'raise' or 'log', not {value!r}.")


#: Characters allowed in a cookie name (an RFC 6265 "token").
_COOKIE_NAME_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~"
)


def _cookie_name(value: Any) -> str:
    if not isinstance(value, str) or not value or not set(value) <= _COOKIE_NAME_CHARS:
        raise _fail(
            "OPT_OUT_COOKIE",
            "must be a non-empty cookie name (letters, digits and !#$%&'*+-.^_`|~; "
            f"no spaces, '=' or ';'), not {value!r}.",
        )
    return value


def _batch_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
        raise _fail("PRUNE_BATCH_SIZE", f"must be an integer from 1 to 1000000, not {value!r}.")
    return value


def _archive_dir(value: Any) -> str | None:
    """``None`` (the current directory when the command runs) or a path."""
    import os

    if value is None:
        return None
    if isinstance(value, str | os.PathLike):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip():
            return text
    raise _fail(
        "ARCHIVE_DIR",
        f"must be a directory path (a string or pathlib.Path) or None, not {value!r}.",
    )


def _auth_events(value: Any) -> frozenset[str]:
    key = "AUTH_EVENTS"
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise _fail(key, f"must be a list of event names, not {value!r}.")
    _require_strings(key, value)
    unknown = sorted(set(value) - set(AUTH_EVENT_NAMES), key=str)
    if unknown:
        raise _fail(
            key,
            f"has unknown event(s) {unknown!r}; choose from {', '.join(AUTH_EVENT_NAMES)}.",
        )
    return frozenset(value)


def _path_prefixes(value: Any) -> tuple[str, ...]:
    key = "LOG_POST_SKIP_PREFIXES"
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise _fail(key, f"must be a list of URL path prefixes, not {value!r}.")
    for prefix in value:
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise _fail(key, f"has {prefix!r}; each prefix is a path starting with '/'.")
    return tuple(value)


def _action(value: Any) -> str:
    from autoaudit.enums import ActionType

    if not isinstance(value, str) or value not in ActionType.values:
        raise _fail(
            "LOG_POST_ACTION",
            f"must be one of {', '.join(ActionType.values)}, not {value!r}.",
        )
    return value


def _write_mode(value: Any) -> WriteMode:
    for mode in WRITE_MODES:
        if value == mode:
            return mode  # type: ignore[return-value]  # one of the literals
    raise _fail(
        "WRITE_MODE",
        f"must be one of {', '.join(map(repr, WRITE_MODES))}, not {value!r}"
        f"{close_match(value, WRITE_MODES)}.",
    )


def _alias(key: str, value: Any, *, none: bool) -> str | None:
    """A database alias (``DATABASE``, ``READ_DATABASE``) or task backend
    alias (``TASK_BACKEND``); whether it exists is a system check
    (``autoaudit.E002``/``E003``)."""
    if value is None and none:
        return None
    if not isinstance(value, str) or not value.strip() or value.strip() != value:
        allowed = "an alias (a non-empty string)" + (" or None" if none else "")
        raise _fail(key, f"must be {allowed}, not {value!r}.")
    return value


def _sinks(value: Any) -> tuple[str, ...]:
    """Dotted paths; whether each imports as a callable is ``autoaudit.E001``."""
    key = "SINKS"
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise _fail(key, f"must be a list of dotted paths of callables, not {value!r}.")
    for path in value:
        if not isinstance(path, str) or "." not in path.strip(".") or path != path.strip():
            raise _fail(key, f"has {path!r}; each entry is a dotted path like 'pkg.module.func'.")
    return tuple(value)


def _int_range(key: str, value: Any, lowest: int, highest: int) -> int:
    """Bounded numbers: ``PAGE_SIZE`` (rows per page), ``DASHBOARD_CACHE_TIMEOUT``
    (seconds; 0 computes the counts every time) and ``SEAL_DELAY`` (seconds)."""
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
        raise _fail(key, f"must be an integer from {lowest} to {highest}, not {value!r}.")
    return value


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "MODELS": _models,
    "EXCLUDE_MODELS": _exclude_models,
    "MASK_FIELDS": _mask_fields,
    "MASK_HASH_KEY": lambda value: _secret_or_none("MASK_HASH_KEY", value),
    "MAX_VALUE_LENGTH": lambda value: _at_least("MAX_VALUE_LENGTH", value, 100),
    "MAX_ITEMS": lambda value: _at_least("MAX_ITEMS", value, 1),
    "MAX_VALUE_BYTES": lambda value: _at_least("MAX_VALUE_BYTES", value, 100),
    "TRUSTED_PROXIES": _trusted_proxies,
    "GUEST_TRACKING": lambda value: _bool("GUEST_TRACKING", value),
    "HONOR_GPC": lambda value: _bool("HONOR_GPC", value),
    "HONOR_DNT": lambda value: _bool("HONOR_DNT", value),
    "OPT_OUT_COOKIE": _cookie_name,
    "RETENTION_DAYS": _retention,
    "PRUNE_BATCH_SIZE": _batch_size,
    "ARCHIVE_DIR": _archive_dir,
    "ARCHIVE_KEY": lambda value: _secret_or_none("ARCHIVE_KEY", value),
    "ARCHIVE_KEY_FALLBACKS": lambda value: _secrets("ARCHIVE_KEY_FALLBACKS", value),
    "SEAL_KEY": lambda value: _secret_or_none("SEAL_KEY", value),
    "SEAL_DELAY": lambda value: _int_range("SEAL_DELAY", value, 0, 7 * 86_400),
    "ON_ERROR": _on_error,
    "AUTH_EVENTS": _auth_events,
    "LOG_RAW_SAVES": lambda value: _bool("LOG_RAW_SAVES", value),
    "LOG_POST_REQUESTS": lambda value: _bool("LOG_POST_REQUESTS", value),
    "LOG_POST_SKIP_PREFIXES": _path_prefixes,
    "LOG_POST_ACTION": _action,
    "PAGE_SIZE": lambda value: _int_range("PAGE_SIZE", value, 1, 500),
    "DASHBOARD_CACHE_TIMEOUT": lambda value: _int_range(
        "DASHBOARD_CACHE_TIMEOUT", value, 0, 86_400
    ),
    "LOG_AUDIT_READS": lambda value: _bool("LOG_AUDIT_READS", value),
    "AUDIT_READS_INTERVAL": lambda value: _int_range("AUDIT_READS_INTERVAL", value, 0, 86_400),
    "LOG_AUDIT_DELETES": lambda value: _bool("LOG_AUDIT_DELETES", value),
    "LOG_DISABLED_BLOCKS": lambda value: _bool("LOG_DISABLED_BLOCKS", value),
    "LOG_SETTINGS_CHANGES": lambda value: _bool("LOG_SETTINGS_CHANGES", value),
    "WRITE_MODE": _write_mode,
    "DATABASE": lambda value: _alias("DATABASE", value, none=True),
    "TASK_BACKEND": lambda value: _alias("TASK_BACKEND", value, none=False),
    "SINKS": _sinks,
    "READ_DATABASE": lambda value: _alias("READ_DATABASE", value, none=True),
}

#: The keys ``AUTOAUDIT`` accepts.
KNOWN_KEYS = tuple(_PARSERS)


def parse_settings(raw: Any) -> AutoauditSettings:
    """Validate a raw ``AUTOAUDIT`` value; raise ``ImproperlyConfigured`` naming the key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured(f"AUTOAUDIT must be a dict, not {type(raw).__name__}.")
    unknown = sorted(set(raw) - set(_PARSERS), key=str)
    if unknown:
        raise ImproperlyConfigured(
            f"AUTOAUDIT has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known keys: {', '.join(KNOWN_KEYS)}."
        )
    values: dict[str, Any] = {
        key: parser(raw[key]) for key, parser in _PARSERS.items() if key in raw
    }
    if values.get("EXCLUDE_MODELS") and ALL_MODELS not in values.get("MODELS", {}):
        raise _fail(
            "EXCLUDE_MODELS",
            "only applies with MODELS '__all__' (it says which models '__all__' leaves out).",
        )
    return AutoauditSettings(**values)


@cache
def get_settings() -> AutoauditSettings:
    """The current validated settings (cached until a setting changes)."""
    return parse_settings(getattr(django_settings, "AUTOAUDIT", None))


def clear_cache() -> None:
    get_settings.cache_clear()


def hash_key() -> bytes:
    """The key of keyed hashes (``hash`` masks, guest session ids):
    ``MASK_HASH_KEY``, else ``SECRET_KEY`` as it is now.

    Read when a hash is made, never at start-up, so a project (or a test)
    without a ``SECRET_KEY`` fails only where a hash is needed, with
    Django's own error.
    """
    key = get_settings().MASK_HASH_KEY
    return key if key is not None else _as_bytes(django_settings.SECRET_KEY)


def archive_secrets() -> tuple[bytes, ...]:
    """The secrets of archive signatures: the first signs, any one verifies.

    ``ARCHIVE_KEY`` then ``ARCHIVE_KEY_FALLBACKS``; while ``ARCHIVE_KEY`` is
    unset, ``SECRET_KEY`` and Django's ``SECRET_KEY_FALLBACKS`` come first
    (so rotating ``SECRET_KEY`` the Django way keeps old archives
    restorable). Read when an archive is written or read, like
    :func:`hash_key`. The HMAC key is derived from each secret with a salt
    of its own (:mod:`autoaudit.lifecycle.signing`), never the secret itself.
    """
    settings = get_settings()
    if settings.ARCHIVE_KEY is not None:
        return (settings.ARCHIVE_KEY, *settings.ARCHIVE_KEY_FALLBACKS)
    django = [django_settings.SECRET_KEY, *getattr(django_settings, "SECRET_KEY_FALLBACKS", ())]
    return (*map(_as_bytes, django), *settings.ARCHIVE_KEY_FALLBACKS)


def seal_secret() -> bytes:
    """The secret behind seals and row MACs: ``SEAL_KEY``, else ``SECRET_KEY``.

    Read when a seal is made or verified, like :func:`hash_key`. The MAC key
    is derived from it with a salt of its own
    (:mod:`autoaudit.lifecycle.rowmac`), never the secret itself.
    """
    key = get_settings().SEAL_KEY
    return key if key is not None else _as_bytes(django_settings.SECRET_KEY)


def _as_bytes(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else bytes(secret)
