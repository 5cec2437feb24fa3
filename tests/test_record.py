"""The one assembler (``tracking.record``): masking runs over every column."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_django import DjangoAssertNumQueries

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.tracking.record import COLUMNS, STAMPS, LogDraft, assemble
from autoaudit.values.masking import REDACTED
from tests.budget import old_values_reads, save_log_statements
from tests.testapp.models import Account, Leaky, Product, Tag
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


def test_draft_columns_are_the_log_columns() -> None:
    names = {f.name for f in ActivityLog._meta.concrete_fields if not f.primary_key}
    assert set(COLUMNS) == names - set(STAMPS)
    assert set(STAMPS) == {"created_at", "write_id"}


def test_a_draft_is_frozen() -> None:
    draft = assemble("view", entity=("report", "report"))
    with pytest.raises(AttributeError):
        draft.action = "delete"  # type: ignore[misc]
    assert isinstance(draft, LogDraft)


def test_str_of_the_instance_never_leaks_a_masked_field(track: Any) -> None:
    # The update changes only the username: the key is not among its values.
    track(Leaky)
    account = Leaky.objects.create(username="ann", api_key="sk-live-123456")
    account.username = "anne"
    account.save()
    for log in ActivityLog.objects.all():
        assert "sk-live-123456" not in (log.entity_name or "")
        assert "sk-live-123456" not in (log.description or "")
        assert REDACTED in (log.entity_name or "")


def test_extra_data_and_actor_metadata_are_masked_by_key(track: Any) -> None:
    track(Product)
    with (
        autoaudit.actor(name="Importer", metadata={"api_token": "t-1", "region": "eu"}),
        autoaudit.context(batch="b1", password="hunter22"),
    ):
        Product.objects.create(name="P")
    (log,) = ActivityLog.objects.all()
    assert log.extra_data == {"batch": "b1", "password": REDACTED}
    assert log.actor_metadata is not None
    assert log.actor_metadata["api_token"] == REDACTED
    assert log.actor_metadata["region"] == "eu"


def test_a_description_previews_masked_values_only(track: Any) -> None:
    # A long secret would be cut in the preview; the preview is built from
    # the masked value, so not even a prefix of it appears.
    track(Account)
    secret = "s" * 30 + "-tail-" + "x" * 25  # longer than a preview, fits the column
    account = Account.objects.create(username="u", secret_token="old")
    account.secret_token = secret
    account.save()
    update = ActivityLog.objects.get(action="update")
    assert secret[:20] not in (update.description or "")
    assert update.new_values == {"secret_token": REDACTED}


def test_a_pk_whose_str_is_not_a_string_still_gets_a_name() -> None:
    class Key:
        def __str__(self) -> Any:
            return 7  # a broken __str__: returns an int

    draft = assemble("view", entity=("thing", "app.Thing"), pk=Key())
    assert draft.entity_pk is not None  # a placeholder, never a TypeError


def test_collecting_secrets_reads_fields_not_caches(
    track: Track, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    """Secrets are looked for in the instance's JSON fields, not in every
    dict on it: a cache of querysets (like Django's prefetch cache) is never
    rendered, so never evaluated."""
    track(Product)
    product = Product.objects.create(name="p", metadata={"api_key": "k-raw-1"})
    product.scratch = {"tags": Tag.objects.all()}  # type: ignore[attr-defined]
    product.name = "q"
    # The row read (none on PostgreSQL), the update, the log insert (with
    # the update on PostgreSQL).
    with django_assert_num_queries(1 + old_values_reads() + save_log_statements()):
        product.save()
    assert "k-raw-1" not in json.dumps(ActivityLog.objects.values_list("entity_name").first())
