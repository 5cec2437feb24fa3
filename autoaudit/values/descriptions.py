"""Human-readable, translatable descriptions of tracked changes.

Written in the language active when the log is written, using the model's and
fields' verbose names, e.g. ``Updated product "Laptop ASUS ROG": price
15000000.00 → 14500000.00, stock 10 → 8`` or, in Indonesian, ``Mengubah
produk "Laptop ASUS ROG": ...``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.utils.translation import gettext, gettext_noop

from autoaudit.values.diff import MISSING, join_path, json_paths, value_at
from autoaudit.values.serialization import ELLIPSIS, json_text, safe_str, shorten

#: Each value in a description is cut to this many characters.
VALUE_PREVIEW = 60
#: Changes named in one description; more end it with ``…`` (all of them
#: are in ``old_values``/``new_values``).
MAX_DESCRIBED = 20


def _preview(value: Any) -> str:
    if value is None or value is MISSING:
        return "∅"
    # A summary, not the record: the full value is in old/new_values.
    if isinstance(value, dict | list):
        return json_text(value, VALUE_PREVIEW)
    text = safe_str(value)
    if not text.strip():
        # Quoted, so an empty or blank text is visible: `note "" → "x"`,
        # not `note  → x` with a stray double space.
        return json_text(text, VALUE_PREVIEW)
    return shorten(text, VALUE_PREVIEW)


def describe(
    action: str,
    verbose_name: str,
    entity_name: str | None,
    changes: Sequence[tuple[str, Any, Any]] = (),
) -> str:
    """The standard description of ``action``; ``changes`` are ``(label, old, new)``.

    Built when the log is written, in the active language.
    """
    params: dict[str, Any] = {"entity": verbose_name, "name": entity_name or ""}
    if action == "update":
        items = [
            f"{label} {_preview(old)} → {_preview(new)}"
            for label, old, new in changes[:MAX_DESCRIBED]
        ]
        if len(changes) > MAX_DESCRIBED:
            items.append(ELLIPSIS)
        params["changes"] = ", ".join(items)
        return gettext('Updated %(entity)s "%(name)s": %(changes)s') % params
    if action == "login":
        return gettext("Logged in")
    if action == "logout":
        return gettext("Logged out")
    if action == "login_failed":
        if entity_name:
            return gettext('Failed login as "%(username)s"') % {"username": entity_name}
        return gettext("Failed login")
    texts = _TEXTS.get(action)
    if texts is None:
        params["action"] = action
        return gettext('%(action)s %(entity)s "%(name)s"') % params
    named, unnamed = texts
    # Only the text used is translated (this runs once per log row).
    return gettext(named if entity_name or unnamed is None else unnamed) % params


#: The other actions' texts: (with a name, without one), translated when used.
_TEXTS: dict[str, tuple[str, str | None]] = {
    "create": (gettext_noop('Created %(entity)s "%(name)s"'), None),
    "delete": (gettext_noop('Deleted %(entity)s "%(name)s"'), None),
    "view": (gettext_noop('Viewed %(entity)s "%(name)s"'), gettext_noop("Viewed %(entity)s")),
    "download": (
        gettext_noop('Downloaded %(entity)s "%(name)s"'),
        gettext_noop("Downloaded %(entity)s"),
    ),
    "upload": (
        gettext_noop('Uploaded %(entity)s "%(name)s"'),
        gettext_noop("Uploaded %(entity)s"),
    ),
}


def change_triples(
    labels: Mapping[str, str],
    changed: Sequence[str],
    old_values: Mapping[str, Any] | None,
    new_values: Mapping[str, Any] | None,
    whole: Collection[str] = (),
) -> list[tuple[str, Any, Any]]:
    """``(label, old, new)`` of each changed field, for :func:`describe`.

    A JSON value is described by the paths inside it that changed
    (``metadata.specs.ram 32GB → 64GB``), not as a cut-off dump of the
    whole value; names in ``whole`` (many-to-many pk lists) are not.
    """
    old_values = old_values or {}
    new_values = new_values or {}
    triples: list[tuple[str, Any, Any]] = []
    for name in changed:
        label = labels.get(name, name)
        old, new = old_values.get(name), new_values.get(name)
        paths = [] if name in whole else json_paths(old, new)
        if not any(paths):  # a scalar, a value changed as a whole, or masked
            triples.append((label, old, new))
            continue
        triples.extend(
            (join_path(label, path), value_at(old, path), value_at(new, path)) for path in paths
        )
    return triples


#: The longest ``changes_summary`` (its column's size).
SUMMARY_LENGTH = 255
#: JSON paths a summary names per field before "…".
SUMMARY_PATHS = 5


def _summary_change(label: str, old: Any, new: Any, is_m2m: bool) -> str:
    """One field's part of an update's summary."""
    if is_m2m and isinstance(old, list) and isinstance(new, list):
        added = [item for item in new if item not in old]
        removed = [item for item in old if item not in new]
        parts = []
        if added:
            parts.append(gettext("added %(items)s") % {"items": json_text(added, VALUE_PREVIEW)})
        if removed:
            parts.append(
                gettext("removed %(items)s") % {"items": json_text(removed, VALUE_PREVIEW)}
            )
        if parts:
            return f"{label}: {', '.join(parts)}"
    elif isinstance(old, dict | list) or isinstance(new, dict | list):
        paths = json_paths(old, new)
        inner = [p.lstrip(".") for p in paths if p]
        if inner:
            shown = ", ".join(inner[:SUMMARY_PATHS])
            if len(inner) > SUMMARY_PATHS:
                shown += ", …"
            return gettext("%(field)s changed at %(paths)s") % {"field": label, "paths": shown}
    return f"{label} {_preview(old)} → {_preview(new)}"


def summarise(
    action: str,
    changes: Sequence[tuple[str, Any, Any]],
    m2m: frozenset[str] | set[str] = frozenset(),
) -> str | None:
    """The ``changes_summary`` column: one sentence of what changed, in the
    active language, at most :data:`SUMMARY_LENGTH` characters (``…`` if
    cut); ``None`` when nothing changed (views, logins, a log with no values).

    ``changes`` are ``(label, old, new)`` of the masked values (a masked
    value stays masked); JSON values are summarised by the paths that
    changed in them and M2M fields (labels in ``m2m``) by what was added
    and removed.
    """
    if not changes:
        return None
    if action in ("create", "delete"):
        # What the row held; empty fields (None) say nothing and are left out.
        held = [(label, new if action == "create" else old) for label, old, new in changes]
        values = ", ".join(
            f"{label} {_preview(value)}" for label, value in held if value is not None
        )
        if not values:
            return None
        if action == "create":
            text = gettext("Created with %(values)s") % {"values": values}
        else:
            text = gettext("Deleted; it had %(values)s") % {"values": values}
    else:
        text = ", ".join(
            _summary_change(label, old, new, label in m2m) for label, old, new in changes
        )
    return shorten(text, SUMMARY_LENGTH)
