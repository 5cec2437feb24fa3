"""Partitioned against plain ``activity_logs`` at scale (PostgreSQL only).

Two databases of its own, ``<prefix>_plain`` and ``<prefix>_part`` (created,
and dropped at the end unless ``--keep``), get the same ``--rows`` log rows
(10,000,000 by default) from ``benchmarks/scale.py``'s ``INSERT ... SELECT
generate_series`` loader: two years of logs, 85% users, 10% system, 5%
guests, one object with 150 entries spread through the table. The
partitioned one is made by ``autoaudit_partition``'s code on the empty table
first (every month of the two years), so the loader fills the months
directly. Then, on each:

- the history of one object, ``for_instance(obj)[:50]``;
- the first timeline page, ``GET /activity/`` as a superuser (the logs read
  through ``READ_DATABASE``);
- the insert rate: tracked creates (each a row and its log), per second;
- pruning one month of guest logs: ``prune()`` with a cutoff on a month
  boundary, which drops one partition, against the plain table's batched
  ``DELETE`` (``PRUNE_BATCH_SIZE`` 5,000).

The trigram indexes of migration 0004 (the admin search, not measured here)
are dropped before loading, on both, and the other indexes are built after
the load (not row by row), to keep the run inside ~15 minutes.

    python benchmarks/partitions.py                       # 10,000,000 rows
    python benchmarks/partitions.py --quick               # CI smoke: 20,000 rows
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ALIASES = ("plain", "part")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--inserts", type=int, default=2000, help="tracked creates timed")
    parser.add_argument("--prefix", default="autoaudit_bench_partitions", help="database names")
    parser.add_argument("--keep", action="store_true", help="keep the two databases")
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 1 round (smoke)")
    parser.add_argument("--output", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.rounds, args.inserts = 20_000, 1, 50
    return args


def create_databases(names: list[str], conf: dict[str, Any], *, drop: bool = False) -> None:
    from benchmarks.run import postgres_admin

    with postgres_admin(conf) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not drop:
                admin.execute(f'CREATE DATABASE "{name}"')


def setup(args: argparse.Namespace) -> dict[str, Any]:
    os.environ["AUTOAUDIT_BENCH_DB"] = "postgres"
    os.environ["AUTOAUDIT_BENCH_DB_NAME"] = f"{args.prefix}_plain"
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    sys.path.insert(0, str(ROOT))
    from benchmarks import settings

    default = settings.DATABASES["default"]
    settings.DATABASES["plain"] = dict(default)
    settings.DATABASES["part"] = {**default, "NAME": f"{args.prefix}_part"}
    return dict(default)


def median_ms(unit: Any, rounds: int, reps: int) -> float:
    from benchmarks.scale import timed_ms

    return statistics.median(timed_ms(unit, rounds, reps))


def copy_rows(source: str, target: str) -> None:
    """The users and log rows of ``source`` into ``target``, streamed with
    ``COPY`` (cheaper than generating them again)."""
    from django.db import connections

    tables = ("auth_user", "activity_logs")
    with connections[source].cursor() as reader, connections[target].cursor() as writer:
        writer.execute("TRUNCATE activity_logs")
        writer.execute("DELETE FROM auth_user WHERE username LIKE 'scale-%%'")
        for table in tables:
            where = " WHERE username LIKE 'scale-%'" if table == "auth_user" else ""
            read_sql = f"COPY (SELECT * FROM {table}{where}) TO STDOUT (FORMAT binary)"
            write_sql = f"COPY {table} FROM STDIN (FORMAT binary)"
            with (
                reader.connection.cursor().copy(read_sql) as out,
                writer.connection.cursor().copy(write_sql) as into,
            ):
                for block in out:
                    into.write(block)
        writer.execute(
            "SELECT setval(pg_get_serial_sequence('activity_logs', 'id'), "
            "(SELECT max(id) FROM activity_logs))"
        )
        writer.execute(
            "SELECT setval(pg_get_serial_sequence('auth_user', 'id'), "
            "(SELECT max(id) FROM auth_user))"
        )
        writer.execute("VACUUM (ANALYZE) activity_logs")


def load(alias: str, rows: int, now: dt.datetime) -> tuple[int, float]:
    """Migrate, partition (``part``), load ``rows``; the target's pk and seconds."""
    from django.core.management import call_command
    from django.db import connections

    import autoaudit
    from autoaudit.lifecycle import partitions
    from benchmarks import scale
    from benchmarks.benchapp.models import AAItem, Owner

    call_command("migrate", database=alias, verbosity=0, interactive=False)
    connection = connections[alias]
    with connection.cursor() as cursor:
        for index in scale.trigram_indexes(connection):
            cursor.execute(f'DROP INDEX "{index}"')
    with autoaudit.disabled():
        owner = Owner.objects.using(alias).create(name="owner")
        target = AAItem.objects.using(alias).create(
            name="history target", sku="part-target", price=1, owner=owner
        )
    if alias == "part":
        first = partitions.month_start(now - dt.timedelta(days=731))
        span = len(list(partitions.months(first, now)))
        partitions.partition(alias, ahead=span, now=first)
    # Indexes built once after the load, not row by row during it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, replace(indexdef, ' ON ONLY ', ' ON ') FROM pg_indexes "
            "WHERE tablename = 'activity_logs' AND indexname <> 'activity_logs_pkey'"
        )
        indexes = cursor.fetchall()
        # A unique constraint's index (migration 0006's uniq_actlog_write on
        # the plain table) goes with its constraint, and comes back as one.
        cursor.execute(
            "SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'activity_logs'::regclass AND contype = 'u'"
        )
        constraints = {row[0] for row in cursor.fetchall()}
        for name, _definition in indexes:
            if name in constraints:
                cursor.execute(f'ALTER TABLE activity_logs DROP CONSTRAINT "{name}"')
            else:
                cursor.execute(f'DROP INDEX "{name}"')
    started = time.perf_counter()
    if alias == "plain":
        scale.fill(connection, rows, target.pk)
    else:
        copy_rows("plain", alias)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for name, definition in indexes:
            cursor.execute(definition)
            if name in constraints:
                cursor.execute(
                    f'ALTER TABLE activity_logs ADD CONSTRAINT "{name}" UNIQUE USING INDEX "{name}"'
                )
        cursor.execute("ANALYZE activity_logs")
    return target.pk, time.perf_counter() - started


def measure(
    alias: str, target_pk: int, args: argparse.Namespace, now: dt.datetime
) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.db import connections
    from django.test import Client, override_settings

    import autoaudit
    from autoaudit.lifecycle import partitions
    from autoaudit.lifecycle.retention import prune
    from autoaudit.models import ActivityLog
    from benchmarks.benchapp.models import AAItem, Owner

    out: dict[str, Any] = {}
    target = AAItem(pk=target_pk)
    target._state.db = alias

    def history() -> None:
        rows = list(ActivityLog.objects.using(alias).for_instance(target)[:50])
        assert len(rows) == 50, len(rows)

    out["history_ms"] = median_ms(history, args.rounds, 20)

    with autoaudit.disabled():
        admin = User.objects.filter(username="part-admin").first() or User.objects.create_superuser(
            "part-admin", "admin@example.com", "x"
        )
    client = Client()
    with autoaudit.disabled():
        client.force_login(admin)
    with override_settings(AUTOAUDIT={"READ_DATABASE": alias}):

        def timeline() -> None:
            response = client.get("/activity/")
            assert response.status_code == 200, response.status_code

        out["timeline_ms"] = median_ms(timeline, args.rounds, 5)

    # Inserts: tracked creates, a row and its log each.
    started = time.perf_counter()
    owner = Owner.objects.using(alias).get()
    for i in range(args.inserts):
        AAItem.objects.using(alias).create(
            name=f"insert {i}", sku=f"part-{alias}-{i}", price=i, owner=owner
        )
    out["inserts_per_s"] = args.inserts / (time.perf_counter() - started)

    # Prune one whole month of guests: first cut the partial oldest month
    # (untimed), then the next month, timed.
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT min(created_at) FROM activity_logs")
        oldest = cursor.fetchone()[0]
    first_cut = partitions.add_months(partitions.month_start(oldest), 1)
    month_cut = partitions.add_months(first_cut, 1)
    retention = {"guest": 30, "user": None, "system": None}
    with override_settings(AUTOAUDIT={"DATABASE": alias, "RETENTION_DAYS": retention}):
        prune(now=first_cut + dt.timedelta(days=30))
        started = time.perf_counter()
        result = prune(now=month_cut + dt.timedelta(days=30))
        out["prune_s"] = time.perf_counter() - started
    out["prune_rows"] = result.rows["guest"]
    out["prune_dropped"] = result.dropped.get("guest", [])
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM activity_logs")
        out["rows"] = cursor.fetchone()[0]
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    conf = setup(args)
    names = [f"{args.prefix}_{alias}" for alias in ALIASES]
    create_databases(names, conf)
    import django

    django.setup()
    from django.db import connections
    from django.utils import timezone

    now = timezone.now()
    results: dict[str, Any] = {"rows": args.rows}
    try:
        targets = {}
        for alias in ALIASES:  # both loaded before either is measured (and pruned)
            targets[alias], seconds = load(alias, args.rows, now)
            results[alias] = {"load_s": seconds}
            print(f"{alias}: loaded {args.rows:,} rows in {seconds:.1f} s", flush=True)
        for alias in ALIASES:
            results[alias].update(measure(alias, targets[alias], args, now))
            print(f"{alias}: {json.dumps(results[alias])}", flush=True)
    finally:
        connections.close_all()
        if not args.keep:
            create_databases(names, conf, drop=True)
    plain, part = results["plain"], results["part"]
    print(f"\n{args.rows:,} log rows        plain        partitioned")
    print(f"history of one object   {plain['history_ms']:8.2f} ms  {part['history_ms']:8.2f} ms")
    print(f"first timeline page     {plain['timeline_ms']:8.2f} ms  {part['timeline_ms']:8.2f} ms")
    print(
        f"tracked creates         {plain['inserts_per_s']:8.0f} /s  {part['inserts_per_s']:8.0f} /s"
    )
    print(
        f"prune a month of guests {plain['prune_s']:8.3f} s   {part['prune_s']:8.3f} s"
        f"   ({plain['prune_rows']:,} / {part['prune_rows']:,} rows; "
        f"dropped {', '.join(part['prune_dropped']) or 'nothing'})"
    )
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
