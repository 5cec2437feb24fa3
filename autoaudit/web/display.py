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
from collections.abc import Callable, Iterable, Mapping, Sequence
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
from autoaudit.values.diff import MISSING
from autoaudit.values.labels import model_for_label
from autoaudit.values.serialization import encodable, json_text, shorten
from autoaudit.versions.display import ReadableChange, readable_changes

#: Changes shown per row; the rest are summarised as "and N more".
MAX_CHANGES = 40
#: Characters of one value shown before it is cut (the full value is stored).
MAX_VALUE_CHARS = 300
#: Number of avatar colours in the stylesheet (``aa-hue-0`` ... ``aa-hue-7``).
AVATAR_HUES = 8

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
    #: ``path`` in words (the field's verbose name).
    label: str


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
    #: The history page of the entity the change belongs to (``register(related=...)``).
    related_url: str = ""
    #: ``Basket #3``: the related entity's kind and key, in the active language.
    related_label: str = ""
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
    if value is MISSING or value is None:
        return ""
    if isinstance(value, str):
        return encodable(shorten(value, limit))
    return json_text(value, limit, sort_keys=True)


def _empty_html(value: Any) -> SafeString:
    label = _("(absent)") if value is MISSING else _("(empty)")
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


def _side(text: str | None, absent: bool) -> Any:
    """A display text for :func:`highlight`: ``MISSING`` shows "(absent)"."""
    return MISSING if absent else text


def changes_of(
    log: ActivityLog, readable: Sequence[ReadableChange] | None = None
) -> tuple[list[Change], bool, int]:
    """``(changes, snapshot, hidden)`` for a row.

    An update lists each changed path (nested JSON keys too) old → new. A
    create lists its stored values as "added" and a delete as "removed".
    The values are :func:`~autoaudit.versions.display.readable_changes`'
    (pass them, read for a whole page at once, as ``readable``).
    """
    rows = readable_changes([log])[0] if readable is None else readable
    both = isinstance(log.old_values, Mapping) and isinstance(log.new_values, Mapping)
    changes: list[Change] = []
    for row in rows[:MAX_CHANGES]:
        if both:
            old_html, new_html = highlight(
                _side(row.old, row.kind == "added"), _side(row.new, row.kind == "removed")
            )
        else:
            text = value_text(row.new if row.kind == "added" else row.old)
            html = format_html("{}", text) if text else _empty_html(None)
            old_html, new_html = (
                (SafeString(""), html) if row.kind == "added" else (html, SafeString(""))
            )
        changes.append(Change(row.path, old_html, new_html, row.kind, row.label))
    return changes, bool(rows) and not both, max(0, len(rows) - MAX_CHANGES)


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


def build_entries(
    logs: Sequence[ActivityLog],
    now: datetime,
    history_url: Callable[[ActivityLog], str] | None = None,
    related_url: Callable[[ActivityLog], str] | None = None,
    request_url: Callable[[ActivityLog], str] | None = None,
) -> list[Entry]:
    """:func:`build_entry` for a page of rows: the related objects their
    changes name are read once per related model for all of them."""
    readable = readable_changes(logs)
    return [
        build_entry(
            log,
            now,
            history_url(log) if history_url else "",
            rows,
            related_url(log) if related_url else "",
            request_url(log) if request_url else "",
        )
        for log, rows in zip(logs, readable, strict=True)
    ]


def build_entry(
    log: ActivityLog,
    now: datetime,
    history_url: str = "",
    readable: Sequence[ReadableChange] | None = None,
    related_url: str = "",
    request_url: str = "",
) -> Entry:
    """Precompute what the templates show for one row (no queries if the
    row was read with ``select_related("user")`` and its changes are given
    as ``readable``, or name no related object)."""
    name = log.get_actor_display_name()
    identifier = log.actor_identifier or ""
    if identifier == name:
        identifier = ""
    changes, snapshot, hidden = changes_of(log, readable)
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
        related_url=related_url,
        related_label=related_label(log),
        request_url=request_url,
    )


def related_label(log: ActivityLog) -> str:
    """``Basket #3`` for a row whose related entity is basket 3, else ``""``."""
    if not log.related_entity_type or not log.related_entity_id:
        return ""
    model = model_for_label(log.related_entity_type)
    kind = str(capfirst(model._meta.verbose_name)) if model is not None else log.related_entity_type
    return f"{kind} #{log.related_entity_id}"


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
