"""What changed between two values, with deepdiff for nested structures.

Saving only needs to know *whether* a field changed: :func:`json_differs`
answers that with a JSON-aware comparison (``1`` and ``True`` are equal in
Python but not in JSON), without recursion, so a value nested thousands of
levels deep compares like any other. deepdiff finds *where* nested values
differ (:func:`nested_paths`, ``ActivityLog.changed_paths``) and runs only
for containers that differ and are small enough (:data:`DIFF_MAX_NODES`,
:data:`DIFF_MAX_DEPTH`); a bigger value is reported as changed as a whole.
A test pins the two to the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from deepdiff import DeepDiff

_CONTAINERS = (dict, list)
_PATH_TOKEN = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


class _Missing:
    """The type of :data:`MISSING`."""

    def __repr__(self) -> str:
        return "MISSING"


#: What :func:`value_at` returns for a path that leads nowhere (a key added
#: or removed), told apart from a stored ``null``.
MISSING: Final = _Missing()
#: deepdiff runs on an old and a new value holding this many JSON values in
#: all (it costs tens of microseconds each), nested no deeper than
#: :data:`DIFF_MAX_DEPTH` (it recurses); past either, the paths are not
#: worked out and the value is shown as changed as a whole.
DIFF_MAX_NODES = 1000
DIFF_MAX_DEPTH = 32


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
    costs far more, gives the paths when a log is read). Containers are
    walked with a stack, not recursion: any depth Django stores compares.
    """
    pending: list[Iterator[tuple[Any, Any]]] = [iter([(old, new)])]
    while pending:
        for a, b in pending[-1]:
            if type(a) is bool or type(b) is bool:
                if not (type(a) is type(b) and a == b):
                    return True
            elif isinstance(a, dict) and isinstance(b, dict):
                if a.keys() != b.keys():
                    return True
                # (bound now: ``a`` and ``b`` are rebound by the next pair)
                pending.append(zip(a.values(), map(b.__getitem__, a), strict=True))
                break
            elif isinstance(a, list) and isinstance(b, list):
                if len(a) != len(b):
                    return True
                pending.append(zip(a, b, strict=True))
                break
            elif _same_number(a, b):
                continue
            elif isinstance(a, _CONTAINERS) or isinstance(b, _CONTAINERS) or a != b:
                return True
        else:
            pending.pop()
    return False


def _small(old: Any, new: Any) -> bool:
    """Whether deepdiff may run on ``old`` and ``new`` (:data:`DIFF_MAX_NODES`,
    :data:`DIFF_MAX_DEPTH`); costs no more than the budget, whatever the size."""
    budget = DIFF_MAX_NODES - 2
    pending: list[tuple[Any, int]] = [(old, 1), (new, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = list(value.values()) if len(value) <= budget else None
        elif isinstance(value, list):
            children = value if len(value) <= budget else None
        else:
            continue
        if children is None or depth > DIFF_MAX_DEPTH:
            return False
        budget -= len(children)
        pending.extend((child, depth + 1) for child in children)
    return True


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

    ``""`` stands for the value as a whole (a scalar, a type change, or
    containers too big or too deep to diff).
    """
    if isinstance(old, _CONTAINERS) and isinstance(new, _CONTAINERS):
        if not json_differs(old, new):
            return []
        if not _small(old, new):
            return [""]
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
    return [""] if json_differs(old, new) else []


def json_paths(old: Any, new: Any) -> list[str]:
    """Dotted paths inside one value that differ, found without deepdiff:
    what a description names when the log is written (the write path never
    runs deepdiff). As :func:`nested_paths`, except that a list whose
    length changed is one path, not one per item added or removed."""
    if not (isinstance(old, _CONTAINERS) and isinstance(new, _CONTAINERS)):
        return [""] if json_differs(old, new) else []
    if not _small(old, new):
        return [""] if json_differs(old, new) else []
    return sorted({_format(path) for path in _json_paths(old, new, [])})


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
        result.extend(join_path(name, path) for path in inner)
    return result


def value_at(value: Any, path: str) -> Any:
    """The value at a path as :func:`nested_paths` or :func:`changed_paths`
    give it (``"specs.ram"``, ``"a.b[0].c"``), or :data:`MISSING`."""
    current = value
    for index, key in _PATH_TOKEN.findall(path):
        if index:
            if not isinstance(current, list) or int(index) >= len(current):
                return MISSING
            current = current[int(index)]
        elif isinstance(current, Mapping) and key in current:
            current = current[key]
        else:
            return MISSING
    return current


def join_path(name: str, path: str) -> str:
    """``name`` and a path inside its value as one dotted path
    (``"metadata"`` and ``"specs.ram"`` give ``"metadata.specs.ram"``)."""
    if not path:
        return name
    return f"{name}{path}" if path.startswith("[") else f"{name}.{path}"
