"""The links of many-to-many fields: reading them and locking them.

Shared by the M2M receivers (:mod:`.m2m`) and the deletes that remove
links (:mod:`.deletes`). The link table holds the values the foreign keys
point at, which are not the primary keys when a key uses ``to_field``:
rows are matched by those values, and the lists are of primary keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connections, models

from autoaudit.tracking.record import LogDraft, assemble
from autoaudit.tracking.registry import Tracker
from autoaudit.tracking.rows import claim_write_lock, clean_queryset, lock, lock_keys
from autoaudit.values.serialization import safe_str

#: ``{owner key: [related pks]}``; the owner key is the value the through
#: table holds for the tracked object (its pk, or its ``to_field`` value).
Links = dict[Any, list[Any]]


def sides(
    field: models.ManyToManyField[Any, Any],
) -> tuple[type[models.Model], models.ForeignKey[Any, Any], models.ForeignKey[Any, Any]]:
    """The through model, its key to the tracked model and its key to the other side."""
    through: type[models.Model] = field.remote_field.through  # type: ignore[assignment]
    meta = through._meta
    source = meta.get_field(field.m2m_field_name())
    target = meta.get_field(field.m2m_reverse_field_name())
    return through, source, target  # type: ignore[return-value]


def related_pk(fk: models.ForeignKey[Any, Any]) -> str:
    """What to select for the primary key of the row ``fk`` points at."""
    return fk.attname if fk.target_field.primary_key else f"{fk.name}__pk"


def key_of(fk: models.ForeignKey[Any, Any], obj: models.Model) -> Any:
    """The value the through table holds for ``obj`` in ``fk``'s column."""
    return getattr(obj, fk.target_field.attname)


def _order(value: Any) -> tuple[int, Any]:
    """Numbers by value (``9`` before ``10``), anything else by its text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0, value
    return 1, safe_str(value)


def sorted_pks(values: Any) -> list[Any]:
    return sorted(values, key=_order)


def read(field: models.ManyToManyField[Any, Any], keys: list[Any], using: str) -> Links:
    """``{owner key: [related pks, sorted]}`` of these tracked objects.

    After :func:`lock_owners`, PostgreSQL's next statement sees every
    committed link; on MySQL the read locks (a plain read could see a
    ``REPEATABLE READ`` snapshot from before the lock).
    """
    through, source, target = sides(field)
    links: Links = {key: [] for key in keys}
    rows = clean_queryset(through, using).filter(**{f"{source.attname}__in": keys})
    if connections[using].vendor == "mysql":
        rows = lock(rows)
    for owner, related in rows.values_list(source.attname, related_pk(target)):
        links.setdefault(owner, []).append(related)
    return {key: sorted_pks(pks) for key, pks in links.items()}


def lock_owners(field: models.ManyToManyField[Any, Any], keys: list[Any], using: str) -> None:
    """Make concurrent changes of these objects' links wait for each other.

    A locking read of the links alone cannot stop a link being added. The
    objects' rows are locked, in key order (``FOR NO KEY UPDATE`` on
    PostgreSQL, the lock an ``UPDATE`` takes: saves, link changes and
    deletes of an object all take its row lock first). PostgreSQL adds, in
    the same statement, a key lock per object (:func:`.rows.lock_keys`): it
    also holds for a row that does not exist yet (one being re-created,
    whose create takes it too). SQLite, which has no row locks: the write
    lock is claimed.
    """
    if not keys:
        return
    _through, source, _target = sides(field)
    owner = source.remote_field.model
    if not connections[using].features.has_select_for_update:
        claim_write_lock(owner, using)
        return
    attname = source.target_field.attname
    rows = clean_queryset(owner, using).filter(**{f"{attname}__in": keys}).order_by(attname)
    if not lock_keys(owner, keys, using, rows=rows.values_list(attname)):
        list(lock(rows).values_list(attname, flat=True))


def drafts(
    tracker: Tracker,
    field: models.ManyToManyField[Any, Any],
    owners: Mapping[Any, models.Model],
    old: Links,
    new: Links,
) -> list[LogDraft]:
    """One update draft per tracked object (by owner key) whose list changed."""
    result = []
    for key, before in old.items():
        owner, after = owners.get(key), new.get(key, before)
        if owner is None or after == before:
            continue
        result.append(
            assemble(
                "update",
                instance=owner,
                tracker=tracker,
                old={field.name: before},
                new={field.name: after},
                changed=[field.name],
            )
        )
    return result
