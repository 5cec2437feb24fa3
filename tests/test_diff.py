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
