"""What changed between two values, with deepdiff for nested structures.

Saving only needs to know *whether* a field changed: :func:`json_differs`
answers that with a JSON-aware comparison (``1`` and ``True`` are equal in
Python but not in JSON). deepdiff finds *where* nested values differ
(:func:`nested_paths`, ``ActivityLog.changed_paths``) and runs only for
containers that differ; a test pins the two to the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from deepdiff import DeepDiff

_CONTAINERS = (dict, list)


def _strict_equal(old: Any, new: Any) -> bool:
    """Equality that also tells bools from numbers, recursively."""
    if type(old) is bool or type(new) is bool:
        return type(old) is type(new) and old == new
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(_strict_equal(old[k], new[k]) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(
            _strict_equal(a, b) for a, b in zip(old, new, strict=True)
        )
    return bool(old == new)


def _same_number(old: Any, new: Any) -> bool:
    """``1`` and ``1.0`` are the same JSON number; ``True`` is not ``1``."""
    numbers = (int, float)
    return (
        isinstance(old, numbers)
        and isinstance(new, numbers)
        and type(old) is not bool
        and type(new) is not bool
        and old == new
    )


def json_differs(old: Any, new: Any) -> bool:
    """Whether two values differ as JSON: what ``bool(nested_paths(old, new))``
    answers, without running deepdiff.

    ``1`` and ``1.0`` are the same JSON number; ``True`` is not ``1``; list
    order counts. Saving a JSON field only needs this yes/no (deepdiff, which
    costs far more, gives the paths when a log is read).
    """
    if type(old) is bool or type(new) is bool:
        return not (type(old) is type(new) and old == new)
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() != new.keys() or any(json_differs(old[k], new[k]) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) != len(new) or any(
            json_differs(a, b) for a, b in zip(old, new, strict=True)
        )
    if _same_number(old, new):
        return False
    if isinstance(old, _CONTAINERS) or isinstance(new, _CONTAINERS):
        return True
    return not _strict_equal(old, new)


def _json_paths(old: Any, new: Any, path: list[Any]) -> Iterator[list[Any]]:
    """Paths where ``old`` and ``new`` differ as JSON (see ``json_differs``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            if key in old and key in new:
                yield from _json_paths(old[key], new[key], [*path, key])
            else:
                yield [*path, key]
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _json_paths(a, b, [*path, index])
    elif json_differs(old, new):
        yield path


def _format(path: list[Any]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def nested_paths(old: Any, new: Any) -> list[str]:
    """Dotted paths inside one value that differ (``[]`` when equal).

    ``""`` stands for the value as a whole (a scalar, or a type change).
    """
    if isinstance(old, _CONTAINERS) and isinstance(new, _CONTAINERS):
        if _strict_equal(old, new):
            return []
        tree = DeepDiff(old, new, view="tree")
        paths = {
            _format(level.path(output_format="list"))
            for levels in tree.values()
            for level in levels
            if not _same_number(level.t1, level.t2)
        }
        if not paths:
            # deepdiff compares list items with ``==``, so ``[1]`` and
            # ``[True]`` look equal to it; JSON tells them apart.
            paths = {_format(path) for path in _json_paths(old, new, [])}
        return sorted(paths)
    return [] if _strict_equal(old, new) else [""]


def changed_paths(
    old_values: Mapping[str, Any] | None,
    new_values: Mapping[str, Any] | None,
    changed_fields: Iterable[str] | None = None,
) -> list[str]:
    """Dotted paths of what changed in a log row (``ActivityLog.changed_paths``)."""
    old_values = old_values if isinstance(old_values, Mapping) else {}
    new_values = new_values if isinstance(new_values, Mapping) else {}
    names = (
        list(changed_fields) if changed_fields else list(dict.fromkeys([*old_values, *new_values]))
    )
    result: list[str] = []
    for name in names:
        inner = nested_paths(old_values.get(name), new_values.get(name))
        if not inner and name in (changed_fields or ()):
            # Listed as changed but rendered equal (e.g. both masked).
            result.append(name)
        for path in inner:
            if not path:
                result.append(name)
            elif path.startswith("["):
                result.append(f"{name}{path}")
            else:
                result.append(f"{name}.{path}")
    return result
