from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from pytest_django import Settings

import autoaudit
from autoaudit.actors.request import using_request
from autoaudit.conf import hash_key
from autoaudit.models import ActivityLog
from autoaudit.values.masking import REDACTED, mask_value, partial, strategy_for
from tests.testapp.models import VAULT_SECRETS, Account, ContactMessage, Product, Vault
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


def row_text(log: ActivityLog) -> str:
    return json.dumps(
        [
            log.old_values,
            log.new_values,
            log.description,
            log.entity_name,
            log.extra_data,
        ]
    )


def test_partial_examples_from_the_design_document() -> None:
    assert partial("john@example.com") == "j***n@example.com"
    assert partial("+6281234567890") == "+628****7890"
    assert partial("secret") == "s***t"
    assert partial("ab") == "***"


def test_default_fragments_match_case_insensitively() -> None:
    from autoaudit.conf import get_settings

    masks = get_settings().MASK_FIELDS
    for name in ["password", "secret_token", "API_KEY", "card_number", "myPassword"]:
        assert strategy_for(name, {}, masks) == "redact", name
    assert strategy_for("name", {}, masks) is None


def test_hash_is_keyed_and_comparable(settings: Settings) -> None:
    first = mask_value("value", "hash", hash_key)
    assert first == mask_value("value", "hash", hash_key)
    assert first.startswith("hmac-sha256:") and "value" not in first
    settings.AUTOAUDIT = {"MASK_HASH_KEY": "another key"}
    assert mask_value("value", "hash", hash_key) != first


def test_default_masks_on_a_model(track: Track) -> None:
    track(Account)
    account = Account.objects.create(
        username="bob",
        password="hunter2-raw",
        api_key="key-raw-123",
        secret_token="tok-raw-456",
        card_number="4111111111111111",
    )
    log = ActivityLog.objects.get()
    for field in ["password", "api_key", "secret_token", "card_number"]:
        assert log.new_values[field] == REDACTED
    for raw in ["hunter2-raw", "key-raw-123", "tok-raw-456", "4111111111111111"]:
        assert raw not in row_text(log)
    account.password = "new-raw-pass"
    account.save()
    log = ActivityLog.objects.order_by("-id")[0]
    assert log.changed_fields == ["password"]
    assert log.old_values == {"password": REDACTED}
    assert "new-raw-pass" not in row_text(log)


def test_model_strategies(track: Track) -> None:
    track(
        Account,
        mask_fields={
            "email": "partial",
            "phone": "partial",
            "username": "hash",
            "settings": "exclude",
        },
    )
    Account.objects.create(
        username="jane",
        email="john@example.com",
        phone="+6281234567890",
        settings={"a": 1},
    )
    log = ActivityLog.objects.get()
    assert log.new_values["email"] == "j***n@example.com"
    assert log.new_values["phone"] == "+628****7890"
    assert log.new_values["username"].startswith("hmac-sha256:")
    assert "settings" not in log.new_values
    # __str__ returns the username: the raw value must not leak via entity_name
    assert "jane" not in row_text(log)


def test_masking_reaches_into_json_values(track: Track) -> None:
    track(Account)
    Account.objects.create(
        username="u",
        settings={
            "theme": "dark",
            "smtp": {"Password": "raw-pw", "host": "mail"},
            "api_key": "raw-k",
        },
    )
    values = ActivityLog.objects.get().new_values["settings"]
    assert values == {
        "theme": "dark",
        "smtp": {"Password": REDACTED, "host": "mail"},
        "api_key": REDACTED,
    }


def test_global_setting_extends_defaults(track: Track, settings: Settings) -> None:
    settings.AUTOAUDIT = {"MASK_FIELDS": {"internal_note": "partial"}}
    track(Product)
    Product.objects.create(name="P", internal_note="confidential", metadata={"password": "x"})
    log = ActivityLog.objects.get()
    assert log.new_values["internal_note"] == "c***l"
    assert log.new_values["metadata"] == {"password": REDACTED}


def test_manual_logging_is_masked() -> None:
    log = autoaudit.log_activity(
        None,
        "update",
        "account",
        entity_id=1,
        old_values={"password": "old-raw", "name": "a"},
        new_values={"password": "new-raw", "name": "b"},
        changed_fields=["password", "name"],
    )
    log.refresh_from_db()
    assert log.old_values == {"password": REDACTED, "name": "a"}
    assert "old-raw" not in row_text(log) and "new-raw" not in row_text(log)


def test_create_for_instance_is_masked(track: Track) -> None:
    track(Account, mask_fields={"email": "partial"})
    account = Account.objects.create(username="u", email="jane@example.com")
    log = ActivityLog.create_for_instance(
        account, "update", new_values={"email": "jane@example.com", "password": "p-raw"}
    )
    log.refresh_from_db()
    assert log.new_values == {"email": "j***e@example.com", "password": REDACTED}


def test_create_for_instance_writes_nothing_inside_disabled(track: Track) -> None:
    track(Account)
    account = Account.objects.create(username="u")
    with autoaudit.disabled():
        log = ActivityLog.create_for_instance(account, "view")
    assert log.pk is None
    assert ActivityLog.objects.filter(action="view").count() == 0


# -- issue 13: names, every column, every path ----------------------------------
SECRET_NAMES = [
    # field names the defaults missed
    "pwd", "passcode", "passphrase", "otp", "pin", "ssn", "iban", "session_key",
    "privateKey", "accessKey", "creditCard", "authorization",
    # JSON keys the defaults missed
    "x-api-key", "private-key", "card-number", "Authorization", "cookie",
    # the same names, spelt other ways
    "PRIVATE_KEY", "private key", "apiKey", "APIKey", "user_pin", "PIN", "otpCode",
    "HTTP_AUTHORIZATION", "Set-Cookie", "sessionid", "cvv2",
]  # fmt: skip
LOOK_ALIKES = ["spinner", "shipping", "pinned", "footprint", "classname", "caribbean", "name"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_default_masks_match_common_names_however_spelt(name: str) -> None:
    from autoaudit.conf import get_settings

    assert strategy_for(name, {}, get_settings().MASK_FIELDS) == "redact"


@pytest.mark.parametrize("name", LOOK_ALIKES)
def test_short_entries_match_whole_tokens_only(name: str) -> None:
    from autoaudit.conf import get_settings

    assert strategy_for(name, {}, get_settings().MASK_FIELDS) is None


def test_the_longest_matching_entry_decides(settings: Settings) -> None:
    settings.AUTOAUDIT = {"MASK_FIELDS": {"token": "partial", "session_token": "hash"}}
    from autoaudit.conf import get_settings

    masks = get_settings().MASK_FIELDS
    assert strategy_for("sessionToken", {}, masks) == "hash"
    assert strategy_for("csrf_token", {}, masks) == "partial"


def test_fields_and_keys_under_common_names_are_masked(track: Track) -> None:
    track(Vault)
    values = {name: f"raw-{name}" for name in VAULT_SECRETS}
    data = {"headers": {"x-api-key": "raw-k", "Authorization": "Bearer raw-b", "cookie": "raw-c"}}
    Vault.objects.create(label="v", spinner="spins", shipping="fast", data=data, **values)
    log = ActivityLog.objects.get()
    assert log.new_values is not None
    for name in VAULT_SECRETS:
        assert log.new_values[name] == REDACTED, name
    assert log.new_values["spinner"] == "spins" and log.new_values["shipping"] == "fast"
    assert log.new_values["data"] == {"headers": dict.fromkeys(data["headers"], REDACTED)}
    assert "raw-" not in json.dumps([log.entity_name, log.description])


def test_excluded_field_never_reaches_the_name(track: Track) -> None:
    track(Vault, mask_fields={"memo": "exclude"})
    vault = Vault.objects.create(label="v", memo="memo-raw-1")
    vault.memo = "memo-raw-2"
    vault.save()
    vault.label = "w"
    vault.save()
    logs = list(ActivityLog.objects.all())
    assert [log.action for log in logs] == ["update", "create"]  # memo alone: no log
    assert "memo-raw" not in json.dumps([[log.entity_name, log.description] for log in logs])


def test_log_activity_applies_the_models_masks(track: Track) -> None:
    track(Vault, mask_fields={"label": "hash", "memo": "exclude"})
    log = autoaudit.log_activity(
        None,
        "update",
        "testapp.Vault",
        entity_id=1,
        entity_name="vault label-raw",
        old_values={"label": "label-raw", "memo": "memo-raw"},
        new_values={"label": "label-new"},
        changed_fields=["label"],
    )
    log.refresh_from_db()
    assert log.old_values == {"label": mask_value("label-raw", "hash", hash_key)}
    assert log.entity_name == f"vault {REDACTED}"
    assert "raw" not in row_text(log)


def test_extra_data_and_metadata_are_masked_by_key() -> None:
    with (
        autoaudit.context(api_key="ctx-raw", note="plain"),
        autoaudit.actor(identifier="bot", metadata={"Authorization": "Bearer md-raw"}),
    ):
        log = autoaudit.log_activity(
            None,
            "view",
            "report",
            extra_data={"headers": {"Cookie": "ck-raw"}},
            token="kw-raw",
        )
    log.refresh_from_db()
    assert log.extra_data == {"api_key": REDACTED, "note": "plain", "headers": {"Cookie": REDACTED}}
    assert log.actor_metadata is not None
    assert log.actor_metadata["Authorization"] == REDACTED
    assert log.actor_metadata["token"] == REDACTED
    assert "raw" not in json.dumps([log.extra_data, log.actor_metadata])


def test_a_secret_of_the_instance_is_scrubbed_from_extra_data_and_user_agent(
    track: Track, rf: RequestFactory
) -> None:
    track(Account)
    request = rf.get("/", HTTP_USER_AGENT="Bot (sk-live-99999)")
    request.user = AnonymousUser()
    with using_request(request), autoaudit.context(note="key is sk-live-99999"):
        Account.objects.create(username="u", api_key="sk-live-99999")
    log = ActivityLog.objects.get()
    assert log.user_agent == f"Bot ({REDACTED})"
    assert log.extra_data == {"note": f"key is {REDACTED}"}


def test_guest_named_by_a_masked_field_is_named_masked(track: Track, rf: RequestFactory) -> None:
    track(
        ContactMessage,
        mask_fields={"email": "hash", "phone": "exclude"},
        guest_fields={"email": "email", "phone": "phone", "name": "name"},
    )
    request = rf.get("/")
    request.user = AnonymousUser()
    with using_request(request):
        ContactMessage.objects.create(name="Ann", email="ann@example.com", phone="+62811111111")
    log = ActivityLog.objects.get()
    hashed = mask_value("ann@example.com", "hash", hash_key)
    assert log.actor_identifier == hashed
    assert log.actor_metadata == {"email": hashed}
    assert "ann@example.com" not in row_text(log) and "62811111111" not in str(log.actor_metadata)


def test_referrer_is_stored_without_query_or_fragment(rf: RequestFactory) -> None:
    request = rf.get("/", HTTP_REFERER="https://shop.test/reset?token=abc123#access_token=x")
    request.user = AnonymousUser()
    log = autoaudit.log_activity(request, "view", "page")
    log.refresh_from_db()
    assert log.actor_metadata is not None
    assert log.actor_metadata["referrer"] == "https://shop.test/reset"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("john@example.com", "j***n@example.com"),
        ("+6281234567890", "+628****7890"),
        ("078-05-1120", "****20"),  # an SSN: 2 of 9 digits, not 8
        ("4821", "***"),  # a PIN: nothing
        ("4111111111111111", "4111****1111"),
        ("secret", "s***t"),
        ("Bob", "***"),
        ("jo@example.com", "j***@example.com"),
    ],
)
def test_partial_never_shows_most_of_a_value(text: str, masked: str) -> None:
    assert partial(text) == masked
