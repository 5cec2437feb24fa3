"""Delete logs of everything one ``Collector.delete()`` removes.

``Model.delete()`` and ``QuerySet.delete()`` (cascades included) all end in
Django's ``Collector.delete()``; :mod:`autoaudit.tracking.patches` calls
:func:`drafts_for` just before it, with the collector's plan, and writes the
drafts just after it, in its transaction: one ``INSERT`` however many
objects are deleted.

Why not a ``post_delete`` receiver: any ``pre_delete``/``post_delete``
receiver turns off Django's fast delete (one ``DELETE ... WHERE``) and its
loading of only the referenced columns of cascaded rows, so Django itself
would run different statements. Here Django runs exactly what it would run
untracked; we only add reads: the rows of a fast-deleted queryset (one
locking ``SELECT``), and the tracked columns Django did not load for
cascaded rows (one ``SELECT`` per model).
"""

from __future__ import annotations

import functools
from operator import attrgetter
from typing import Any

from django.db import models
from django.db.models.deletion import Collector

from autoaudit.tracking.record import LogDraft, assemble, shared_actor
from autoaudit.tracking.registry import Tracker, registry
from autoaudit.tracking.rows import locked_rows, read_rows
from autoaudit.tracking.snapshot import current_values


def tracks_any(collector: Collector) -> bool:
    """Whether anything this collector deletes is tracked."""
    models_deleted = [*collector.data, *(qs.model for qs in collector.fast_deletes)]
    return any(_tracker(model) is not None for model in models_deleted)


def _tracker(model: type[models.Model]) -> Tracker | None:
    tracker = registry.tracker_for(model)
    return tracker if tracker is not None and "delete" in tracker.actions else None


@functools.cache
def _child_caches(model: type[models.Model]) -> tuple[str, ...]:
    """Cache names under which an MTI child links to its parent part."""
    return tuple(
        rel.cache_name for rel in model._meta.related_objects if rel.one_to_one and rel.parent_link
    )


def is_parent_part(instance: models.Model, origin: Any) -> bool:
    """Whether ``instance`` is deleted only as the parent row of a deleted
    multi-table child (whose own log covers it)."""
    concrete = type(instance)._meta.concrete_model
    if concrete is None:
        return False
    names = _child_caches(concrete)
    if not names:
        return False
    origin_model = origin.model if isinstance(origin, models.QuerySet) else type(origin)
    if isinstance(origin_model, type) and issubclass(origin_model, models.Model):
        if origin_model._meta.concrete_model is concrete:
            return False  # the parent itself is what is being deleted
        if issubclass(origin_model, concrete):
            return True
    # A cascade from elsewhere: the collector reached this parent through
    # its child, which left the child in the parent's relation cache.
    cache = instance._state.fields_cache
    return any(cache.get(name) is not None for name in names)


def _load_tracked(tracker: Tracker, objs: list[models.Model], using: str) -> None:
    """Fill in tracked columns Django did not load (deferred, or cascaded rows
    loaded with only the referenced columns): one read for all of them."""
    attnames = [f.attname for f in tracker.fields]
    partial = [obj for obj in objs if any(a not in obj.__dict__ for a in attnames)]
    if not partial:
        return
    rows = read_rows(tracker.model, [obj.pk for obj in partial], attnames, using)
    for obj in partial:
        for attname, value in rows.get(obj.pk, {}).items():
            obj.__dict__.setdefault(attname, value)


def drafts_for(collector: Collector) -> list[LogDraft]:
    """The delete drafts of every tracked row ``collector`` is about to delete."""
    using = collector.using
    origin = getattr(collector, "origin", None)
    # (tracker, pk) -> the row: a row two parts of the plan reach is logged once.
    rows: dict[tuple[int, Any], tuple[Tracker, models.Model]] = {}
    for model, instances in collector.data.items():
        tracker = _tracker(model)
        if tracker is None:
            continue
        # In the order Django deletes them.
        objs = sorted(
            (obj for obj in instances if not is_parent_part(obj, origin)), key=attrgetter("pk")
        )
        _load_tracked(tracker, objs, using)
        rows.update(((id(tracker), obj.pk), (tracker, obj)) for obj in objs)
    for queryset in collector.fast_deletes:
        tracker = _tracker(queryset.model)
        if tracker is not None:
            # Read through a copy: the collector's queryset stays unevaluated.
            for obj in locked_rows(queryset.all(), using):
                rows.setdefault((id(tracker), obj.pk), (tracker, obj))
    actors: dict[int, dict[str, Any] | None] = {}
    drafts = []
    for tracker, obj in rows.values():
        if id(tracker) not in actors:
            actors[id(tracker)] = shared_actor(tracker)
        old = current_values(tracker.fields, obj)
        actor = actors[id(tracker)]
        drafts.append(assemble("delete", instance=obj, tracker=tracker, old=old, actor=actor))
    return drafts
