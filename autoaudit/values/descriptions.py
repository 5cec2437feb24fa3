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
