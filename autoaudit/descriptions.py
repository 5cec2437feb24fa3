"""Human-readable, translatable descriptions of tracked changes.

Written in the language active when the log is written, using the model's and
fields' verbose names, e.g. ``Updated product "Laptop ASUS ROG": price
15000000.00 → 14500000.00, stock 10 → 8`` or, in Indonesian, ``Mengubah
produk "Laptop ASUS ROG": ...``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext

from autoaudit.serialization import safe_str

#: Each value in a description is cut to this many characters.
VALUE_PREVIEW = 60


def _preview(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = safe_str(value)
    # A summary, not the record: the full value is in old/new_values.
    return text if len(text) <= VALUE_PREVIEW else text[: VALUE_PREVIEW - 1] + "…"


def describe(
    action: str,
    verbose_name: str,
    entity_name: str | None,
    changes: Sequence[tuple[str, Any, Any]] = (),
) -> str:
    """The default description; ``changes`` are ``(label, old, new)``."""
    params: dict[str, Any] = {"entity": verbose_name, "name": entity_name or ""}
    if action == "create":
        return gettext('Created %(entity)s "%(name)s"') % params
    if action == "delete":
        return gettext('Deleted %(entity)s "%(name)s"') % params
    if action == "update":
        params["changes"] = ", ".join(
            f"{label} {_preview(old)} → {_preview(new)}" for label, old, new in changes
        )
        return gettext('Updated %(entity)s "%(name)s": %(changes)s') % params
    params["action"] = action
    return gettext('%(action)s %(entity)s "%(name)s"') % params


def change_triples(
    labels: Mapping[str, str],
    changed: Sequence[str],
    old_values: Mapping[str, Any] | None,
    new_values: Mapping[str, Any] | None,
) -> list[tuple[str, Any, Any]]:
    old_values = old_values or {}
    new_values = new_values or {}
    return [
        (labels.get(name, name), old_values.get(name), new_values.get(name)) for name in changed
    ]
