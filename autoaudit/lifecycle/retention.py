"""Retention: ``autoaudit_prune`` deletes logs older than ``RETENTION_DAYS``.

It works in batches of ``PRUNE_BATCH_SIZE`` rows, each batch in its own
short transaction, so they can run from cron while the site writes logs.
On a partitioned table (``autoaudit_partition``, PostgreSQL) the months that
ended before an actor type's cutoff are dropped whole first, so the batches
only delete inside the month the cutoff falls in (and the default partition).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from autoaudit.conf import get_settings
from autoaudit.enums import ActorType
from autoaudit.lifecycle import partitions
from autoaudit.lifecycle.selection import delete_in_batches, log_alias

# -- prune ----------------------------------------------------------------------


@dataclass
class PruneResult:
    """Rows deleted (or, in a dry run, that would be) per actor type."""

    cutoffs: dict[str, dt.datetime] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    kept_forever: list[str] = field(default_factory=list)
    #: Month partitions dropped (or, in a dry run, that would be) per actor type.
    dropped: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def prune(
    *,
    dry_run: bool = False,
    batch_size: int | None = None,
    now: dt.datetime | None = None,
) -> PruneResult:
    """Delete logs older than ``RETENTION_DAYS`` for their actor type.

    An actor type whose retention is ``None`` is kept forever.
    """
    from autoaudit.models import ActivityLog, SealEvent

    settings = get_settings()
    size = batch_size or settings.PRUNE_BATCH_SIZE
    now = now or timezone.now()
    alias = log_alias()
    months = partitions.leaves(alias) if partitions.is_partitioned(alias) else []
    result = PruneResult()
    for actor_type in ActorType.values:
        days = settings.RETENTION_DAYS.get(actor_type)
        if days is None:
            result.kept_forever.append(actor_type)
            continue
        cutoff = now - dt.timedelta(days=days)
        result.cutoffs[actor_type] = cutoff
        queryset = ActivityLog.objects.using(alias).filter(
            actor_type=actor_type, created_at__lt=cutoff
        )
        rows = 0
        for leaf in months:
            if leaf.actor_type == actor_type and leaf.end is not None and leaf.end <= cutoff:
                result.dropped.setdefault(actor_type, []).append(leaf.name)
                if not dry_run:
                    rows += _drop_month(alias, leaf)
        rows += (
            queryset.count()
            if dry_run
            else delete_in_batches(queryset, size, alias, kind=SealEvent.Kind.PRUNED)
        )
        result.rows[actor_type] = rows
    return result


def _drop_month(alias: str, leaf: partitions.Leaf) -> int:
    """Drop one expired month partition in a maintenance transaction that
    records its sealed rows as pruned (so ``autoaudit_verify`` does not
    report them as deleted); returns how many rows it held."""
    from autoaudit.lifecycle.maintenance import maintenance
    from autoaudit.models import SealEvent

    with maintenance(alias) as ledger:
        before = ledger.snapshot(partitions.leaf_ids(alias, leaf.name, ledger.sealed_to))
        rows = partitions.count_rows(alias, leaf.name)
        partitions.drop_leaf(alias, leaf)
        ledger.record(SealEvent.Kind.PRUNED, before)
    return rows
