"""Tags of a log row: checked once where they are given, merged per row.

A tag is a non-empty string of at most :data:`TAG_LENGTH` characters; a
row keeps at most :data:`MAX_TAGS` of them, in the order first given (the
model's, then the outer ``context()``'s, then the inner's), each once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: The longest tag.
TAG_LENGTH = 64
#: The most tags one row keeps.
MAX_TAGS = 32


def clean_tags(value: Any, where: str) -> tuple[str, ...]:
    """``value`` (a list, tuple or set of tags) as a tuple, de-duplicated in
    order; ``TypeError`` or ``ValueError`` naming ``where`` and the bad tag."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple | set | frozenset):
        raise TypeError(f"{where}: tags must be a list of strings, not {value!r}.")
    for tag in value:
        if not isinstance(tag, str):
            raise TypeError(f"{where}: each tag must be a string, not {tag!r}.")
        if not tag.strip() or len(tag) > TAG_LENGTH:
            raise ValueError(
                f"{where}: each tag must be a non-empty string of at most "
                f"{TAG_LENGTH} characters, not {tag!r}."
            )
    tags = tuple(dict.fromkeys(value))
    if len(tags) > MAX_TAGS:
        raise ValueError(f"{where}: at most {MAX_TAGS} tags, not {len(tags)}.")
    return tags


def merge_tags(*groups: Iterable[str]) -> list[str] | None:
    """The tags of ``groups`` in order, each once, at most :data:`MAX_TAGS`;
    ``None`` when there are none (the column stays NULL)."""
    merged = list(dict.fromkeys(tag for group in groups for tag in group))
    return merged[:MAX_TAGS] or None
