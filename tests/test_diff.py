"""``json_differs`` gives the answer ``nested_paths`` (deepdiff) gives,
without running deepdiff: saves use it, reads use deepdiff for the paths."""

from __future__ import annotations

import decimal
import itertools
from typing import Any

import pytest

from autoaudit.values import diff

VALUES: list[Any] = [
    None,
    0,
    1,
    1.0,
    True,
    False,
    "1",
    "",
    decimal.Decimal("1"),
    [],
    [1],
    [1.0],
    [True],
    [1, 2],
    [2, 1],
    (1,),
    {},
    {"a": 1},
    {"a": 1.0},
    {"a": True},
    {"a": None},
    {"b": 1},
    {"a": {"b": [1, {"c": "x"}]}},
    {"a": {"b": [1, {"c": "y"}]}},
    {"a": {"b": [1.0, {"c": "x"}]}},
    {"a": {"b": [True, {"c": "x"}]}},
    {"a": {"b": [1, {"c": "x"}, None]}},
]


@pytest.mark.parametrize(("old", "new"), list(itertools.product(VALUES, repeat=2)))
def test_json_differs_agrees_with_deepdiff(old: Any, new: Any) -> None:
    assert diff.json_differs(old, new) is bool(diff.nested_paths(old, new))


def test_saving_a_changed_json_field_runs_no_deepdiff(monkeypatch: pytest.MonkeyPatch) -> None:
    from autoaudit.tracking.snapshot import differs
    from tests.testapp.models import Product

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("deepdiff ran on save")

    monkeypatch.setattr(diff, "DeepDiff", forbidden)
    field = Product._meta.get_field("metadata")
    assert differs(field, {"a": {"b": 1}}, {"a": {"b": 2}}) is True
    assert differs(field, {"a": [1, 2]}, {"a": [1.0, 2]}) is False


@pytest.mark.parametrize(
    ("old", "new", "paths"),
    [
        ([1], [True], ["[0]"]),  # deepdiff alone sees no change here
        ({"a": [1, {"b": 1}]}, {"a": [1, {"b": True}]}, ["a[1].b"]),
        ({"a": 1}, {"a": 1.0}, []),
    ],
)
def test_nested_paths_tell_json_values_apart(old: Any, new: Any, paths: list[str]) -> None:
    assert diff.nested_paths(old, new) == paths


def nested(depth: int, leaf: Any = 0) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("depth", [10, 1000, 100_000])  # far past the recursion limit
def test_json_differs_walks_any_depth(depth: int) -> None:
    assert diff.json_differs(nested(depth), nested(depth)) is False
    assert diff.json_differs(nested(depth), nested(depth, leaf=1)) is True
    assert diff.json_differs(nested(depth), nested(depth, leaf=True)) is True
    assert diff.json_differs(nested(depth), nested(depth, leaf=0.0)) is False
    assert diff.json_differs(nested(depth), nested(depth + 1)) is True


def test_json_differs_checks_every_pair_of_a_level() -> None:
    # Each container's children are compared with that container's own pair.
    old = {"a": {"x": 1}, "b": [1, {"y": 2}], "c": 3}
    assert diff.json_differs(old, {"a": {"x": 1}, "b": [1, {"y": 2}], "c": 3}) is False
    assert diff.json_differs(old, {"a": {"x": 1}, "b": [1, {"y": 2}], "c": 4}) is True
    assert diff.json_differs(old, {"a": {"x": 1}, "b": [1, {"y": 3}], "c": 3}) is True
    assert diff.json_differs([{"a": 1}, {"a": 1}], [{"a": 1}, {"a": 2}]) is True


def test_big_or_deep_values_change_as_a_whole_without_deepdiff(deepdiff_calls: list[Any]) -> None:
    half = diff.DIFF_MAX_NODES // 2
    # At the budget (the two lists and their items): deepdiff gives the path.
    assert diff.nested_paths([0] * (half - 1), [0] * (half - 2) + [1]) == [f"[{half - 2}]"]
    assert len(deepdiff_calls) == 1
    assert diff.nested_paths([0] * half, [0] * (half - 1) + [1]) == [""]
    assert diff.nested_paths([0] * 300_000, [1] * 300_000) == [""]
    assert diff.nested_paths({"a": [[0] * half]}, {"a": [[1] * half]}) == [""]
    depth = diff.DIFF_MAX_DEPTH
    assert diff.nested_paths(nested(depth), nested(depth, leaf=1)) != [""]
    assert len(deepdiff_calls) == 2
    for deeper in (depth + 1, 5000):
        assert diff.nested_paths(nested(deeper), nested(deeper, leaf=1)) == [""]
    assert diff.nested_paths(nested(5000), nested(5000)) == []
    assert len(deepdiff_calls) == 2
    # A row's paths: the field itself, as changed.
    assert diff.changed_paths(
        {"metadata": [0] * 300_000, "name": "a"},
        {"metadata": [1] * 300_000, "name": "b"},
        ["metadata", "name"],
    ) == ["metadata", "name"]
    assert len(deepdiff_calls) == 2
