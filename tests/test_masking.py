from __future__ import annotations

import json

import pytest
from pytest_django import Settings

import autoaudit
from autoaudit.conf import hash_key
from autoaudit.models import ActivityLog
from autoaudit.values.masking import REDACTED, mask_value, partial, strategy_for
from tests.testapp.models import Account, Product
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
