"""``autoaudit.conf``: defaults, validation of every key, caching, and checks."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings as django_settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.test.utils import isolate_apps
from pytest_django import Settings

from autoaudit import conf
from autoaudit.checks import MIDDLEWARE_PATH, check_middleware
from autoaudit.conf import (
    DEFAULT_MASK_FIELDS,
    DEFAULT_RETENTION_DAYS,
    KNOWN_KEYS,
    AutoauditSettings,
    archive_secrets,
    get_settings,
    hash_key,
    parse_settings,
)
from autoaudit.values import serialization
from autoaudit.values.masking import strategy_for

REPO_ROOT = Path(__file__).resolve().parent.parent

EXPECTED_KEYS = {
    "MODELS",
    "EXCLUDE_MODELS",
    "MASK_FIELDS",
    "MASK_HASH_KEY",
    "MAX_VALUE_LENGTH",
    "MAX_ITEMS",
    "MAX_VALUE_BYTES",
    "TRUSTED_PROXIES",
    "GUEST_TRACKING",
    "RETENTION_DAYS",
    "ON_ERROR",
    "AUTH_EVENTS",
    "LOG_RAW_SAVES",
    "LOG_POST_REQUESTS",
    "LOG_POST_SKIP_PREFIXES",
    "LOG_POST_ACTION",
    "HONOR_GPC",
    "HONOR_DNT",
    "OPT_OUT_COOKIE",
    "PRUNE_BATCH_SIZE",
    "ARCHIVE_DIR",
    "ARCHIVE_KEY",
    "ARCHIVE_KEY_FALLBACKS",
    "SEAL_KEY",
    "SEAL_DELAY",
    "PAGE_SIZE",
    "DASHBOARD_CACHE_TIMEOUT",
    "LOG_AUDIT_READS",
    "AUDIT_READS_INTERVAL",
    "LOG_AUDIT_DELETES",
    "LOG_DISABLED_BLOCKS",
    "LOG_SETTINGS_CHANGES",
    "WRITE_MODE",
    "DATABASE",
    "TASK_BACKEND",
    "SINKS",
    "READ_DATABASE",
}


# --- defaults ---------------------------------------------------------------


def test_known_keys_match_the_settings_object() -> None:
    fields = set(AutoauditSettings.__dataclass_fields__)
    assert set(KNOWN_KEYS) == fields == EXPECTED_KEYS


@pytest.mark.parametrize("raw", [None, {}])
def test_defaults(raw: Any) -> None:
    parsed = parse_settings(raw)
    assert parsed.MODELS == {}
    assert dict(DEFAULT_MASK_FIELDS) == parsed.MASK_FIELDS
    for name in ("password", "token", "secret", "api_key", "card_number"):
        assert parsed.MASK_FIELDS[name] == "redact"
    assert parsed.MASK_HASH_KEY is None  # SECRET_KEY, read when a hash is made
    assert parsed.MAX_VALUE_LENGTH == 10_000
    assert parsed.MAX_ITEMS == 1000
    assert parsed.MAX_VALUE_BYTES == 65_536
    assert parsed.TRUSTED_PROXIES == ()
    assert parsed.GUEST_TRACKING is True
    assert parsed.RETENTION_DAYS == {"user": 730, "guest": 90, "system": 730}
    assert parsed.ON_ERROR == "raise"
    assert frozenset({"login", "logout", "login_failed"}) == parsed.AUTH_EVENTS
    assert parsed.LOG_RAW_SAVES is False


#: What tests/settings.py changes from the defaults (see the comment there).
TEST_AUTOAUDIT = {"LOG_SETTINGS_CHANGES": False, "LOG_DISABLED_BLOCKS": False}


def test_test_settings_use_the_defaults() -> None:
    # Only two switches of the audit of the audit log differ.
    assert django_settings.AUTOAUDIT == TEST_AUTOAUDIT
    assert get_settings() == parse_settings(TEST_AUTOAUDIT)


def test_defaults_are_not_shared_between_parses() -> None:
    first = parse_settings({"MASK_FIELDS": {"shoe_size": "hash"}})
    second = parse_settings({})
    assert "shoe_size" in first.MASK_FIELDS
    assert "shoe_size" not in second.MASK_FIELDS
    assert "shoe_size" not in DEFAULT_MASK_FIELDS
    assert DEFAULT_RETENTION_DAYS == {"user": 730, "guest": 90, "system": 730}


# --- good values ------------------------------------------------------------


def test_models_accepts_dict_list_and_none_options() -> None:
    parsed = parse_settings(
        {"MODELS": {"auth.User": {"exclude_fields": ["last_login"]}, "x.Y": None}}
    )
    assert parsed.MODELS == {"auth.User": {"exclude_fields": ["last_login"]}, "x.Y": {}}
    assert parse_settings({"MODELS": ["auth.User"]}).MODELS == {"auth.User": {}}


def test_mask_fields_partial_dict_extends_defaults() -> None:
    parsed = parse_settings({"MASK_FIELDS": {"National_ID": "hash", "token": "partial"}})
    assert parsed.MASK_FIELDS["national_id"] == "hash"  # lower-cased
    assert parsed.MASK_FIELDS["token"] == "partial"  # a default overridden
    assert parsed.MASK_FIELDS["password"] == "redact"  # defaults kept
    assert set(DEFAULT_MASK_FIELDS) <= set(parsed.MASK_FIELDS)


def test_mask_fields_entry_replaces_the_default_of_the_same_normalised_name() -> None:
    parsed = parse_settings({"MASK_FIELDS": {"cardNumber": "partial"}})
    for name in ("card_number", "card-number", "CardNumber", "billing.cardNumber"):
        assert strategy_for(name, {}, parsed.MASK_FIELDS) == "partial", name


@pytest.mark.parametrize("name", ["", "__", "- -", "..."])
def test_mask_fields_name_with_nothing_to_match_on(name: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"MASK_FIELDS.*no letters or digits"):
        parse_settings({"MASK_FIELDS": {name: "redact"}})


def test_mask_fields_list_uses_redact() -> None:
    parsed = parse_settings({"MASK_FIELDS": ["pin", "dob"]})
    assert parsed.MASK_FIELDS["pin"] == "redact"
    assert parsed.MASK_FIELDS["dob"] == "redact"
    assert parsed.MASK_FIELDS["password"] == "redact"


@pytest.mark.parametrize("strategy", ["redact", "partial", "hash", "exclude"])
def test_mask_fields_every_strategy(strategy: str) -> None:
    assert parse_settings({"MASK_FIELDS": {"pin": strategy}}).MASK_FIELDS["pin"] == strategy


def test_retention_days_partial_dict_merges_with_defaults() -> None:
    parsed = parse_settings({"RETENTION_DAYS": {"guest": 30}})
    assert parsed.RETENTION_DAYS == {"user": 730, "guest": 30, "system": 730}


def test_retention_days_none_keeps_forever() -> None:
    parsed = parse_settings({"RETENTION_DAYS": {"user": None, "system": 1}})
    assert parsed.RETENTION_DAYS == {"user": None, "guest": 90, "system": 1}


def test_mask_hash_key_defaults_to_secret_key() -> None:
    assert parse_settings({}).MASK_HASH_KEY is None
    assert parse_settings({"MASK_HASH_KEY": None}).MASK_HASH_KEY is None
    assert hash_key() == b"autoaudit-tests-not-secret"


@pytest.mark.parametrize(("value", "expected"), [("k3y", b"k3y"), (b"\x00raw", b"\x00raw")])
def test_mask_hash_key_explicit(value: Any, expected: bytes) -> None:
    assert expected == parse_settings({"MASK_HASH_KEY": value}).MASK_HASH_KEY


def test_mask_hash_key_follows_secret_key_changes() -> None:
    with override_settings(SECRET_KEY="another-secret"):
        assert hash_key() == b"another-secret"
    assert hash_key() == b"autoaudit-tests-not-secret"


def test_an_explicit_mask_hash_key_wins_over_secret_key(settings: Settings) -> None:
    settings.AUTOAUDIT = {"MASK_HASH_KEY": "mine"}
    assert hash_key() == b"mine"


def test_secret_key_is_read_only_when_a_hash_is_made() -> None:
    # Django itself checks SECRET_KEY only where it is used; so do we.
    from django.core.exceptions import ImproperlyConfigured

    with override_settings(SECRET_KEY=""):
        assert get_settings().MASK_FIELDS  # settings still parse
        with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
            hash_key()


def test_archive_secrets_default_to_secret_key_and_its_fallbacks(settings: Settings) -> None:
    assert parse_settings({}).ARCHIVE_KEY is None
    assert archive_secrets() == (b"autoaudit-tests-not-secret",)
    settings.SECRET_KEY_FALLBACKS = ["older", b"oldest"]
    settings.AUTOAUDIT = {"ARCHIVE_KEY_FALLBACKS": ["retired archive key"]}
    assert archive_secrets() == (
        b"autoaudit-tests-not-secret",
        b"older",
        b"oldest",
        b"retired archive key",
    )


def test_an_explicit_archive_key_leaves_secret_key_out(settings: Settings) -> None:
    # A separate archive key exists so that SECRET_KEY cannot sign archives.
    settings.SECRET_KEY_FALLBACKS = ["older"]
    settings.AUTOAUDIT = {"ARCHIVE_KEY": "archive key", "ARCHIVE_KEY_FALLBACKS": (b"old",)}
    assert archive_secrets() == (b"archive key", b"old")


def test_trusted_proxies_accepts_ips_cidrs_and_ipv6() -> None:
    parsed = parse_settings(
        {
            "TRUSTED_PROXIES": [
                "10.0.0.1",
                "192.168.0.0/16",
                "::1",
                "2001:db8::/32",
                " 172.16.0.5 ",
            ]
        }
    )
    assert (
        ipaddress.ip_network("10.0.0.1/32"),
        ipaddress.ip_network("192.168.0.0/16"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("2001:db8::/32"),
        ipaddress.ip_network("172.16.0.5/32"),
    ) == parsed.TRUSTED_PROXIES
    assert ipaddress.ip_address("192.168.4.2") in parsed.TRUSTED_PROXIES[1]
    assert ipaddress.ip_address("2001:db8::7") in parsed.TRUSTED_PROXIES[3]


def test_trusted_proxies_host_bits_are_tolerated() -> None:
    parsed = parse_settings({"TRUSTED_PROXIES": ("10.1.2.3/8",)})
    assert (ipaddress.ip_network("10.0.0.0/8"),) == parsed.TRUSTED_PROXIES


@pytest.mark.parametrize("value", [100, 10_000_000])
def test_max_value_length_good(value: int) -> None:
    assert value == parse_settings({"MAX_VALUE_LENGTH": value}).MAX_VALUE_LENGTH


@pytest.mark.parametrize(("key", "value"), [("MAX_ITEMS", 1), ("MAX_VALUE_BYTES", 100)])
def test_value_bounds_good(key: str, value: int) -> None:
    for good in (value, 10**9):
        assert getattr(parse_settings({key: good}), key) == good


def test_value_bound_defaults_are_the_serializers() -> None:
    # ``autoaudit.values`` reads no settings: its defaults must be these.
    parsed = parse_settings({})
    assert parsed.MAX_ITEMS == serialization.DEFAULT_MAX_ITEMS
    assert parsed.MAX_VALUE_BYTES == serialization.DEFAULT_MAX_VALUE_BYTES


@pytest.mark.parametrize("events", [[], ["login"], ("logout", "login_failed")])
def test_auth_events_subsets(events: Any) -> None:
    assert frozenset(events) == parse_settings({"AUTH_EVENTS": events}).AUTH_EVENTS


def test_booleans_and_on_error() -> None:
    parsed = parse_settings({"GUEST_TRACKING": False, "LOG_RAW_SAVES": True, "ON_ERROR": "log"})
    assert parsed.GUEST_TRACKING is False
    assert parsed.LOG_RAW_SAVES is True
    assert parsed.ON_ERROR == "log"


def test_settings_object_is_frozen() -> None:
    parsed = parse_settings({})
    with pytest.raises(AttributeError):
        parsed.ON_ERROR = "log"  # type: ignore[misc]  # frozen: must fail


# --- bad values: each names its key -----------------------------------------

BAD_VALUES = [
    ("MODELS", "auth.User"),
    ("MODELS", 42),
    ("MODELS", {"auth_User": {}}),
    ("MODELS", {"a.b.C": {}}),
    ("MODELS", {"auth.User": ["exclude_fields"]}),
    ("MODELS", {"auth.User": {"exclude": ["last_login"]}}),
    ("MODELS", "all"),
    ("EXCLUDE_MODELS", "auth"),
    ("EXCLUDE_MODELS", ["auth.User.x"]),
    ("EXCLUDE_MODELS", ["auth"]),  # without MODELS "__all__"
    ("MASK_FIELDS", "password"),
    ("MASK_FIELDS", 3),
    ("MASK_FIELDS", {"pin": "scramble"}),
    ("MASK_FIELDS", {"": "redact"}),
    ("MASK_FIELDS", {1: "redact"}),
    ("MASK_FIELDS", ["pin", 5]),
    ("MASK_HASH_KEY", ""),
    ("MASK_HASH_KEY", b""),
    ("MASK_HASH_KEY", 1234),
    ("MAX_VALUE_LENGTH", 99),
    ("MAX_VALUE_LENGTH", -1),
    ("MAX_VALUE_LENGTH", "10000"),
    ("MAX_VALUE_LENGTH", 10_000.0),
    ("MAX_VALUE_LENGTH", True),
    ("MAX_VALUE_LENGTH", None),
    ("MAX_ITEMS", 0),
    ("MAX_ITEMS", -5),
    ("MAX_ITEMS", "1000"),
    ("MAX_ITEMS", 10.0),
    ("MAX_ITEMS", True),
    ("MAX_ITEMS", None),
    ("MAX_VALUE_BYTES", 99),
    ("MAX_VALUE_BYTES", 0),
    ("MAX_VALUE_BYTES", "64KiB"),
    ("MAX_VALUE_BYTES", 65536.0),
    ("MAX_VALUE_BYTES", False),
    ("TRUSTED_PROXIES", "10.0.0.1"),
    ("TRUSTED_PROXIES", None),
    ("TRUSTED_PROXIES", ["not-an-ip"]),
    ("TRUSTED_PROXIES", ["10.0.0.0/33"]),
    ("TRUSTED_PROXIES", ["::1/129"]),
    ("GUEST_TRACKING", "yes"),
    ("GUEST_TRACKING", 1),
    ("GUEST_TRACKING", None),
    ("RETENTION_DAYS", 30),
    ("RETENTION_DAYS", [("user", 30)]),
    ("RETENTION_DAYS", {"robot": 30}),
    ("RETENTION_DAYS", {"user": 0}),
    ("RETENTION_DAYS", {"guest": -5}),
    ("RETENTION_DAYS", {"guest": "90"}),
    ("RETENTION_DAYS", {"guest": 9.5}),
    ("RETENTION_DAYS", {"system": True}),
    ("ON_ERROR", "explode"),
    ("ON_ERROR", "RAISE"),
    ("ON_ERROR", None),
    ("ON_ERROR", True),
    ("AUTH_EVENTS", "login"),
    ("AUTH_EVENTS", None),
    ("AUTH_EVENTS", ["signup"]),
    ("AUTH_EVENTS", ["login", 7]),
    ("LOG_RAW_SAVES", "no"),
    ("LOG_RAW_SAVES", 0),
    ("LOG_POST_REQUESTS", "yes"),
    ("LOG_POST_SKIP_PREFIXES", "/admin/"),
    ("LOG_POST_SKIP_PREFIXES", ["admin/"]),
    ("LOG_POST_ACTION", "explode"),
    ("HONOR_GPC", 1),
    ("HONOR_DNT", "true"),
    ("OPT_OUT_COOKIE", ""),
    ("OPT_OUT_COOKIE", 3),
    ("PRUNE_BATCH_SIZE", 0),
    ("PRUNE_BATCH_SIZE", True),
    ("ARCHIVE_DIR", 5),
    ("ARCHIVE_KEY", ""),
    ("ARCHIVE_KEY", 1234),
    ("ARCHIVE_KEY", ["a key"]),
    ("ARCHIVE_KEY_FALLBACKS", "old key"),
    ("ARCHIVE_KEY_FALLBACKS", None),
    ("ARCHIVE_KEY_FALLBACKS", ["old key", ""]),
    ("ARCHIVE_KEY_FALLBACKS", [None]),
    ("PAGE_SIZE", 0),
    ("PAGE_SIZE", 501),
    ("DASHBOARD_CACHE_TIMEOUT", -1),
    ("LOG_AUDIT_READS", "yes"),
    ("AUDIT_READS_INTERVAL", -1),
    ("AUDIT_READS_INTERVAL", 86_401),
    ("LOG_AUDIT_DELETES", 1),
    ("LOG_DISABLED_BLOCKS", None),
    ("LOG_SETTINGS_CHANGES", "no"),
    ("DASHBOARD_CACHE_TIMEOUT", True),
    ("SEAL_KEY", ""),
    ("SEAL_KEY", 5),
    ("SEAL_DELAY", -1),
    ("SEAL_DELAY", "300"),
    ("SEAL_DELAY", 8 * 86_400),
    ("WRITE_MODE", "later"),
    ("WRITE_MODE", None),
    ("DATABASE", ""),
    ("DATABASE", 1),
    ("TASK_BACKEND", None),
    ("TASK_BACKEND", " "),
    ("SINKS", "autoaudit.sinks.json_logger"),
    ("SINKS", ["json_logger"]),
    ("SINKS", [None]),
    ("DATABASE", ""),
    ("READ_DATABASE", " replica"),
    ("READ_DATABASE", ["replica"]),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_bad_value_names_the_key(key: str, value: Any) -> None:
    with pytest.raises(ImproperlyConfigured) as excinfo:
        parse_settings({key: value})
    assert key in str(excinfo.value)


def test_every_key_has_a_bad_value_test() -> None:
    assert {key for key, _value in BAD_VALUES} == EXPECTED_KEYS


def test_unknown_key_is_named() -> None:
    with pytest.raises(ImproperlyConfigured) as excinfo:
        parse_settings({"ON_ERROR": "log", "MASK_FEILDS": ["pin"]})
    message = str(excinfo.value)
    assert "MASK_FEILDS" in message
    assert "ON_ERROR" in message  # the known keys are listed as a hint


def test_several_unknown_keys_are_all_named() -> None:
    with pytest.raises(ImproperlyConfigured) as excinfo:
        parse_settings({"ZETA": 1, "ALPHA": 2})
    assert "ZETA" in str(excinfo.value)
    assert "ALPHA" in str(excinfo.value)


def test_lower_case_key_is_unknown() -> None:
    with pytest.raises(ImproperlyConfigured, match="on_error"):
        parse_settings({"on_error": "log"})


@pytest.mark.parametrize("raw", ["ON_ERROR", ["ON_ERROR"], 1, ("a", "b")])
def test_non_dict_autoaudit(raw: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="AUTOAUDIT must be a dict"):
        parse_settings(raw)


# --- override_settings / the settings fixture --------------------------------


def test_override_settings_takes_effect() -> None:
    assert get_settings().ON_ERROR == "raise"
    with override_settings(AUTOAUDIT={"ON_ERROR": "log", "MAX_VALUE_LENGTH": 500}):
        assert get_settings().ON_ERROR == "log"
        assert get_settings().MAX_VALUE_LENGTH == 500
    assert get_settings().ON_ERROR == "raise"
    assert get_settings().MAX_VALUE_LENGTH == 10_000


@override_settings(AUTOAUDIT={"RETENTION_DAYS": {"guest": 7}})
def test_override_settings_decorator() -> None:
    assert get_settings().RETENTION_DAYS == {"user": 730, "guest": 7, "system": 730}


def test_settings_fixture_takes_effect(settings: Settings) -> None:
    assert get_settings().GUEST_TRACKING is True
    settings.AUTOAUDIT = {"GUEST_TRACKING": False}
    assert get_settings().GUEST_TRACKING is False
    settings.AUTOAUDIT = {"GUEST_TRACKING": False, "AUTH_EVENTS": []}
    assert frozenset() == get_settings().AUTH_EVENTS


def test_settings_fixture_is_undone_afterwards() -> None:
    # Runs after test_settings_fixture_takes_effect: nothing leaked.
    assert get_settings() == parse_settings(TEST_AUTOAUDIT)


def test_get_settings_is_cached() -> None:
    assert get_settings() is get_settings()
    first = get_settings()
    conf.clear_cache()
    assert get_settings() is not first
    assert get_settings() == first


def test_bad_override_raises_and_restores() -> None:
    with (
        pytest.raises(ImproperlyConfigured, match="ON_ERROR"),
        override_settings(AUTOAUDIT={"ON_ERROR": "explode"}),
    ):
        get_settings()
    assert get_settings().ON_ERROR == "raise"


# --- django.setup() validation ------------------------------------------------


def _setup_with(settings_module: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import django, os; "
        f"os.environ['DJANGO_SETTINGS_MODULE'] = {settings_module!r}; "
        "django.setup()"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_django_setup_fails_on_bad_settings() -> None:
    result = _setup_with("tests.settings_bad")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "ON_ERROR" in result.stderr
    assert "explode" in result.stderr


def test_django_setup_succeeds_on_good_settings() -> None:
    result = _setup_with("tests.settings")
    assert result.returncode == 0, result.stderr


# --- system checks ------------------------------------------------------------

GOOD_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    MIDDLEWARE_PATH,
]


def _autoaudit_ids() -> list[str]:
    messages = checks.run_checks(tags=[checks.Tags.security])
    return [m.id for m in messages if m.id is not None and m.id.startswith("autoaudit.")]


@override_settings(MIDDLEWARE=GOOD_MIDDLEWARE[:-1])
def test_check_warns_without_middleware() -> None:
    messages = check_middleware()
    assert len(messages) == 1
    (message,) = messages
    assert message.id == "autoaudit.W001"
    assert message.level == checks.WARNING
    assert MIDDLEWARE_PATH in message.msg
    assert message.hint is not None and MIDDLEWARE_PATH in message.hint
    assert _autoaudit_ids() == ["autoaudit.W001"]


@override_settings(MIDDLEWARE=GOOD_MIDDLEWARE)
def test_check_silent_with_middleware() -> None:
    assert check_middleware() == []
    assert _autoaudit_ids() == []


@override_settings(MIDDLEWARE=[])
def test_check_warns_on_empty_middleware() -> None:
    assert [m.id for m in check_middleware()] == ["autoaudit.W001"]


def test_check_is_registered_under_security_tag() -> None:
    # checks.register() tags the function itself. Matched by identity: the
    # stubs give the registered checks a protocol a plain function is not.
    tags = {id(check): check.tags for check in checks.registry.registry.get_checks()}
    assert id(check_middleware) in tags
    assert checks.Tags.security in tags[id(check_middleware)]


@pytest.mark.parametrize(
    "raw",
    [
        {"AUTH_EVENTS": [["login"]]},
        {"MASK_FIELDS": [["a"]]},
        {"MODELS": [["a.B"]]},
        {"RETENTION_DAYS": {"user": 10**30}},
    ],
)
def test_nested_or_huge_values_fail_cleanly(raw: dict[str, object]) -> None:
    from autoaudit.conf import parse_settings

    (key,) = raw
    with pytest.raises(ImproperlyConfigured, match=key):
        parse_settings(raw)


@pytest.mark.skipif(django.VERSION < (6, 1), reason="on_delete=DB_CASCADE is new in Django 6.1")
@isolate_apps("tests.testapp")
def test_database_level_on_delete_of_a_tracked_model_warns(track: Any) -> None:
    from django.db import models

    from autoaudit.checks import check_database_on_delete

    class Owner(models.Model):
        class Meta:
            app_label = "testapp"

    class Pet(models.Model):
        owner = models.ForeignKey(Owner, on_delete=models.DB_CASCADE)
        keeper = models.ForeignKey(
            Owner,
            on_delete=models.DB_SET_NULL,
            null=True,
            related_name="kept",
        )
        friend = models.ForeignKey(Owner, on_delete=models.CASCADE, related_name="friends")

        class Meta:
            app_label = "testapp"

    assert check_database_on_delete() == []  # nothing tracked: nothing lost
    track(Pet)
    warnings = check_database_on_delete()
    assert [w.id for w in warnings] == ["autoaudit.W002", "autoaudit.W002"]
    assert "testapp.Pet.owner uses on_delete=DB_CASCADE" in warnings[0].msg
    assert "deleted" in warnings[0].msg
    assert "testapp.Pet.keeper uses on_delete=DB_SET_NULL" in warnings[1].msg
    assert "changed" in warnings[1].msg
