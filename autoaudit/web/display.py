"""Turning log rows into what the timeline and the admin show.

Pure presentation helpers (no queries): the changes of a row as old → new
pairs with the changed part highlighted, the actor's initials and avatar,
relative and exact times, and the day groups ("Today", "Yesterday", "This
week", then dates). Values are shown exactly as stored, so masked values stay
masked.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from difflib import SequenceMatcher
from typing import Any

from django.utils import formats, timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from autoaudit.enums import ActionType, ActorType
from autoaudit.models import ActivityLog
from autoaudit.values.diff import changed_paths
from autoaudit.values.labels import model_for_label
from autoaudit.values.serialization import encodable, json_text, shorten

#: Changes shown per row; the rest are summarised as "and N more".
MAX_CHANGES = 40
#: Characters of one value shown before it is cut (the full value is stored).
MAX_VALUE_CHARS = 300
#: Number of avatar colours in the stylesheet (``aa-hue-0`` ... ``aa-hue-7``).
AVATAR_HUES = 8

_MISSING = object()
_PATH_TOKEN = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
# Words, runs of spaces and single punctuation marks: changes are marked a
# word at a time ("15000000.00" → "14500000.00" marks the integer part).
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")


@dataclass(frozen=True)
class Change:
    """One changed value: ``path`` (``"price"``, ``"metadata.specs.ram"``)
    with the old and the new value as HTML, the changed part in ``<mark>``."""

    path: str
    old: SafeString
    new: SafeString
    #: ``"changed"``, ``"added"`` (no old value) or ``"removed"`` (no new value).
    kind: str


@dataclass
class Entry:
    """A log row with everything its template needs precomputed."""

    log: ActivityLog
    actor_name: str
    actor_identifier: str
    initials: str
    hue: int
    avatar_url: str
    entity_label: str
    #: The action and the actor type in the active language.
    action_label: str
    actor_type_label: str
    when: datetime
    relative_time: str
    exact_time: str
    description: str
    #: Old → new pairs (updates) or the stored values (creates and deletes).
    changes: list[Change] = field(default_factory=list)
    #: True when ``changes`` is a snapshot (create or delete), not a diff.
    snapshot: bool = False
    hidden_changes: int = 0
    history_url: str = ""
    #: The timeline of every log of the same request (``""`` if it has no id).
    request_url: str = ""


@dataclass
class DayGroup:
    """Entries of one heading; ``key`` is stable across pages
    (``"today"``, ``"yesterday"``, ``"week"`` or an ISO date)."""

    key: str
    label: str
    entries: list[Entry] = field(default_factory=list)


# Values ---------------------------------------------------------------------


def value_text(value: Any, limit: int = MAX_VALUE_CHARS + 1) -> str:
    """A stored JSON value as text of at most ``limit`` characters: strings
    as they are, the rest as JSON with sorted keys. Its cost is bounded by
    ``limit``, however big or deep the stored value (rows written before
    values were bounded)."""
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, str):
        return encodable(shorten(value, limit))
    return json_text(value, limit, sort_keys=True)


def _empty_html(value: Any) -> SafeString:
    label = _("(absent)") if value is _MISSING else _("(empty)")
    return format_html('<span class="aa-empty">{}</span>', label)


def _marked(parts: Iterable[tuple[str, bool]]) -> SafeString:
    # Every piece is escaped before it is marked safe.
    return mark_safe(
        "".join(f"<mark>{escape(text)}</mark>" if hit else str(escape(text)) for text, hit in parts)
    )


def highlight(old: Any, new: Any) -> tuple[SafeString, SafeString]:
    """HTML for an old and a new value with the differing part in ``<mark>``.

    Texts are compared a word at a time, so ``"Wireles mouse"`` →
    ``"Wireless mouse"`` marks only the first word; a value that changed
    completely is marked as a whole.
    """
    old_text, new_text = value_text(old), value_text(new)
    if not old_text or not new_text:
        old_html = _marked([(old_text, True)]) if old_text else _empty_html(old)
        new_html = _marked([(new_text, True)]) if new_text else _empty_html(new)
        return old_html, new_html
    old_tokens, new_tokens = _TOKEN.findall(old_text), _TOKEN.findall(new_text)
    matcher = SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    if matcher.ratio() < 0.4:
        return _marked([(old_text, True)]), _marked([(new_text, True)])
    old_parts: list[tuple[str, bool]] = []
    new_parts: list[tuple[str, bool]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        equal = tag == "equal"
        if i2 > i1:
            old_parts.append(("".join(old_tokens[i1:i2]), not equal))
        if j2 > j1:
            new_parts.append(("".join(new_tokens[j1:j2]), not equal))
    return _marked(old_parts), _marked(new_parts)


def lookup(values: Any, path: str) -> Any:
    """The value at a ``changed_paths`` path (``"a.b[0].c"``), or a sentinel."""
    current = values
    for index, key in _PATH_TOKEN.findall(path):
        if index:
            if not isinstance(current, list) or int(index) >= len(current):
                return _MISSING
            current = current[int(index)]
        elif isinstance(current, Mapping) and key in current:
            current = current[key]
        else:
            return _MISSING
    return current


def changes_of(log: ActivityLog) -> tuple[list[Change], bool, int]:
    """``(changes, snapshot, hidden)`` for a row.

    An update lists each changed path (nested JSON keys too) old → new. A
    create lists its stored values as "added" and a delete as "removed".
    """
    old_values, new_values = log.old_values, log.new_values
    old_map = old_values if isinstance(old_values, Mapping) else None
    new_map = new_values if isinstance(new_values, Mapping) else None
    changes: list[Change] = []
    if old_map is not None and new_map is not None:
        paths = changed_paths(old_map, new_map, log.changed_fields)
        for path in paths[:MAX_CHANGES]:
            old, new = lookup(old_map, path), lookup(new_map, path)
            old_html, new_html = highlight(old, new)
            kind = "added" if old is _MISSING else "removed" if new is _MISSING else "changed"
            changes.append(Change(path, old_html, new_html, kind))
        return changes, False, max(0, len(paths) - MAX_CHANGES)
    snapshot = new_map if new_map is not None else old_map
    if snapshot is None:
        return [], False, 0
    kind = "added" if new_map is not None else "removed"
    for name, value in list(snapshot.items())[:MAX_CHANGES]:
        text = value_text(value)
        html = format_html("{}", text) if text else _empty_html(value)
        if kind == "added":
            changes.append(Change(name, SafeString(""), html, kind))
        else:
            changes.append(Change(name, html, SafeString(""), kind))
    return changes, True, max(0, len(snapshot) - MAX_CHANGES)


# Actors ---------------------------------------------------------------------


def initials(name: str) -> str:
    """Up to two letters for an avatar: ``"John Doe"`` → ``"JD"``."""
    name = name.split("@", 1)[0] if "@" in name and " " not in name else name
    words = [word for word in re.split(r"[\s._-]+", name) if word]
    letters = [next((c for c in word if c.isalnum()), "") for word in words[:2]]
    result = "".join(letters).upper()
    return result or "?"


def hue(seed: str) -> int:
    """A stable avatar colour index for an actor."""
    return zlib.crc32(seed.encode()) % AVATAR_HUES


def avatar_url(log: ActivityLog) -> str:
    """The user's picture if the user model has one (``get_avatar_url()`` or
    an ``avatar`` image field/URL); ``""`` means "show initials"."""
    user = log.user if log.user_id is not None else None
    if user is None:
        return ""
    try:
        getter = getattr(user, "get_avatar_url", None)
        if callable(getter):
            return str(getter() or "")
        avatar = getattr(user, "avatar", None)
        if isinstance(avatar, str):
            return avatar
        if avatar:
            return str(avatar.url)
    except Exception:  # a broken avatar must not break the page
        return ""
    return ""


def entity_label(log: ActivityLog) -> str:
    """The target's kind: the model's verbose name, else the stored entity."""
    model = model_for_label(log.computed_entity)
    if model is None:
        return str(log.entity)
    return str(capfirst(model._meta.verbose_name))


def choice_label(choices: type[ActionType] | type[ActorType], value: str) -> str:
    """The translated label of a stored value (the value itself if unknown).

    Cheaper than ``get_action_display()``, which rebuilds a dict of every
    translated choice on each call: it shows on a page of 50 rows.
    """
    try:
        return str(choices(value).label)
    except ValueError:
        return value


# Times ----------------------------------------------------------------------


def relative_time(moment: datetime, now: datetime) -> str:
    """``"2 hours ago"`` (translated); ``"just now"`` under a minute."""
    if now - moment < timedelta(minutes=1):
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(moment, now, depth=1)}


def exact_time(moment: datetime) -> str:
    """The local date and time in the active language's format."""
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def week_start(today: date) -> date:
    """The first day of ``today``'s week (``FIRST_DAY_OF_WEEK``: 0 is Sunday)."""
    first = int(formats.get_format("FIRST_DAY_OF_WEEK"))
    # date.weekday(): Monday is 0; FIRST_DAY_OF_WEEK: Sunday is 0.
    offset = (today.weekday() + 1 - first) % 7
    return today - timedelta(days=offset)


def day_heading(day: date, today: date) -> tuple[str, str]:
    """``(key, label)`` of the group a local date belongs to."""
    if day == today:
        return "today", _("Today")
    if day == today - timedelta(days=1):
        return "yesterday", _("Yesterday")
    if week_start(today) <= day < today:
        return "week", _("This week")
    return day.isoformat(), formats.date_format(day, "DATE_FORMAT")


# Building entries -------------------------------------------------------------


def build_entry(
    log: ActivityLog, now: datetime, history_url: str = "", request_url: str = ""
) -> Entry:
    """Precompute what the templates show for one row (no queries if the
    row was read with ``select_related("user")``)."""
    name = log.get_actor_display_name()
    identifier = log.actor_identifier or ""
    if identifier == name:
        identifier = ""
    changes, snapshot, hidden = changes_of(log)
    seed = log.actor_identifier or name or log.actor_type
    action_label = choice_label(ActionType, log.action)
    description = log.description or f"{action_label} {log.entity} {log.entity_name or ''}".strip()
    return Entry(
        log=log,
        actor_name=name,
        actor_identifier=identifier,
        initials=initials(name) if log.actor_type != ActorType.SYSTEM else "⚙",
        hue=hue(seed),
        avatar_url=avatar_url(log),
        entity_label=entity_label(log),
        action_label=action_label,
        actor_type_label=choice_label(ActorType, log.actor_type),
        when=timezone.localtime(log.created_at),
        relative_time=relative_time(log.created_at, now),
        exact_time=exact_time(log.created_at),
        description=description,
        changes=changes,
        snapshot=snapshot,
        hidden_changes=hidden,
        history_url=history_url,
        request_url=request_url,
    )


def group_by_day(entries: Iterable[Entry], now: datetime) -> list[DayGroup]:
    """Consecutive entries under their day headings, in the given order."""
    today = timezone.localtime(now).date()
    groups: list[DayGroup] = []
    for entry in entries:
        key, label = day_heading(entry.when.date(), today)
        if not groups or groups[-1].key != key:
            groups.append(DayGroup(key, label))
        groups[-1].entries.append(entry)
    return groups
