"""Values become JSON every backend accepts, and odd values never fail a save."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
import zoneinfo
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.db.models import F
from pytest_django import Settings

from autoaudit.models import ActivityLog
from autoaudit.values.serialization import (
    MAX_DEPTH,
    column_text,
    json_size,
    json_text,
    safe_str,
    to_json,
    truncate,
)
from tests.testapp.models import (
    BadStr,
    Gadget,
    LongStr,
    OddValue,
    Product,
    StringKeyItem,
    UUIDItem,
)
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


def last() -> ActivityLog:
    log = ActivityLog.objects.order_by("-id").first()
    assert log is not None
    return log


def test_to_json_rules() -> None:
    moment = datetime.datetime(2024, 3, 15, 10, 30, tzinfo=datetime.UTC)
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert to_json(decimal.Decimal("1.50"), 100) == "1.50"
    assert to_json(moment, 100) == "2024-03-15T10:30:00+00:00"
    assert to_json(datetime.date(2024, 3, 15), 100) == "2024-03-15"
    assert to_json(datetime.time(10, 30), 100) == "10:30:00"
    assert to_json(datetime.timedelta(days=1, seconds=5), 100) == "P1DT00H00M05S"
    assert to_json(key, 100) == str(key)
    assert to_json({1: {2, 1}}, 100) == {"1": [1, 2]}
    assert to_json(float("nan"), 100) == "nan"
    assert to_json(b"ab", 100) == "b'ab'"
    assert to_json(memoryview(b"ab"), 100) == "b'ab'"
    assert to_json(OddValue("x"), 100) == "OddValue(x)"
    assert to_json("a\x00b", 100) == "a\ufffdb"


def test_containers_keep_their_first_items_and_say_how_many_were_cut() -> None:
    assert to_json([1, 2, 3], 100, max_items=3) == [1, 2, 3]
    assert to_json([1, 2, 3, 4, 5], 100, max_items=3) == [1, 2, 3, "…[truncated 2 items]"]
    assert to_json((1, 2, 3, 4), 100, max_items=1) == [1, "…[truncated 3 items]"]
    assert to_json({3, 1, 2}, 100, max_items=2) == [1, 2, "…[truncated 1 items]"]
    cut = to_json({"a": 1, "b": 2, "c": 3}, 100, max_items=2)
    assert cut == {"a": 1, "b": 2, "…[truncated 1 keys]": None}
    assert list(cut) == ["a", "b", "…[truncated 1 keys]"]
    # Every level is cut on its own.
    nested = to_json({"rows": [[0] * 5] * 5}, 100, max_items=2)
    assert nested == {"rows": [[0, 0, "…[truncated 3 items]"]] * 2 + ["…[truncated 3 items]"]}


def test_the_default_bounds() -> None:
    assert to_json(list(range(1000)), 100) == list(range(1000))
    assert to_json(list(range(1001)), 100)[-1] == "…[truncated 1 items]"
    assert to_json(["x" * 10_000] * 6, 10_000) == ["x" * 10_000] * 6  # 60 KiB
    assert to_json(["x" * 10_000] * 7, 10_000) == "…[value of 70028 bytes not stored]"


def test_a_value_over_the_byte_bound_is_replaced_by_a_marker() -> None:
    value = {"text": "é" * 100}
    size = json_size(to_json(value, 1000))
    assert size == len('{"text": ""}') + 200  # UTF-8 bytes
    assert to_json(value, 1000, max_bytes=size) == value
    assert to_json(value, 1000, max_bytes=size - 1) == f"…[value of {size} bytes not stored]"
    # Measured after the other cuts: a long list cut to a few items fits.
    assert to_json(["x" * 50] * 10_000, 1000, max_items=2, max_bytes=150) == [
        "x" * 50,
        "x" * 50,
        "…[truncated 9998 items]",
    ]
    assert to_json("y" * 500, 1000, max_bytes=100) == "…[value of 502 bytes not stored]"
    assert to_json("y" * 500, 100, max_bytes=150) == "y" * 100 + "…[truncated 400 chars]"
    assert to_json(10**40, 100, max_bytes=100) == 10**40


def test_containers_nest_at_most_max_depth_levels() -> None:
    def nested(depth: int) -> object:
        value: object = "leaf"
        for _ in range(depth):
            value = [value]
        return value

    assert to_json(nested(MAX_DEPTH), 100) == nested(MAX_DEPTH)
    marker = f"…[nested deeper than {MAX_DEPTH} levels]"
    expected: object = marker
    for _ in range(MAX_DEPTH):
        expected = [expected]
    for depth in (MAX_DEPTH + 1, 1000, 100_000):  # far past Python's recursion limit
        assert to_json(nested(depth), 100) == expected
    looped: dict[str, object] = {}
    looped["self"] = looped
    stored = to_json(looped, 100)
    for _ in range(MAX_DEPTH):
        stored = stored["self"]
    assert stored == marker


def test_lone_surrogates_become_u_fffd() -> None:
    assert to_json({"k\ud800": ["v\udcff", ("\udfff",)]}, 100) == {
        "k\ufffd": ["v\ufffd", ["\ufffd"]]
    }
    assert to_json(b"\xff".decode("utf-8", "surrogateescape"), 100) == "\ufffd"
    assert safe_str("a\ud800b") == "a\ufffdb"
    assert safe_str(OddValue("\udcff")) == "OddValue(\ufffd)"
    assert column_text(" n\ud800 ") == "n\ufffd"
    # Pairs written as two code points are no characters either; real ones stay.
    assert safe_str("\ud83d\ude00") == "\ufffd\ufffd"
    assert safe_str("😀 ü") == "😀 ü"
    assert to_json("😀 ü", 100) == "😀 ü"


def test_json_text_is_json_dumps_cut_at_the_limit() -> None:
    values: list[object] = [
        {"b": [1, 2.5, None, True], "a": {"é": 'x"y'}},
        [],
        {},
        [[], {}],
        {"1": 1, "2": [False]},
        "text",
        1.5,
        None,
    ]
    for value in values:
        text = json.dumps(value, ensure_ascii=False)
        assert json_text(value, 1000) == text
        assert json_text(value, 1000, sort_keys=True) == json.dumps(
            value, ensure_ascii=False, sort_keys=True
        )
        for limit in range(1, len(text)):
            assert json_text(value, limit) == text[: limit - 1] + "…"
    assert json_text({1: decimal.Decimal("1.5"), None: OddValue("x")}, 100) == (
        '{"1": "1.5", "null": "OddValue(x)"}'
    )
    assert json_text(["\ud800"], 100) == '["\ufffd"]'


def test_json_text_costs_what_it_shows() -> None:
    deep: object = 0
    for _ in range(100_000):
        deep = [deep]
    assert json_text(deep, 10) == "[" * 9 + "…"
    huge = {f"k{i:06}": i for i in range(300_000)}
    assert json_text(huge, 20) == '{"k000000": 0, "k00…'
    assert json_text(dict(reversed(huge.items())), 20, sort_keys=True) == '{"k000000": 0, "k00…'
    assert json_text(["x" * 1_000_000], 8) == '["xxxxx…'


def test_truncate_marks_what_it_cut() -> None:
    assert truncate("abc", 5) == "abc"
    assert truncate("a" * 10, 4) == "aaaa…[truncated 6 chars]"


def test_non_serialisable_values_are_logged_as_text(track: Track) -> None:
    track(Gadget)
    gadget = Gadget.objects.create(
        name="g",
        odd=OddValue("strange"),
        blob=b"\x00\x01binary",
        when=datetime.datetime(2024, 1, 1, 12, tzinfo=zoneinfo.ZoneInfo("Asia/Jakarta")),
        duration=datetime.timedelta(minutes=5),
    )
    values = last().new_values
    assert values["odd"] == "OddValue(strange)"
    assert values["blob"] == str(b"\x00\x01binary")
    assert values["when"] == "2024-01-01T12:00:00+07:00"
    assert values["duration"] == "P0DT00H05M00S"

    gadget.refresh_from_db()
    gadget.odd = OddValue("stranger")
    gadget.save()
    log = last()
    assert log.changed_fields == ["odd"]
    assert log.old_values == {"odd": "OddValue(strange)"}


def test_naive_and_aware_datetimes(track: Track) -> None:
    track(Gadget)
    aware = datetime.datetime(2024, 1, 1, 5, tzinfo=datetime.UTC)
    gadget = Gadget.objects.create(name="g", when=aware)
    # The same instant in another zone is not a change.
    gadget.when = aware.astimezone(zoneinfo.ZoneInfo("Asia/Jakarta"))
    gadget.save()
    assert ActivityLog.objects.count() == 1
    # A naive datetime (Django warns) is read as UTC, as Django stores it.
    gadget.when = datetime.datetime(2024, 1, 1, 6)
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        gadget.save()
    log = last()
    assert log.changed_fields == ["when"]
    assert log.new_values["when"] == "2024-01-01T06:00:00+00:00"


def test_five_megabyte_text_is_truncated_and_saved(track: Track) -> None:
    track(Gadget)
    body = "x" * (5 * 1024 * 1024)
    gadget = Gadget.objects.create(name="big", body=body)
    stored = last().new_values["body"]
    assert stored.startswith("x" * 10_000)
    assert stored.endswith(f"…[truncated {len(body) - 10_000} chars]")
    gadget.refresh_from_db()
    assert len(gadget.body) == len(body)


def test_max_value_length_setting_reaches_json_values(track: Track, settings: Settings) -> None:
    settings.AUTOAUDIT = {"MAX_VALUE_LENGTH": 100}
    track(Product)
    Product.objects.create(name="P", metadata={"notes": ["y" * 500]})
    assert last().new_values["metadata"]["notes"][0] == "y" * 100 + "…[truncated 400 chars]"


def test_long_and_broken_str(track: Track) -> None:
    track(LongStr)
    track(BadStr)
    LongStr.objects.create(name="l")
    name = last().entity_name
    assert name is not None and len(name) == 255
    bad = BadStr.objects.create(name="b")
    log = last()
    assert log.entity_name == f"BadStr object ({bad.pk})"
    assert log.action == "create"


def test_uuid_and_long_string_primary_keys(track: Track) -> None:
    track(UUIDItem)
    track(StringKeyItem)
    item = UUIDItem.objects.create(name="u")
    log = last()
    assert log.entity_id is None
    assert log.entity_pk == str(item.pk)
    code = "k" * 200
    keyed = StringKeyItem.objects.create(code=code, name="s")
    keyed.name = "t"
    keyed.save()
    log = last()
    assert log.entity_pk == code and log.entity_id is None
    assert log.changed_fields == ["name"]
    assert list(ActivityLog.objects.for_instance(keyed)) == list(
        ActivityLog.objects.filter(entity_pk=code)
    )
    assert log.get_target_instance() == keyed


def test_f_expression_logs_the_resulting_number(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="P", stock=10)
    product.stock = F("stock") - 1
    product.save()
    log = last()
    assert log.old_values == {"stock": 10}
    assert log.new_values == {"stock": 9}
    assert "F(" not in (log.description or "")


def test_file_field_logs_the_name(track: Track, settings: Settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    track(Product)
    product = Product(name="P")
    product.attachment.save("manual.txt", ContentFile(b"hello"), save=False)
    product.save()
    assert last().new_values["attachment"] == product.attachment.name
    assert product.attachment.name is not None
    assert product.attachment.name.startswith("attachments/manual")
