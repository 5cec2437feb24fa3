"""Many-to-many changes of registered ``m2m_fields``, logged as updates.

Before the change the tracked objects it touches are locked (one query:
see :func:`.links.lock_owners`), then their related primary keys are read (one
locking query): two concurrent changes of one object's list are
serialised, so each log's "before" is the list the previous change left.
After it, each object whose list changed gets an update log with
``old_values={field: [pks before]}`` and ``new_values={field: [pks after]}``.
Both sides of the relation are handled (``product.tags.add(t)`` and
``tag.products.add(p)``).

On MySQL and MariaDB Django adds links with ``INSERT IGNORE``, which also
drops, silently, a link to a row that does not exist: there the lists after
an ``add()`` are read back rather than computed.

The through table holds the values the foreign keys point at, which are not
the primary keys when a key uses ``to_field``: rows are matched by those
values, and the lists are of primary keys (read through the relation, and
read again after the change where Django's ``pk_set`` holds such values).
"""

from __future__ import annotations

from typing import Any

from django.db import connections, models

from autoaudit.tracking import links
from autoaudit.tracking.links import Links, key_of, sides, sorted_pks
from autoaudit.tracking.record import LogDraft
from autoaudit.tracking.registry import Tracker
from autoaudit.tracking.rows import claim_write_lock, clean_queryset


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
    through, source, target = sides(field)
    if not reverse:
        keys = [key_of(source, instance)]
    elif pk_set is None:  # reverse clear(): every tracked object linked to this one
        claim_write_lock(through, using)  # SQLite: before the first read
        rows = clean_queryset(through, using)
        keys = list(
            rows.filter(**{target.attname: key_of(target, instance)})
            .values_list(source.attname, flat=True)
            .distinct()
        )
    else:  # reverse side: the tracked objects are the other end of the relation
        keys = list(pk_set)
    links.lock_owners(field, keys, using)
    return links.read(field, keys, using)


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
    _through, source, target = sides(field)
    if reverse:
        found = clean_queryset(tracker.model, using).filter(
            **{f"{source.target_field.attname}__in": list(old)}
        )
        owners = {key_of(source, obj): obj for obj in found}
        me = instance.pk
        new = {
            key: sorted_pks(set(pks) | {me} if action == "post_add" else set(pks) - {me})
            for key, pks in old.items()
        }
    else:
        owners = {key_of(source, instance): instance}
        if action == "post_clear":
            new = {key: [] for key in old}
        elif not target.target_field.primary_key or (
            action == "post_add" and connections[using].vendor == "mysql"
        ):
            # pk_set holds to_field values, or INSERT IGNORE may have dropped some.
            new = links.read(field, list(old), using)
        else:
            changed = set(pk_set or ())
            new = {
                key: sorted_pks(set(pks) | changed if action == "post_add" else set(pks) - changed)
                for key, pks in old.items()
            }
    return links.drafts(tracker, field, owners, old, new)
