"""Presentation helpers of the timeline (autoaudit.display): no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import translation

from autoaudit.models import ActivityLog
from autoaudit.values.diff import value_at
from autoaudit.web.display import (
    MAX_CHANGES,
    MAX_VALUE_CHARS,
    changes_of,
    day_heading,
    highlight,
    initials,
    relative_time,
    value_text,
    week_start,
)

WEDNESDAY = date(2024, 3, 13)


def test_today_yesterday_this_week_then_dates() -> None:
    with translation.override("en"):  # weeks start on Sunday
        assert day_heading(WEDNESDAY, WEDNESDAY) == ("today", "Today")
        assert day_heading(date(2024, 3, 12), WEDNESDAY) == ("yesterday", "Yesterday")
        assert day_heading(date(2024, 3, 11), WEDNESDAY) == ("week", "This week")
        assert day_heading(date(2024, 3, 10), WEDNESDAY) == ("week", "This week")
        assert day_heading(date(2024, 3, 9), WEDNESDAY) == ("2024-03-09", "March 9, 2024")
        assert week_start(WEDNESDAY) == date(2024, 3, 10)


def test_indonesian_weeks_start_on_monday() -> None:
    with translation.override("id"):
        assert week_start(WEDNESDAY) == date(2024, 3, 11)
        assert day_heading(date(2024, 3, 10), WEDNESDAY)[0] == "2024-03-10"
        assert day_heading(date(2024, 3, 9), WEDNESDAY)[1] == "9 Maret 2024"


def test_monday_has_no_this_week_before_yesterday() -> None:
    monday = date(2024, 3, 11)
    with translation.override("id"):
        assert day_heading(date(2024, 3, 10), monday)[0] == "yesterday"
        assert day_heading(date(2024, 3, 9), monday)[0] == "2024-03-09"


def test_relative_time() -> None:
    now = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
    with translation.override("en"):
        assert relative_time(now - timedelta(seconds=20), now) == "just now"
        assert relative_time(now + timedelta(seconds=5), now) == "just now"  # clock skew
        assert relative_time(now - timedelta(hours=2, minutes=59), now) == "2\xa0hours ago"
        assert relative_time(now - timedelta(days=3, hours=1), now) == "3\xa0days ago"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("John Doe", "JD"),
        ("john", "J"),
        ("jane.smith@example.com", "JS"),
        ("Anonymous Guest", "AG"),
        ("203.0.113.200", "20"),
        ("", "?"),
        ("  ", "?"),
        ("élodie  durand", "ÉD"),
    ],
)
def test_initials(name: str, expected: str) -> None:
    assert initials(name) == expected


def test_highlight_marks_the_changed_words() -> None:
    old, new = highlight("Wireles mouse", "Wireless mouse")
    assert old == "<mark>Wireles</mark> mouse"
    assert new == "<mark>Wireless</mark> mouse"
    old, new = highlight("15000000.00", "14500000.00")
    assert (old, new) == ("<mark>15000000</mark>.00", "<mark>14500000</mark>.00")


def test_highlight_whole_values_and_empties() -> None:
    assert highlight(10, 8) == ("<mark>10</mark>", "<mark>8</mark>")
    assert highlight(False, True) == ("<mark>false</mark>", "<mark>true</mark>")
    old, new = highlight(None, "x")
    assert "(empty)" in old and new == "<mark>x</mark>"
    old, new = highlight("", "x")
    assert "(empty)" in old


def test_highlight_escapes() -> None:
    old, new = highlight("<b>a</b> x", "<b>b</b> x")
    assert "<b>" not in old and "&lt;b&gt;" in old and "<mark>" in new


def test_value_text() -> None:
    assert value_text("x") == "x"
    assert value_text(None) == ""
    assert value_text({"b": 1, "a": [True, None]}) == '{"a": [true, null], "b": 1}'
    assert value_text("ü") == "ü"


def test_value_text_is_bounded_whatever_the_value() -> None:
    deep: object = 1
    for _ in range(50_000):
        deep = {"k": deep}
    assert value_text(deep) == ('{"k": ' * 51)[:300] + "…"
    assert len(value_text(list(range(300_000)))) == MAX_VALUE_CHARS + 1
    assert value_text("x" * 10_000) == "x" * MAX_VALUE_CHARS + "…"
    # A row stored before surrogates were replaced still renders.
    assert value_text("a\ud800") == "a\ufffd"
    assert value_text(["a\ud800"]) == '["a\ufffd"]'


def test_value_at_nested_paths() -> None:
    values = {"metadata": {"specs": {"ram": "8GB"}}, "tags": [1, {"k": "v"}]}
    assert value_at(values, "metadata.specs.ram") == "8GB"
    assert value_at(values, "tags[1].k") == "v"
    assert value_at(values, "tags[0]") == 1
    for missing in ("tags[5]", "metadata.nope", "metadata.specs.ram.deeper", "x[0]"):
        assert value_text(value_at(values, missing)) == ""
        assert value_at(values, missing) is not None


def test_changes_of_an_update_with_nested_and_added_keys() -> None:
    log = ActivityLog(
        action="update",
        old_values={"price": "10", "metadata": {"a": 1, "gone": True}},
        new_values={"price": "12", "metadata": {"a": 2, "new": "x"}},
        changed_fields=["price", "metadata"],
    )
    changes, snapshot, hidden = changes_of(log)
    assert not snapshot and hidden == 0
    assert {c.path: c.kind for c in changes} == {
        "price": "changed",
        "metadata.a": "changed",
        "metadata.gone": "removed",
        "metadata.new": "added",
    }


def test_changes_of_masked_values_are_shown_as_stored() -> None:
    log = ActivityLog(
        action="update",
        old_values={"password": "********"},
        new_values={"password": "********"},
        changed_fields=["password"],
    )
    changes, _snapshot, _hidden = changes_of(log)
    assert [c.path for c in changes] == ["password"]
    assert "********" in changes[0].old and "********" in changes[0].new


def test_changes_of_create_delete_and_nothing() -> None:
    created = ActivityLog(action="create", new_values={"name": "a", "note": None})
    changes, snapshot, _ = changes_of(created)
    assert snapshot and [(c.path, c.kind) for c in changes] == [
        ("name", "added"),
        ("note", "added"),
    ]
    deleted = ActivityLog(action="delete", old_values={"name": "a"})
    changes, snapshot, _ = changes_of(deleted)
    assert snapshot and changes[0].kind == "removed" and "a" in changes[0].old
    assert changes_of(ActivityLog(action="login")) == ([], False, 0)


def test_many_changes_are_capped() -> None:
    many = {f"f{i}": i for i in range(MAX_CHANGES + 5)}
    log = ActivityLog(action="update", old_values=many, new_values={k: -1 for k in many})
    changes, _snapshot, hidden = changes_of(log)
    assert len(changes) == MAX_CHANGES and hidden == 5
    log = ActivityLog(action="create", new_values=many)
    changes, _snapshot, hidden = changes_of(log)
    assert len(changes) == MAX_CHANGES and hidden == 5
