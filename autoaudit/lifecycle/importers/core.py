"""What every importer shares: the change it reads (:class:`Entry`), the full
snapshots some packages keep instead (:class:`Snapshot`, turned into entries
by :func:`diffed`), and :func:`run`, which writes them as log rows.

Each entry becomes a row through the one assembler (so masking, size limits
and descriptions are those of a change made today) and the one store, with
``created_at`` set to the source's time and ``extra_data["imported_from"] =
{"source": ..., "id": ...}`` added after masking (it names the source row and
holds nothing of the subject). A second run skips what is already there: one
query per batch reads the ``imported_from`` ids of the batch's subjects
(through the ``computed_entity, entity_pk`` index).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import Q

from autoaudit.actors.resolve import user_actor
from autoaudit.enums import ActionType, ActorType
from autoaudit.lifecycle.selection import log_alias
from autoaudit.tracking import store
from autoaudit.tracking.manual import loggable_fields
from autoaudit.tracking.record import LogDraft, assemble
from autoaudit.tracking.registry import entity_labels, registry
from autoaudit.tracking.snapshot import differs
from autoaudit.values.keys import stored_pk
from autoaudit.values.serialization import pk_text, safe_str

#: Source rows read per batch (one existence query and one insert each).
DEFAULT_BATCH_SIZE = 500


class ImportSourceError(ValueError):
    """The source cannot be read (package not installed, unknown model ...)."""


@dataclass(frozen=True)
class Entry:
    """One change as a source recorded it, in our terms.

    ``model`` is the subject's model (``None`` if it no longer exists; then
    ``entity`` names it). ``old``/``new`` hold values by field name (Python
    or JSON-safe); ``user_pk`` names the acting user (resolved a batch at a
    time), ``actor`` gives the actor columns otherwise.
    """

    source_id: str
    when: dt.datetime
    action: str
    model: type[models.Model] | None
    pk: Any
    old: Mapping[str, Any] | None = None
    new: Mapping[str, Any] | None = None
    changed: Sequence[str] | None = None
    name: str | None = None
    instance: models.Model | None = None
    entity: tuple[str, str] | None = None
    user_pk: Any = None
    actor: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] | None = None
    request_id: str | None = None
    ip: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """One full copy of an object as a snapshot source kept it.

    ``kind`` is ``"create"``, ``"update"`` or ``"delete"`` when the source
    says so, ``None`` when it does not (django-reversion). ``values`` holds
    the fields the source copied, by name, as Python values; ``m2m`` the
    related keys of many-to-many fields, where the source has them.
    """

    source_id: str
    when: dt.datetime
    kind: str | None
    model: type[models.Model]
    pk: Any
    values: Mapping[str, Any]
    m2m: Mapping[str, list[Any]] | None = None
    name: str | None = None
    user_pk: Any = None
    actor: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] | None = None


class Source(Protocol):
    """An importer: what ``autoaudit_import --from NAME`` reads."""

    name: str

    def count(self, models: Sequence[type[models.Model]] | None) -> int:
        """How many source rows :meth:`entries` reads (for the progress bar)."""

    def entries(
        self,
        models: Sequence[type[models.Model]] | None,
        since: dt.datetime | None,
        batch_size: int,
    ) -> Iterator[tuple[int, list[Entry]]]:
        """Batches of (source rows read, entries), oldest first per object."""


class SnapshotTables:
    """Base of the sources that keep one table of full snapshots per tracked
    model (django-simple-history, django-pghistory): each table is read in
    order, oldest first per object, and its snapshots diffed
    (:func:`paged`)."""

    name: str

    def tables(self, models: Sequence[type[models.Model]] | None) -> list[type[models.Model]]:
        """The snapshot tables of ``models`` (every tracked model: ``None``)."""
        raise NotImplementedError

    def snapshots(self, table: type[models.Model], batch_size: int) -> Iterator[Snapshot]:
        """The snapshots of one table, in order."""
        raise NotImplementedError

    def count(self, models: Sequence[type[models.Model]] | None) -> int:
        return sum(table._default_manager.count() for table in self.tables(models))

    def entries(
        self,
        models: Sequence[type[models.Model]] | None,
        since: dt.datetime | None,
        batch_size: int,
    ) -> Iterator[tuple[int, list[Entry]]]:
        for table in self.tables(models):
            yield from paged(self.snapshots(table, batch_size), batch_size)


def content_type_rows(
    model: type[models.Model], models: Sequence[type[models.Model]] | None
) -> models.QuerySet[Any]:
    """The rows of a source ``model`` that names its subject by content type
    (django-auditlog's ``LogEntry``, django-reversion's ``Version``), of
    ``models`` only unless ``None``."""
    from django.contrib.contenttypes.models import ContentType

    rows = model._default_manager.all()
    if models is not None:
        types = ContentType.objects.get_for_models(*models, for_concrete_models=False)
        rows = rows.filter(content_type__in=list(types.values()))
    return rows


def system_actor() -> dict[str, Any]:
    """The actor of a change the source knows no actor of."""
    return {"user": None, "actor_type": ActorType.SYSTEM}


def guest_actor(ip: str | None) -> dict[str, Any]:
    """A request without a user, known by its address."""
    return {
        "user": None,
        "actor_type": ActorType.GUEST,
        "actor_identifier": ip,
        "actor_name": "Anonymous Guest",
        "ip_address": ip,
    }


def tracked_fields(
    model: type[models.Model], present: Iterable[str]
) -> list[models.Field[Any, Any]]:
    """The fields of ``model`` a log holds that the source copied too."""
    names = set(present)
    return [f for f in loggable_fields(model) if f.name in names or f.attname in names]


def m2m_fields(model: type[models.Model]) -> list[str]:
    """The many-to-many fields whose changes are logged: the registered
    ``m2m_fields``, else every many-to-many field of an unregistered model."""
    tracker = registry.tracker_for(model)
    if tracker is not None:
        return [f.name for f in tracker.m2m]
    return [f.name for f in model._meta.many_to_many]


def _instance(model: type[models.Model], pk: Any, values: Mapping[str, Any]) -> models.Model:
    """An unsaved instance holding a snapshot (its name, its secrets)."""
    attrs = {}
    for f in model._meta.concrete_fields:
        if f.name in values:
            attrs[f.attname] = values[f.name]
    instance = model(**attrs)
    instance.pk = pk
    return instance


def diffed(snapshots: Iterable[Snapshot], previous: Snapshot | None = None) -> Iterator[Entry]:
    """The changes between consecutive snapshots of each object.

    Snapshots come grouped by object, oldest first; ``previous`` is the one
    before the first (a page of a longer stream). A delete carries the
    last values; a first snapshot is the create (or, if the source says it
    was an update, an update without old values: history began later); a
    snapshot equal to the one before it gives no entry. A changed
    many-to-many field gives its own entry (``"<id>:<field>"``), as a
    tracked M2M change does.
    """
    for snap in snapshots:
        if previous is not None and (previous.model, previous.pk) != (snap.model, snap.pk):
            previous = None
        fields = tracked_fields(snap.model, snap.values)
        values = {f.name: snap.values[f.name] for f in fields if f.name in snap.values}
        common: dict[str, Any] = {
            "when": snap.when,
            "model": snap.model,
            "pk": snap.pk,
            "name": snap.name,
            "instance": _instance(snap.model, snap.pk, snap.values),
            "user_pk": snap.user_pk,
            "actor": snap.actor,
            "extra": snap.extra,
        }
        if snap.kind == "delete":
            yield Entry(snap.source_id, action=ActionType.DELETE, old=values, **common)
            previous = None
            continue
        if previous is None and snap.kind in ("create", None):
            yield Entry(snap.source_id, action=ActionType.CREATE, new=values, **common)
        elif previous is None:
            yield Entry(
                snap.source_id, action=ActionType.UPDATE, new=values, changed=list(values), **common
            )
        else:
            before = previous.values
            changed = [
                f.name
                for f in fields
                if f.name in before and differs(f, before[f.name], values[f.name])
            ]
            if changed:
                yield Entry(
                    snap.source_id,
                    action=ActionType.UPDATE,
                    old={name: before[name] for name in changed},
                    new={name: values[name] for name in changed},
                    changed=changed,
                    **common,
                )
        yield from _m2m_entries(snap, previous, common)
        previous = snap


def _m2m_entries(
    snap: Snapshot, previous: Snapshot | None, common: dict[str, Any]
) -> Iterator[Entry]:
    if snap.m2m is None:
        return
    before = previous.m2m or {} if previous is not None else {}
    for name in m2m_fields(snap.model):
        if name not in snap.m2m:
            continue
        old = sorted(before.get(name, []), key=str)
        new = sorted(snap.m2m[name], key=str)
        if old != new:
            yield Entry(
                f"{snap.source_id}:{name}",
                action=ActionType.UPDATE,
                old={name: old},
                new={name: new},
                changed=[name],
                **common,
            )


def paged(snapshots: Iterable[Snapshot], batch_size: int) -> Iterator[tuple[int, list[Entry]]]:
    """Batches of ``batch_size`` snapshots as (snapshots read, their entries)."""
    batch: list[Snapshot] = []
    carried: Snapshot | None = None  # the last snapshot of the batch before
    for snap in snapshots:
        batch.append(snap)
        if len(batch) >= batch_size:
            yield len(batch), list(diffed(batch, carried))
            carried, batch = batch[-1], []
    if batch:
        yield len(batch), list(diffed(batch, carried))


# -- writing -------------------------------------------------------------------------------
@dataclass
class ImportResult:
    """What one run read and wrote (in a dry run: would have written)."""

    source: str
    read: int = 0
    imported: int = 0
    skipped: int = 0
    by_action: dict[str, int] = field(default_factory=dict)


def _actors(entries: Sequence[Entry]) -> dict[Any, dict[str, Any]]:
    """The actor columns of each user the batch names, in one query."""
    pks = {e.user_pk for e in entries if e.user_pk is not None}
    if not pks:
        return {}
    users = get_user_model()._default_manager.in_bulk(pks)
    found = {}
    for pk in pks:
        user = users.get(pk) or users.get(_coerce(pk))
        if user is not None:
            found[pk] = user_actor(user)
        else:  # the account is gone: a user, known by its key only
            found[pk] = {
                "user": None,
                "actor_type": ActorType.USER,
                "actor_name": f"user #{safe_str(pk)}",
            }
    return found


def _coerce(pk: Any) -> Any:
    try:
        return get_user_model()._meta.pk.to_python(pk)
    except Exception:
        return pk


def draft_of(entry: Entry, source: str, actor: Mapping[str, Any]) -> LogDraft:
    """The log row of one imported entry."""
    subject: dict[str, Any]
    if entry.instance is not None:
        subject = {"instance": entry.instance, "pk": entry.pk}
    elif entry.model is not None:
        subject = {"model": entry.model, "pk": entry.pk}
    else:
        subject = {"entity": entry.entity, "pk": entry.pk}
    if entry.ip:
        actor = {**actor, "ip_address": entry.ip}
    draft = assemble(
        entry.action,
        name=entry.name,
        old=entry.old,
        new=entry.new,
        changed=entry.changed,
        actor=actor,
        extra=entry.extra or None,
        **subject,
    )
    extra = dict(draft.extra_data or {})
    extra["imported_from"] = {"source": source, "id": entry.source_id}
    return dataclasses.replace(
        draft,
        extra_data=extra,
        created_at=entry.when,
        request_id=entry.request_id[:64] if entry.request_id else None,
    )


def subject_of(entry: Entry) -> tuple[str, str | None]:
    """``(computed_entity, entity_pk)`` of the row ``entry`` becomes, as the
    assembler will set them (known before assembling it)."""
    if entry.model is not None:
        computed = entity_labels(entry.model)[1]
        pk = stored_pk(entry.model, entry.pk) if entry.pk is not None else None
    else:
        computed = entry.entity[1] if entry.entity is not None else ""
        pk = entry.pk
    return safe_str(computed)[:100], pk_text(pk)


def imported_ids(source: str, subjects_: Iterable[tuple[str, str | None]], alias: str) -> set[str]:
    """The source ids already imported for these subjects (:func:`subject_of`)."""
    from autoaudit.models import ActivityLog

    subjects: dict[str, set[str | None]] = {}
    for computed, pk in subjects_:
        subjects.setdefault(computed, set()).add(pk)
    if not subjects:
        return set()
    condition = Q()
    for entity, pks in subjects.items():
        keys = Q(entity_pk__in={pk for pk in pks if pk is not None})
        if None in pks:  # a log about a model, not one object
            keys |= Q(entity_pk__isnull=True)
        condition |= Q(computed_entity=entity) & keys
    rows = (
        ActivityLog.objects.using(alias)
        .filter(condition, extra_data__imported_from__source=source)
        .values_list("extra_data__imported_from__id", flat=True)
    )
    return {str(value) for value in rows}


def run(
    source: Source,
    *,
    models: Sequence[type[models.Model]] | None = None,
    since: dt.datetime | None = None,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int, int, ImportResult], None] | None = None,
) -> ImportResult:
    """Copy ``source``'s history into ``activity_logs``; see the module docstring.

    ``models`` limits it to those subjects, ``since`` to changes at or after
    that time. A dry run reads and counts, and writes nothing.
    """
    result = ImportResult(source.name)
    alias = log_alias()
    total = source.count(models)
    done = 0
    for read, entries in source.entries(models, since, batch_size):
        done += read
        kept = [e for e in entries if since is None or e.when >= since]
        # What is imported already is found first: a rerun assembles nothing.
        existing = imported_ids(source.name, map(subject_of, kept), alias)
        fresh = [e for e in kept if e.source_id not in existing]
        actors = _actors(fresh)
        new = [
            draft_of(e, source.name, actors.get(e.user_pk) or e.actor or system_actor())
            for e in fresh
        ]
        result.read += read
        result.skipped += len(kept) - len(new)
        result.imported += len(new)
        for draft in new:
            result.by_action[draft.action] = result.by_action.get(draft.action, 0) + 1
        if new and not dry_run:
            with transaction.atomic(using=alias):
                store.write(new, alias)
        if progress is not None:
            progress(done, total, result)
    return result
