#!/usr/bin/env python
"""Sustained logged writes per second from 8 concurrent writers, per WRITE_MODE.

    python benchmarks/throughput.py                      # PostgreSQL, 8 writers, 15 s per mode
    python benchmarks/throughput.py --writers 4 --seconds 5

Each writer is a process of its own (Django set up as in
``benchmarks/durability.py``: ``auth.Group`` registered through
``AUTOAUDIT["MODELS"]``) that commits, for ``--seconds``, one transaction
after another, each creating one tracked row. Per mode the run reports the
changes committed per second by all writers together, the log rows written,
and for ``task`` how long one real worker (``db_worker --batch``) then takes
to write the enqueued logs (its rate). ``untracked`` runs the same loop inside
``autoaudit.disabled()``: the ceiling. Not part of CI.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.durability import configure  # noqa: E402  (after the path)

MODES = ("untracked", "transaction", "on_commit", "task")


def writer(db: str, name: str, mode: str, index: int, seconds: float, barrier: Any) -> int:
    configure(db, name, "transaction" if mode == "untracked" else mode, False)
    import contextlib

    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    import autoaudit

    scope = autoaudit.disabled() if mode == "untracked" else contextlib.nullcontext()
    connection.ensure_connection()
    barrier.wait()  # every writer set up: start together
    done = 0
    end = time.time() + seconds
    with scope:
        while time.time() < end:
            with transaction.atomic():
                Group.objects.create(name=f"tp-{mode}-{index}-{done}")
            done += 1
    connection.close()
    return done


def run_mode(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection

    from autoaudit.models import ActivityLog

    Group.objects.filter(name__startswith=f"tp-{mode}-").delete()
    ActivityLog.objects.filter(entity_name__startswith=f"tp-{mode}-").delete()
    connection.close()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(args.writers) as pool:
        barrier = manager.Barrier(args.writers)
        counts = pool.starmap(
            writer,
            [(args.db, args.name, mode, i, args.seconds, barrier) for i in range(args.writers)],
        )
    changes = sum(counts)
    row: dict[str, Any] = {
        "writers": args.writers,
        "seconds": args.seconds,
        "changes": changes,
        "changes/s": round(changes / args.seconds, 1),
    }
    if mode == "task":
        started = time.perf_counter()
        call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)
        drained = time.perf_counter() - started
        row["worker seconds"] = round(drained, 1)
        row["worker logs/s"] = round(changes / drained, 1) if drained else None
    row["logs"] = ActivityLog.objects.filter(entity_name__startswith=f"tp-{mode}-").count()
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Logged writes per second, per WRITE_MODE.")
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--name", default=os.environ.get("AUTOAUDIT_BENCH_DB_NAME", "autoaudit_durability")
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from benchmarks.durability import create_databases

    create_databases(args.db, args.name)
    configure(args.db, args.name, "transaction", False)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    results = {}
    for mode in args.modes.split(","):
        results[mode] = run_mode(args, mode)
        print(mode, results[mode], flush=True)
    ceiling = results.get("untracked", {}).get("changes/s")
    print("| mode | changes/s | vs untracked | log rows | worker logs/s |")
    print("|---|---:|---:|---:|---:|")
    for mode, row in results.items():
        ratio = f"{row['changes/s'] / ceiling:.2f}" if ceiling else "-"
        print(
            f"| {mode} | {row['changes/s']:,} | {ratio} | {row['logs']:,} | "
            f"{row.get('worker logs/s', '-')} |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
