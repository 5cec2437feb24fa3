"""``autoaudit_export``: JSON Lines / CSV, filters, streaming, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pytest_django import Settings

from autoaudit.lifecycle.export import FIELDS, to_csv_lines
from autoaudit.lifecycle.selection import parse_when
from tests.test_privacy_support import log_queries, make_log, selects

pytestmark = pytest.mark.django_db


def export(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("autoaudit_export", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_json_lines_by_default_with_every_column_in_id_order() -> None:
    first = make_log(
        old_values={"price": "9.00"},
        changed_fields=["price"],
        actor_metadata={"browser": "Firefox 121", "device": "desktop"},
        extra_data={"source": "import"},
        description='Updated product "Laptop" ☕',
        action="update",
    )
    second = make_log(actor_identifier="other@example.com")
    out, err = export()
    rows = records(out)
    assert [row["id"] for row in rows] == [first.pk, second.pk]
    assert list(rows[0]) == list(FIELDS)
    row = rows[0]
    assert row["actor_identifier"] == "guest@example.com"
    assert row["old_values"] == {"price": "9.00"}
    assert row["new_values"] == {"name": "Laptop", "price": "10.00"}
    assert row["changed_fields"] == ["price"]
    assert row["actor_metadata"] == {"browser": "Firefox 121", "device": "desktop"}
    assert row["extra_data"] == {"source": "import"}
    assert row["description"].endswith("☕")
    assert row["ip_address"] == "203.0.113.5"
    assert dt.datetime.fromisoformat(row["created_at"]) == first.created_at
    assert "Exported 2 rows." in err


def test_csv_has_a_header_and_json_columns_as_json() -> None:
    make_log(entity_name='=HYPERLINK("http://x")', actor_name="@admin", extra_data={"a": 1})
    out, _err = export("--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert list(table[0]) == list(FIELDS)
    row = table[0]
    assert json.loads(row["new_values"]) == {"name": "Laptop", "price": "10.00"}
    assert json.loads(row["extra_data"]) == {"a": 1}
    assert row["old_values"] == ""
    # Spreadsheet formulas typed by a visitor are neutralised.
    assert row["entity_name"] == '\'=HYPERLINK("http://x")'
    assert row["actor_name"] == "'@admin"


def test_output_file(tmp_path: Path) -> None:
    make_log()
    target = tmp_path / "export.jsonl"
    out, _err = export("--output", str(target))
    assert f"Exported 1 rows to {target}" in out
    assert len(records(target.read_text(encoding="utf-8"))) == 1


def test_output_file_in_a_missing_directory(tmp_path: Path) -> None:
    make_log()
    with pytest.raises(CommandError, match="cannot write"):
        export("--output", str(tmp_path / "missing" / "export.jsonl"))


def test_a_failed_write_removes_the_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        make_log()
    target = tmp_path / "export.jsonl"
    calls = {"n": 0}
    from autoaudit.lifecycle import export as export_module

    original = export_module.to_json_line

    def failing(row: dict[str, Any]) -> str:
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(28, "No space left on device")
        return original(row)

    monkeypatch.setattr(export_module, "to_json_line", failing)
    with pytest.raises(CommandError, match="No space left on device"):
        export("--output", str(target), "--chunk-size", "2")
    assert not target.exists()


# -- filters ----------------------------------------------------------------------
def test_actor_filter_for_a_guest() -> None:
    mine = make_log(actor_identifier="+6281234567890")
    make_log(actor_identifier="someone@example.com")
    out, _err = export("--actor", "+6281234567890")
    assert [row["id"] for row in records(out)] == [mine.pk]


def test_actor_filter_for_a_user_by_username_or_email() -> None:
    user = get_user_model()._default_manager.create_user("ann", "ann@example.com", "x")
    by_fk = make_log(actor_type="user", user=user, actor_identifier="old-address@example.com")
    by_identifier = make_log(actor_type="user", user=None, actor_identifier="ann@example.com")
    make_log(actor_type="user", actor_identifier="bob@example.com")
    expected = [by_fk.pk, by_identifier.pk]
    # By the account link, or by the account's email or username as identifier.
    assert [row["id"] for row in records(export("--actor", "ann")[0])] == expected
    assert [row["id"] for row in records(export("--actor", "ann@example.com")[0])] == expected


def test_unknown_identifier_exports_nothing_and_succeeds() -> None:
    make_log()
    out, err = export("--actor", "nobody@example.com")
    assert out == ""
    assert "0 rows" in err


def test_identifier_of_both_a_user_and_a_guest() -> None:
    user = get_user_model()._default_manager.create_user("jane", "jane@example.com", "x")
    as_guest = make_log(actor_identifier="jane@example.com", days_ago=30)
    as_user = make_log(actor_type="user", user=user, actor_identifier="jane@example.com")
    out, err = export("--actor", "jane@example.com")
    assert [row["id"] for row in records(out)] == [as_guest.pk, as_user.pk]
    assert "matches a user account and guest logs" in err
    out, err = export("--actor", "jane@example.com", "--actor-type", "guest")
    assert [row["id"] for row in records(out)] == [as_guest.pk]


def test_empty_actor_is_refused() -> None:
    with pytest.raises(CommandError, match="non-empty"):
        export("--actor", " ")


def test_entity_filter_short_or_dotted() -> None:
    product = make_log()
    other = make_log(entity="contactmessage", computed_entity="testapp.ContactMessage")
    assert [r["id"] for r in records(export("--entity", "product")[0])] == [product.pk]
    assert [r["id"] for r in records(export("--entity", "Product")[0])] == [product.pk]
    dotted = records(export("--entity", "testapp.ContactMessage")[0])
    assert [r["id"] for r in dotted] == [other.pk]


@pytest.mark.parametrize("entity", ["nonexistent.Model", "nosuchthing", "testapp.NoSuch"])
def test_an_unknown_entity_is_an_error_naming_it(entity: str) -> None:
    make_log()
    with pytest.raises(CommandError, match=f"Unknown entity '{entity}'"):
        export("--entity", entity)


def test_entities_that_exist_only_in_the_logs_or_only_as_models() -> None:
    # A model removed since: its logs stay exportable by either name.
    legacy = make_log(entity="thing", computed_entity="legacy.Thing")
    assert [r["id"] for r in records(export("--entity", "legacy.Thing")[0])] == [legacy.pk]
    assert [r["id"] for r in records(export("--entity", "thing")[0])] == [legacy.pk]
    # An installed model without logs: nothing to export, and no error.
    assert records(export("--entity", "testapp.UUIDItem")[0]) == []
    # The model's label in another case finds its rows (stored as "testapp.Product").
    product = make_log()
    assert [r["id"] for r in records(export("--entity", "testapp.product")[0])] == [product.pk]


def test_since_and_until() -> None:
    now = timezone.now()
    old = make_log(days_ago=10)
    middle = make_log(days_ago=5)
    new = make_log()
    day = (now - dt.timedelta(days=5)).date().isoformat()
    assert [r["id"] for r in records(export("--since", day)[0])] == [middle.pk, new.pk]
    # A bare --until date includes that whole day.
    assert [r["id"] for r in records(export("--until", day)[0])] == [old.pk, middle.pk]
    since = (now - dt.timedelta(days=7)).isoformat()
    until = (now - dt.timedelta(days=1)).isoformat()
    assert [r["id"] for r in records(export("--since", since, "--until", until)[0])] == [middle.pk]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--since", "yesterday"),
        ("--since", "2024-13-01"),
        ("--until", "2024-02-30"),
        ("--until", "15/03/2024"),
        ("--since", "2024-03-15T25:00"),
    ],
)
def test_malformed_date(option: str, value: str) -> None:
    with pytest.raises(CommandError, match=rf"{option}: '{value}' is not a date"):
        export(option, value)


def test_naive_datetimes_are_taken_in_the_current_time_zone(settings: Settings) -> None:
    settings.TIME_ZONE = "Asia/Jakarta"
    parsed = parse_when("2024-03-15T10:00", "--since")
    assert parsed == dt.datetime(2024, 3, 15, 3, 0, tzinfo=dt.UTC)
    assert parse_when("2024-03-15", "--until", end_of_day=True) == dt.datetime(
        2024, 3, 15, 17, 0, tzinfo=dt.UTC
    )


def test_dates_without_time_zone_support(settings: Settings) -> None:
    settings.USE_TZ = False
    assert parse_when("2024-03-15T10:00+07:00", "--since") == dt.datetime(2024, 3, 15, 3, 0)
    assert parse_when("2024-03-15", "--since") == dt.datetime(2024, 3, 15)


def test_json_line_of_python_values() -> None:
    import decimal
    import uuid

    from autoaudit.lifecycle.export import to_json_line

    key = uuid.UUID(int=1)
    line = to_json_line(
        {"id": 1, "extra_data": {"d": dt.date(2024, 1, 2), "n": decimal.Decimal("1.50"), "u": key}}
    )
    assert json.loads(line)["extra_data"] == {"d": "2024-01-02", "n": "1.50", "u": str(key)}
    with pytest.raises(TypeError, match="object is not JSON serializable"):
        to_json_line({"id": 1, "extra_data": {"x": object()}})


def test_bad_chunk_size() -> None:
    with pytest.raises(CommandError, match="at least 1"):
        export("--chunk-size", "0")


# -- streaming --------------------------------------------------------------------
def test_rows_are_read_in_pages_never_all_at_once() -> None:
    for _ in range(25):
        make_log()
    with log_queries() as queries:
        out, _err = export("--chunk-size", "10")
    assert len(records(out)) == 25
    reads = [sql for sql in selects(queries) if "GROUP BY" not in sql.upper()]
    # Three pages (10 + 10 + 5 rows), each its own LIMITed query by key.
    assert len(reads) == 3
    assert all("LIMIT 10" in sql.upper() for sql in reads)
    assert all('"id" >' in sql or "`id` >" in sql for sql in reads[1:])


def test_csv_streams_too() -> None:
    for _ in range(7):
        make_log()
    with log_queries() as queries:
        out, _err = export("--format", "csv", "--chunk-size", "3")
    assert len(out.splitlines()) == 8
    assert len(selects(queries)) == 3


def test_a_bare_carriage_return_stays_inside_its_csv_record() -> None:
    """Python 3.11/3.12's csv left a bare ``\\r`` unquoted with a ``\\n``
    line terminator: the record split and its second half began a formula."""
    line = to_csv_lines([{"action": "update", "description": "a\r=cmd|' /C calc'!A0"}])
    records = list(csv.reader(io.StringIO(line, newline="")))
    assert len(records) == 1
    assert "a\r'=cmd|' /C calc'!A0" in records[0]  # and the second line is defused


_FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize(
    "value", ["ok\n=cmd|' /C calc'!A0", "a\r\n@SUM(1)", "a\r+1", "a\n\n-2\n\t=x", "=\n=\r\n="]
)
def test_every_line_of_a_csv_text_value_is_defused(value: str) -> None:
    """A value holding a line break is one cell to a spreadsheet, but a tool
    that reads the file line by line sees each line on its own."""
    line = to_csv_lines([{"action": "update", "description": value, "entity_name": value}])
    [record] = list(csv.reader(io.StringIO(line, newline="")))
    for cell in record:
        for part in cell.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            assert not part.startswith(_FORMULA_CHARS), (cell, part)
    # Defusing only adds a quote mark before each such line.
    assert record[FIELDS.index("description")].replace("'", "") == value.replace("'", "")


def test_an_export_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    import os
    import stat

    make_log()
    target = tmp_path / "export.jsonl"
    old_umask = os.umask(0)  # even a umask that lets everything through
    try:
        export("--output", str(target))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_an_existing_export_file_keeps_its_permissions(tmp_path: Path) -> None:
    import stat

    make_log()
    target = tmp_path / "export.jsonl"
    target.write_text("old contents\n")
    target.chmod(0o640)  # chosen by the operator (a group that reads exports)
    export("--output", str(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert len(records(target.read_text(encoding="utf-8"))) == 1
