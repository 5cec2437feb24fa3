"""Many-to-many changes of registered ``m2m_fields``, logged as updates.

Before the change one query reads the related primary keys of every tracked
object it touches; after it, each object whose list changed gets an update
log with ``old_values={field: [pks before]}`` and ``new_values={field: [pks
after]}``. Both sides of the relation are handled (``product.tags.add(t)``
and ``tag.products.add(p)``).

The through table holds the values the foreign keys point at, which are not
the primary keys when a key uses ``to_field``: rows are matched by those
values, and the lists are of primary keys (read through the relation, and
read again after the change where Django's ``pk_set`` holds such values).
"""

from __future__ import annotations

from typing import Any

from django.db import connections, models

from autoaudit.tracking.record import LogDraft, assemble
from autoaudit.tracking.registry import Tracker
from autoaudit.tracking.rows import clean_queryset
from autoaudit.values.serialization import safe_str

#: ``{owner key: [related pks]}``; the owner key is the value the through
#: table holds for the tracked object (its pk, or its ``to_field`` value).
Links = dict[Any, list[Any]]


def _sides(
    field: models.ManyToManyField[Any, Any],
) -> tuple[type[models.Model], models.ForeignKey[Any, Any], models.ForeignKey[Any, Any]]:
    """The through model, its key to the tracked model and its key to the other side."""
    through: type[models.Model] = field.remote_field.through  # type: ignore[assignment]
    meta = through._meta
    source = meta.get_field(field.m2m_field_name())
    target = meta.get_field(field.m2m_reverse_field_name())
    return through, source, target  # type: ignore[return-value]


def _related_pk(fk: models.ForeignKey[Any, Any]) -> str:
    """What to select for the primary key of the row ``fk`` points at."""
    return fk.attname if fk.target_field.primary_key else f"{fk.name}__pk"


def _key_of(fk: models.ForeignKey[Any, Any], obj: models.Model) -> Any:
    """The value the through table holds for ``obj`` in ``fk``'s column."""
    return getattr(obj, fk.target_field.attname)


def _order(value: Any) -> tuple[int, Any]:
    """Numbers by value (``9`` before ``10``), anything else by its text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0, value
    return 1, safe_str(value)


def _sorted(values: Any) -> list[Any]:
    return sorted(values, key=_order)


def _read(field: models.ManyToManyField[Any, Any], keys: list[Any], using: str) -> Links:
    through, source, target = _sides(field)
    links: Links = {key: [] for key in keys}
    rows = clean_queryset(through, using)
    for owner, related in rows.filter(**{f"{source.attname}__in": keys}).values_list(
        source.attname, _related_pk(target)
    ):
        links.setdefault(owner, []).append(related)
    return {key: _sorted(pks) for key, pks in links.items()}


def before(
    field: models.ManyToManyField[Any, Any],
    instance: models.Model,
    reverse: bool,
    pk_set: set[Any] | None,
    using: str,
) -> Links | None:
    """The links of every tracked object an M2M change touches (one query).

    ``None`` inside a transaction that is already marked for rollback: the
    change cannot commit, and a query of ours would turn Django's own error
    into a ``TransactionManagementError``.
    """
    connection = connections[using]
    if connection.in_atomic_block and connection.needs_rollback:
        return None
    through, source, target = _sides(field)
    if not reverse:
        return _read(field, [_key_of(source, instance)], using)
    # Reverse side: the tracked objects are the other end of the relation.
    if pk_set is None:  # clear(): every tracked object linked to this one
        rows = clean_queryset(through, using)
        keys = list(
            rows.filter(**{target.attname: _key_of(target, instance)})
            .values_list(source.attname, flat=True)
            .distinct()
        )
    else:
        keys = list(pk_set)
    return _read(field, keys, using)


def drafts(
    tracker: Tracker,
    field: models.ManyToManyField[Any, Any],
    instance: models.Model,
    reverse: bool,
    action: str,
    pk_set: set[Any] | None,
    old: Links | None,
    using: str,
) -> list[LogDraft]:
    """One update draft per tracked object whose list of related pks changed."""
    if old is None:
        return []
    _through, source, target = _sides(field)
    if reverse:
        found = clean_queryset(tracker.model, using).filter(
            **{f"{source.target_field.attname}__in": list(old)}
        )
        owners = {_key_of(source, obj): obj for obj in found}
        me = instance.pk
        new = {
            key: _sorted(set(pks) | {me} if action == "post_add" else set(pks) - {me})
            for key, pks in old.items()
        }
    else:
        owners = {_key_of(source, instance): instance}
        if action == "post_clear":
            new = {key: [] for key in old}
        elif not target.target_field.primary_key:
            new = _read(field, list(old), using)  # pk_set holds to_field values
        else:
            changed = set(pk_set or ())
            new = {
                key: _sorted(set(pks) | changed if action == "post_add" else set(pks) - changed)
                for key, pks in old.items()
            }
    result = []
    for key, before_pks in old.items():
        owner = owners.get(key)
        if owner is None or new[key] == before_pks:
            continue
        result.append(
            assemble(
                "update",
                instance=owner,
                tracker=tracker,
                old={field.name: before_pks},
                new={field.name: new[key]},
                changed=[field.name],
            )
        )
    return result
