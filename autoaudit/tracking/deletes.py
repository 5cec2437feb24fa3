"""Delete logs of everything one ``Collector.delete()`` removes.

``Model.delete()`` and ``QuerySet.delete()`` (cascades included) all end in
Django's ``Collector.delete()``; :mod:`autoaudit.tracking.patches` makes a
:class:`DeletePlan` just before it, lets Django delete, and writes the
plan's drafts just after it, in its transaction: one ``INSERT`` however
many objects are deleted.

A delete log holds the values of the row the ``DELETE`` removed, not those
of the instance Django collected: that instance can be stale (loaded before
a concurrent update committed) or already gone (a second ``delete()`` of
the same row removes nothing and gets no log). So:

- rows Django deletes by primary key (``Model.delete()``, the rows a
  collector loaded) are deleted with ``DELETE ... RETURNING`` their tracked
  columns, where the database has it (PostgreSQL, SQLite, MariaDB) and the
  tracked columns are all in the model's own table: the log costs no read;
- elsewhere (MySQL; a multi-table child, whose columns live in its parents'
  tables; a model whose tracked key the collector nulls before deleting,
  as it does on MariaDB for a nullable cascading key) the tracked columns
  are read before the delete, locked;
- rows of a fast-deleted queryset (one ``DELETE ... WHERE``) are read
  before it with the caller's filters, locked.

A locked row cannot change or go before the ``DELETE``; a row the read does
not find is one the ``DELETE`` will not remove.

Why not a ``post_delete`` receiver: any ``pre_delete``/``post_delete``
receiver turns off Django's fast delete (one ``DELETE ... WHERE``) and its
loading of only the referenced columns of cascaded rows, so Django itself
would run different statements. Here Django runs the statements it would
run untracked; a ``RETURNING`` clause is added to some and reads are
added before others.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from django.db import connections, models
from django.db.models.deletion import Collector

from autoaudit.conf import get_settings
from autoaudit.tracking import hooks, links, store
from autoaudit.tracking.guards import guarded
from autoaudit.tracking.links import Links, key_of, sides
from autoaudit.tracking.record import LogDraft, assemble, shared_actor
from autoaudit.tracking.registry import Tracker, registry
from autoaudit.tracking.rows import (
    can_return_deleted,
    claim_write_lock,
    clean_queryset,
    delete_returning,
    locked_rows,
    read_rows,
)
from autoaudit.tracking.snapshot import current_values, known_values
from autoaudit.values.keys import pk_fields, stored_pk


def _models_deleted(collector: Collector) -> list[type[models.Model]]:
    return [*collector.data, *(qs.model for qs in collector.fast_deletes)]


def tracks_any(collector: Collector) -> bool:
    """Whether anything this collector deletes is tracked, or holds links of
    a tracked many-to-many field."""
    return any(
        _tracker(model) is not None or registry.links_in(model)
        for model in _models_deleted(collector)
    )


def _tracker(model: type[models.Model]) -> Tracker | None:
    """The tracker that logs deleted ``model`` rows itself. An unregistered
    multi-table child has none: the collector deletes its tracked
    ancestor's row too (unless ``keep_parents=True``), and that logs."""
    tracker = registry.tracker_for(model)
    return tracker if tracker is not None and "delete" in tracker.actions else None


@functools.cache
def _child_caches(model: type[models.Model]) -> tuple[str, ...]:
    """Cache names under which an MTI child links to its parent part."""
    return tuple(
        rel.cache_name for rel in model._meta.related_objects if rel.one_to_one and rel.parent_link
    )


def _cached_child(instance: models.Model) -> type[models.Model] | None:
    """The model of the most derived child the collector reached ``instance``
    through (it leaves each child in its parent's relation cache)."""
    found = None
    while True:
        concrete = type(instance)._meta.concrete_model or type(instance)
        cache = instance._state.fields_cache
        child = next((cache[n] for n in _child_caches(concrete) if cache.get(n) is not None), None)
        if child is None:
            return found
        found, instance = type(child), child


def is_parent_part(instance: models.Model, origin: Any) -> bool:
    """Whether ``instance`` is deleted only as the parent row of a deleted
    multi-table child whose log covers it: the model that logs the child's
    writes (the child, or its nearest registered ancestor) is below
    ``instance``'s model, and its log holds the parent's fields too. The
    parent row of a child that nothing below it logs (an unregistered child)
    is logged as the parent's own delete."""
    concrete = type(instance)._meta.concrete_model
    if concrete is None or not _child_caches(concrete):
        return False
    child = None
    origin_model = origin.model if isinstance(origin, models.QuerySet) else type(origin)
    if isinstance(origin_model, type) and issubclass(origin_model, models.Model):
        if origin_model._meta.concrete_model is concrete:
            return False  # the parent itself is what is being deleted
        if issubclass(origin_model, concrete):
            child = origin_model
    if child is None:
        # A cascade from elsewhere, which reached this parent through its child.
        child = _cached_child(instance)
    tracker = registry.route(child) if child is not None else None
    if tracker is None:
        return False
    logged = tracker.model._meta.concrete_model or tracker.model
    return logged is not concrete and issubclass(logged, concrete)


def _pk_of(model: type[models.Model], row: dict[str, Any]) -> Any:
    keys = [f.attname for f in pk_fields(model)]
    return row[keys[0]] if len(keys) == 1 else tuple(row[k] for k in keys)


def _as_deleted(obj: models.Model, pk: Any, values: dict[str, Any]) -> models.Model:
    """``obj`` as the row the database removed: its primary key (Django sets
    it to ``None`` after a delete) and the values the row held. A copy: the
    caller's instance stays as Django leaves it."""
    if not values and obj.pk == pk:
        return obj  # read by us, whole
    row = copy.copy(obj)
    row.__dict__.update(values)
    row.pk = pk
    return row


def _nulled(collector: Collector, model: type[models.Model], attnames: tuple[str, ...]) -> bool:
    """Whether the collector updates a tracked column of ``model`` before it
    deletes (MySQL nulls a nullable cascading key first): then the row the
    ``DELETE`` returns is no longer the row as it was."""
    return any(
        field.model._meta.concrete_model is model and field.attname in attnames
        for field, _value in collector.field_updates
    )


def _target_pks(collector: Collector, model: type[models.Model]) -> set[Any]:
    """Primary keys of the ``model`` rows this collector deletes."""
    return {
        obj.pk
        for victim, objs in collector.data.items()
        if victim._meta.concrete_model is model
        for obj in objs
    }


Known = tuple[Tracker, models.Model, dict[str, Any]]


def combines(collector: Collector) -> Known | None:
    """The one row this collector deletes, with the values autoaudit knows it
    holds (loaded, or last saved), if its log can go in with Django's
    ``DELETE``, as one statement (PostgreSQL, ``ON_ERROR="raise"``): a
    single object of a model without multi-table parents or tracked links
    whose delete reaches no other tracked row."""
    if connections[collector.using].vendor != "postgresql" or get_settings().ON_ERROR != "raise":
        return None
    if store.defers(collector.using):
        return None  # the log is written after the commit, not in the DELETE
    if len(collector.data) != 1:
        return None
    # Rows of other models the delete reaches without loading them (an
    # untracked many-to-many field's links, untracked cascades) go in
    # Django's statements before it, in Django's transaction.
    reached = [qs.model for qs in collector.fast_deletes]
    reached += [field.model for field, _value in collector.field_updates]
    if any(_tracker(m) is not None or registry.links_in(m) for m in reached):
        return None
    ((model, instances),) = collector.data.items()
    tracker = _tracker(model)
    if tracker is None or len(instances) != 1 or tracker.m2m or registry.links_in(model):
        return None
    concrete = model._meta.concrete_model or model
    if concrete._meta.parents or len(pk_fields(concrete)) > 1:
        return None
    if tracker.options.description is not None:
        return None  # it may read what the delete removes
    if not hooks.combinable(model, key_known=True):
        return None  # post_log receivers (see hooks.combinable)
    (obj,) = instances
    values = known_values(obj, collector.using, tracker.fields)
    return None if values is None else (tracker, obj, values)


def _draft(
    tracker: Tracker, obj: models.Model, pk: Any, values: dict[str, Any], actor: Any = None
) -> LogDraft:
    row = _as_deleted(obj, pk, values)
    old = current_values(tracker.fields, row)
    return assemble("delete", instance=row, tracker=tracker, old=old, actor=actor)


class DeletePlan:
    """What one ``Collector.delete()`` logs: built before Django deletes (the
    reads that must come first), completed by the ``DELETE ... RETURNING``
    statements, turned into drafts after.

    With ``known`` (:func:`combines`) the ``DELETE`` of that row is guarded
    by the values it is known to hold and carries its log, as one statement
    (``done`` once it went in). If the guard matches no row (the row changed
    or went since), ``begin`` begins the write transaction and the usual
    ``DELETE ... RETURNING`` runs."""

    def __init__(
        self,
        collector: Collector,
        known: Known | None = None,
        begin: Callable[[], None] | None = None,
    ) -> None:
        self.using = collector.using
        self.known = known
        self.begin = begin
        self.done = False
        #: concrete model -> tracked attnames its ``DELETE`` returns
        self.returning: dict[type[models.Model], tuple[str, ...]] = {}
        #: concrete model -> {pk: the row its ``DELETE`` removed}
        self.returned: dict[type[models.Model], dict[Any, dict[str, Any]]] = {}
        #: (tracker, instance, pk, values or None until returned), in order
        self.rows: list[tuple[Tracker, models.Model, Any, dict[str, Any] | None]] = []
        seen: set[tuple[int, Any]] = set()  # a row two parts of the plan reach: once
        origin = getattr(collector, "origin", None)
        returns = can_return_deleted(self.using)
        for model, instances in collector.data.items():
            tracker = _tracker(model)
            if tracker is None:
                continue
            objs = sorted(
                (obj for obj in instances if not is_parent_part(obj, origin)),
                key=lambda obj: obj.pk,
            )
            objs = [obj for obj in objs if (id(tracker), obj.pk) not in seen]
            seen.update((id(tracker), obj.pk) for obj in objs)
            if not objs:
                continue
            attnames = tuple(f.attname for f in tracker.fields)
            concrete = model._meta.concrete_model or model
            if (
                returns
                and not concrete._meta.parents
                and not _nulled(collector, concrete, attnames)
            ):
                asked = self.returning.get(concrete, ())
                self.returning[concrete] = tuple(dict.fromkeys((*asked, *attnames)))
                self.rows.extend((tracker, obj, obj.pk, None) for obj in objs)
            else:
                found = read_rows(
                    model, [obj.pk for obj in objs], attnames, self.using, for_update=True
                )
                self.rows.extend(
                    (tracker, obj, obj.pk, found[obj.pk]) for obj in objs if obj.pk in found
                )
        for queryset in collector.fast_deletes:
            tracker = _tracker(queryset.model)
            if tracker is None:
                continue
            # Read through a copy: the collector's queryset stays unevaluated.
            for obj in locked_rows(queryset.all(), self.using):
                if (id(tracker), obj.pk) not in seen:
                    seen.add((id(tracker), obj.pk))
                    self.rows.append((tracker, obj, obj.pk, {}))
        #: (tracker, field, owners, links before, target pks deleted)
        self.unlinked: list[tuple[Tracker, Any, dict[Any, models.Model], Links, set[Any]]] = []
        self._plan_links(collector)

    def _plan_links(self, collector: Collector) -> None:
        """The tracked many-to-many links this delete removes.

        A deleted tracked object's own links go with it (its delete log
        covers them); its link lists are locked (:func:`.links.lock_owners`)
        so that a concurrent link change cannot log after the delete. The
        links that point *at* a deleted object are removed from other
        tracked objects' lists: those get an update log each, like a
        ``remove()``.
        """
        for model in dict.fromkeys(_models_deleted(collector)):
            for tracker, field in registry.links_in(model):
                _through, source, target = sides(field)
                gone = {key_of(source, obj) for t, obj, _pk, _v in self.rows if t is tracker}
                links.lock_owners(field, sorted(gone, key=str), self.using)
                related = target.remote_field.model
                target_model = related._meta.concrete_model or related
                deleted = {
                    key_of(target, obj)
                    for victim, objs in collector.data.items()
                    if victim._meta.concrete_model is target_model
                    for obj in objs
                }
                if not deleted or "update" not in tracker.actions:
                    continue
                claim_write_lock(model, self.using)  # SQLite: before the first read
                keys = self._linked_owners(collector, model, source, target, deleted) - gone
                if not keys:
                    continue
                ordered = sorted(keys, key=str)
                links.lock_owners(field, ordered, self.using)
                before = links.read(field, ordered, self.using)
                owners = {
                    key_of(source, obj): obj
                    for obj in clean_queryset(tracker.model, self.using).filter(
                        **{f"{source.target_field.attname}__in": ordered}
                    )
                }
                removed = _target_pks(collector, target_model)
                self.unlinked.append((tracker, field, owners, before, removed))

    def _linked_owners(
        self,
        collector: Collector,
        through: type[models.Model],
        source: Any,
        target: Any,
        deleted: set[Any],
    ) -> set[Any]:
        """Keys of the tracked objects linked to a deleted target."""
        keys: set[Any] = set()
        for obj in collector.data.get(through, ()):
            if getattr(obj, target.attname) in deleted:
                keys.add(getattr(obj, source.attname))
        for queryset in collector.fast_deletes:
            if queryset.model is through:
                rows = queryset.all().filter(**{f"{target.attname}__in": list(deleted)})
                keys.update(rows.values_list(source.attname, flat=True).distinct())
        return keys

    def delete(self, query: Any, compiler: Any) -> int | None:
        """Run one of Django's pk-batch ``DELETE`` statements with ``RETURNING``
        if its model is planned so; the number of rows deleted, or ``None``
        (not ours: Django runs it as it is)."""
        model = query.model._meta.concrete_model
        attnames = self.returning.get(model) if compiler.using == self.using else None
        if attnames is None:
            return None
        if self.known is not None:
            count = self._delete_known(compiler, self.known)
            if count:
                self.done = True
                return count
        removed = delete_returning(compiler, model, attnames)
        found = self.returned.setdefault(model, {})
        for row in removed:
            found[stored_pk(model, _pk_of(model, row))] = row
        return len(removed)

    def _delete_known(self, compiler: Any, known: Known) -> int:
        """The guarded ``DELETE`` of the known row with its log; the rows it
        removed. If none, the write transaction is begun for the usual path."""
        self.known = None  # one try
        tracker, obj, values = known
        sql, params = compiler.as_sql()
        connection = compiler.connection
        statement = guarded(sql, params, tracker.model, tracker.fields, values, connection)
        count = 0
        if statement is not None:
            draft = _draft(tracker, obj, obj.pk, values)
            combined = store.with_row(*statement, draft, self.using, when_changed=True)
            with connection.cursor() as cursor:
                cursor.execute(*combined)
                count = cursor.rowcount
        if not count and self.begin is not None:
            self.begin()
        return count

    def drafts(self) -> list[LogDraft]:
        """One delete draft per row the database really removed, then one
        update draft per tracked object that lost links to a deleted one."""
        actors: dict[int, dict[str, Any] | None] = {}
        drafts = []
        for tracker, obj, pk, values in self.rows:
            if values is None:
                concrete = tracker.model._meta.concrete_model or tracker.model
                values = self.returned.get(concrete, {}).get(stored_pk(concrete, pk))
                if values is None:
                    continue  # the DELETE matched no row: nothing was deleted
            if id(tracker) not in actors:
                actors[id(tracker)] = shared_actor(tracker)
            drafts.append(_draft(tracker, obj, pk, values, actors[id(tracker)]))
        for tracker, field, owners, before, removed in self.unlinked:
            after = {key: [pk for pk in pks if pk not in removed] for key, pks in before.items()}
            drafts += links.drafts(tracker, field, owners, before, after)
        return drafts


_plans: ContextVar[DeletePlan | None] = ContextVar("autoaudit_delete_plan", default=None)


@contextlib.contextmanager
def deleting(plan: DeletePlan) -> Iterator[DeletePlan]:
    """Make ``plan`` the one Django's ``DELETE`` statements report to."""
    token = _plans.set(plan)
    try:
        yield plan
    finally:
        _plans.reset(token)


def current_plan() -> DeletePlan | None:
    return _plans.get()
