#!/usr/bin/env python
"""Where a tracked write's time goes, one step at a time.

    python benchmarks/anatomy.py --db postgres     # after benchmarks/run.py built the database

Builds a tracked create and a tracked update up from the untracked op, adding
one of the tracked op's parts at each step (its own transaction, the old-values
read, the log INSERT, building the log row in Python), and times every step
interleaved with the others, median of the rounds, on the bench database of
``benchmarks/run.py``. The last row of each table is the real tracked op; the
gap between it and the row above is the signal and wrapper machinery.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TIMES = "\N{MULTIPLICATION SIGN}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "mysql"), default="postgres")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=100, help="ops per step per round")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ["AUTOAUDIT_BENCH_DB"] = args.db
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    import django

    django.setup()
    from benchmarks.interleave import interleaved_medians

    for title, steps in (("create", create_steps()), ("update", update_steps())):
        print(f"\n{args.db}: tracked {title}, built up step by step\n")
        print(table(interleaved_medians(steps, args.rounds, args.n)))
    from benchmarks.benchapp.models import AAItem, PlainItem

    for model in (AAItem, PlainItem):
        model.objects.filter(sku__startswith="anatomy-").delete()
    return 0


_serial = count()


def _values(owner: Any) -> dict[str, Any]:
    return {
        "name": "Anatomy",
        "sku": f"anatomy-{time.time_ns()}-{next(_serial)}",
        "price": Decimal("12.50"),
        "quantity": 3,
        "active": True,
        "metadata": {"specs": {"ram": 16}, "tags": ["a", "b"]},
        "notes": "Step by step.",
        "owner": owner,
    }


def _parts() -> tuple[Any, Any, Any, Any, Any, Any]:
    from django.db import connection
    from django.utils import timezone

    from autoaudit.tracking import store
    from autoaudit.tracking.registry import registry
    from benchmarks.benchapp.models import AAItem, Owner

    owner = Owner.objects.first() or Owner.objects.create(name="Anatomy")
    tracker = registry.tracker_for(AAItem)
    assert tracker is not None, "AAItem is not registered"
    compiled = store._compiled(connection.alias)
    sample = _create_draft(tracker, AAItem(pk=1, **_values(owner)))
    params = compiled.params(sample, timezone.now(), connection)
    return connection, _create_draft, tracker, owner, compiled.head + compiled.row_sql, params


def _create_draft(tracker: Any, item: Any) -> Any:
    """What the post_save receiver builds for a create: the snapshot step's
    values through the one assembler."""
    from autoaudit.tracking.record import assemble
    from autoaudit.tracking.snapshot import current_values

    new = current_values(tracker.fields, item)
    return assemble("create", instance=item, tracker=tracker, new=new)


def create_steps() -> dict[str, Callable[[], Any]]:
    from django.db import transaction

    from benchmarks.benchapp.models import AAItem, PlainItem

    connection, build, tracker, owner, insert_sql, params = _parts()

    def untracked() -> None:
        PlainItem.objects.create(**_values(owner))

    def in_transaction() -> None:
        with transaction.atomic():
            PlainItem.objects.create(**_values(owner))

    def with_log_insert() -> None:
        with transaction.atomic():
            PlainItem.objects.create(**_values(owner))
            with connection.cursor() as cursor:
                cursor.execute(insert_sql, params)

    def with_log_built() -> None:
        with transaction.atomic():
            item = PlainItem.objects.create(**_values(owner))
            build(tracker, item)
            with connection.cursor() as cursor:
                cursor.execute(insert_sql, params)

    def tracked() -> None:
        AAItem.objects.create(**_values(owner))

    return {
        "untracked create (autocommit)": untracked,
        "+ its own transaction (BEGIN, COMMIT)": in_transaction,
        "+ the log INSERT (prepared row, precompiled SQL)": with_log_insert,
        "+ building the log row in Python": with_log_built,
        "tracked create (autoaudit)": tracked,
    }


def update_steps() -> dict[str, Callable[[], Any]]:
    from django.db import transaction

    from autoaudit.tracking.snapshot import read_row
    from benchmarks.benchapp.models import AAItem, PlainItem

    connection, _build, tracker, owner, insert_sql, params = _parts()
    plain = PlainItem.objects.create(**_values(owner))
    item = AAItem.objects.create(**_values(owner))
    attnames = [f.attname for f in tracker.fields if f.attname in item.__dict__]
    prices = count(1)

    def change(obj: Any) -> None:
        obj.price = Decimal(next(prices) % 10_000)
        obj.quantity += 1

    def untracked() -> None:
        change(plain)
        plain.save()

    def in_transaction() -> None:
        with transaction.atomic():
            change(plain)
            plain.save()

    def with_read() -> None:
        with transaction.atomic():
            read_row(AAItem, item.pk, attnames, True, connection.alias)
            change(plain)
            plain.save()

    def with_read_and_insert() -> None:
        with transaction.atomic():
            read_row(AAItem, item.pk, attnames, True, connection.alias)
            change(plain)
            plain.save()
            with connection.cursor() as cursor:
                cursor.execute(insert_sql, params)

    def tracked() -> None:
        change(item)
        item.save()

    return {
        "untracked update (autocommit)": untracked,
        "+ its own transaction (BEGIN, COMMIT)": in_transaction,
        "+ the locking read of old values": with_read,
        "+ the log INSERT (prepared row, precompiled SQL)": with_read_and_insert,
        "tracked update (autoaudit)": tracked,
    }


def table(medians: dict[str, float]) -> str:
    base = next(iter(medians.values()))
    lines = ["| step | µs per op | ratio | added by this step |", "|---|---:|---:|---:|"]
    previous = None
    for name, value in medians.items():
        added = "" if previous is None else f"{value - previous:+,.0f} µs"
        lines.append(f"| {name} | {value:,.0f} | {TIMES}{value / base:.2f} | {added} |")
        previous = value
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
