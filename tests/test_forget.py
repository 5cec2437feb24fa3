"""``autoaudit_forget``: anonymise or erase one person's logs."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from autoaudit.models import ActivityLog
from autoaudit.values.masking import REDACTED
from tests.test_privacy_support import make_log
from tests.testapp.models import Account, ContactMessage
from tests.typing_support import Track

pytestmark = pytest.mark.django_db

EMAIL = "jane@example.com"


def forget(*args: str) -> str:
    out = io.StringIO()
    call_command("autoaudit_forget", *args, stdout=out)
    return out.getvalue()


def snapshot() -> list[tuple[Any, ...]]:
    return list(ActivityLog.objects.order_by("id").values_list())


def guest_contact_log(**fields: Any) -> ActivityLog:
    values: dict[str, Any] = {
        "actor_identifier": EMAIL,
        "actor_name": "Jane Smith",
        "actor_metadata": {
            "email": EMAIL,
            "phone": "+6281234567890",
            "session_id": "sess_abc",
            "browser": "Firefox 121",
        },
        "entity": "contactmessage",
        "computed_entity": "testapp.ContactMessage",
        "entity_name": "Message from Jane Smith",
        "new_values": {
            "name": "Jane Smith",
            "email": EMAIL,
            "phone": "+6281234567890",
            "message": "Call Jane Smith back about the laptop",
        },
        "description": 'Created contact message "Message from Jane Smith"',
        "extra_data": {"form": "v2", "contact": EMAIL},
    }
    values.update(fields)
    return make_log(**values)


def test_anonymises_a_guest_in_place(track: Track) -> None:
    track(ContactMessage, guest_fields={"email": "email", "phone": "phone", "name": "name"})
    log = guest_contact_log()
    other = make_log(actor_identifier="someone@example.com")
    before_other = ActivityLog.objects.filter(pk=other.pk).values().get()

    out = forget(EMAIL)

    assert "Anonymised 1 rows" in out
    log.refresh_from_db()
    assert log.actor_identifier is not None
    assert log.actor_identifier.startswith("forgotten-")
    assert log.actor_identifier in out
    assert log.actor_name is None
    assert set(log.actor_metadata) == {"anonymised_at"}
    assert (log.ip_address, log.user_agent, log.user_id) == (None, None, None)
    # Personal fields of the values are replaced; the rest of the change stays.
    assert log.new_values["name"] == REDACTED
    assert log.new_values["email"] == REDACTED
    assert log.new_values["phone"] == REDACTED
    assert log.new_values["message"] == f"Call {REDACTED} back about the laptop"
    assert log.entity_name == f"Message from {REDACTED}"
    assert log.description == f'Created contact message "Message from {REDACTED}"'
    assert log.extra_data == {"form": "v2", "contact": REDACTED}
    assert (log.action, log.entity, log.computed_entity) == (
        "create",
        "contactmessage",
        "testapp.ContactMessage",
    )
    assert ActivityLog.objects.filter(pk=other.pk).values().get() == before_other


def test_values_masked_with_partial_or_hash_are_replaced(track: Track) -> None:
    track(Account, mask_fields={"email": "partial", "phone": "hash"})
    log = make_log(
        actor_identifier="ann-guest",
        entity="account",
        computed_entity="testapp.Account",
        old_values={"email": "a***n@example.com", "phone": "hmac-sha256:ab", "username": "x"},
        new_values={
            "email": "b***n@example.com",
            "settings": {"api_key": REDACTED, "nested": {"token_hint": "t***n"}},
        },
    )
    forget("ann-guest")
    log.refresh_from_db()
    assert log.old_values == {"email": REDACTED, "phone": REDACTED, "username": "x"}
    assert log.new_values["email"] == REDACTED
    assert log.new_values["settings"]["api_key"] == REDACTED


def test_a_user_by_username_or_email_also_loses_the_account_link() -> None:
    user = get_user_model()._default_manager.create_user(
        "ann", "ann@example.com", "x", first_name="Ann", last_name="Lee"
    )
    log = make_log(
        actor_type="user",
        user=user,
        actor_identifier="ann@example.com",
        actor_name="Ann Lee",
        actor_metadata=None,
        new_values={
            "owner": "Ann Lee",
            "contact": "ann@example.com",
            "stock": 3,
            "watchers": ["ann", "bob", {"email": "ann@example.com"}],
        },
    )
    out = forget("ann")
    assert "Anonymised 1 rows of 'ann' (user: 1)" in out
    log.refresh_from_db()
    assert log.user_id is None
    assert log.actor_identifier is not None
    assert log.actor_identifier.startswith("forgotten-")
    assert log.new_values == {
        "owner": REDACTED,
        "contact": REDACTED,
        "stock": 3,
        "watchers": [REDACTED, "bob", {"email": REDACTED}],
    }
    assert log.get_actor_display_name() == "Deleted user"
    # The account itself is not touched.
    assert get_user_model()._default_manager.filter(pk=user.pk).exists()


def test_a_user_forgotten_by_username_includes_logs_under_their_email() -> None:
    user = get_user_model()._default_manager.create_user("ann", "ann@example.com", "x")
    linked = make_log(actor_type="user", user=user, actor_identifier="ann@example.com")
    unlinked = make_log(actor_type="user", user=None, actor_identifier="ann@example.com")
    as_guest = make_log(actor_identifier="ann@example.com")
    other = make_log(actor_identifier="bob@example.com")
    out = forget("ann")
    assert "Anonymised 3 rows of 'ann' (guest: 1, user: 2)" in out
    assert "matches a user account and guest logs" in out
    for log in (linked, unlinked, as_guest):
        log.refresh_from_db()
        assert log.actor_identifier is not None
        assert log.actor_identifier.startswith("forgotten-")
    other.refresh_from_db()
    assert other.actor_identifier == "bob@example.com"


def test_forgetting_twice_changes_nothing_the_second_time() -> None:
    for _ in range(3):
        guest_contact_log()
    assert "Anonymised 3 rows" in forget(EMAIL)
    after_first = snapshot()
    assert "0 rows" in forget(EMAIL)
    assert snapshot() == after_first


def test_dry_run_counts_and_changes_nothing() -> None:
    guest_contact_log()
    guest_contact_log()
    before = snapshot()
    out = forget(EMAIL, "--dry-run")
    assert "Dry run: would anonymise 2 rows (guest: 2)" in out
    assert snapshot() == before
    assert "would erase 2 rows" in forget(EMAIL, "--dry-run", "--erase")
    assert snapshot() == before


def test_erase_deletes_only_that_persons_rows() -> None:
    for _ in range(4):
        guest_contact_log()
    keep = make_log(actor_identifier="someone@example.com")
    out = forget(EMAIL, "--erase", "--batch-size", "3")
    assert "Erased 4 rows" in out
    assert list(ActivityLog.objects.values_list("id", flat=True)) == [keep.pk]
    assert "0 rows" in forget(EMAIL, "--erase")


def test_small_batches_reach_every_row() -> None:
    for _ in range(7):
        guest_contact_log()
    assert "Anonymised 7 rows" in forget(EMAIL, "--batch-size", "2")
    assert not ActivityLog.objects.filter(actor_identifier=EMAIL).exists()
    # One run, one anonymous actor.
    assert ActivityLog.objects.values("actor_identifier").distinct().count() == 1


def test_unknown_identifier_is_zero_rows_and_success() -> None:
    make_log()
    before = snapshot()
    assert forget("nobody@example.com").strip() == "No logs match 'nobody@example.com': 0 rows."
    assert "0 rows" in forget("nobody@example.com", "--erase")
    assert snapshot() == before


def test_identifier_of_both_a_user_and_a_guest() -> None:
    user = get_user_model()._default_manager.create_user("jane", EMAIL, "x")
    guest_contact_log()
    make_log(actor_type="user", user=user, actor_identifier=EMAIL, actor_name="jane")
    out = forget(EMAIL, "--dry-run")
    assert "matches a user account and guest logs" in out
    assert "would anonymise 2 rows (guest: 1, user: 1)" in out

    out = forget(EMAIL, "--actor-type", "guest")
    assert "Anonymised 1 rows" in out and "matches" not in out
    assert list(
        ActivityLog.objects.filter(actor_identifier=EMAIL).values_list("actor_type", flat=True)
    ) == ["user"]
    assert "Anonymised 1 rows" in forget(EMAIL)
    assert not ActivityLog.objects.filter(actor_identifier=EMAIL).exists()


def test_text_is_scrubbed_by_whole_words_in_any_case() -> None:
    user = get_user_model()._default_manager.create_user("ann", "ann@example.com", "x")
    log = make_log(
        actor_type="user",
        user=user,
        actor_identifier="ann@example.com",
        actor_name="ann",
        description="ANN@example.com set the annual plan; call Ann back",
        new_values={"note": "Planned by ann.", "plan": "annual"},
    )
    forget("ann")
    log.refresh_from_db()
    assert log.description == f"{REDACTED} set the annual plan; call {REDACTED} back"
    assert log.new_values == {"note": f"Planned by {REDACTED}.", "plan": "annual"}


def test_default_guest_name_is_not_treated_as_personal() -> None:
    log = make_log(
        actor_identifier="sess_0123456789abcdef01234567",
        actor_name="Anonymous Guest",
        description="Anonymous Guest viewed product",
    )
    forget("sess_0123456789abcdef01234567")
    log.refresh_from_db()
    assert log.description == "Anonymous Guest viewed product"


def test_empty_identifier_is_refused() -> None:
    with pytest.raises(CommandError, match="must not be empty"):
        forget("  ")


def test_unknown_actor_type_is_refused() -> None:
    with pytest.raises(CommandError):
        forget(EMAIL, "--actor-type", "robot")
