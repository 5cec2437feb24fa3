#!/usr/bin/env python
"""What sealing and verifying cost: seconds per 1,000,000 log rows.

    python benchmarks/sealing.py --db postgres            # 1,000,000 rows (or sqlite, mysql)
    python benchmarks/sealing.py --db postgres --rows 200000
    python benchmarks/sealing.py --quick                  # CI smoke: SQLite, 2,000 rows

Fills ``activity_logs`` of a database of its own (``autoaudit_bench_seal``, or
``AUTOAUDIT_BENCH_DB_NAME``; dropped and made again) with realistic rows (JSON
values, IPs, user agents, tags; two hours old), then times, once each:
``autoaudit_seal`` over every row (seals of 10,000 rows), ``autoaudit_verify``
over them, and a prune-sized maintenance batch's record (the MACs of 5,000
sealed rows read before and after, and their events written). Prints rows per
second and the time per 1,000,000 rows. Needs only autoaudit and a driver.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Rows made one by one before the table is doubled up to the size asked for.
SEED_ROWS = 5_000


def _database(db: str, name: str) -> dict[str, Any]:
    host = os.environ.get("AUTOAUDIT_BENCH_DB_HOST", "127.0.0.1")
    if db == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": f"/tmp/{name}.sqlite3"}
    if db == "postgres":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "HOST": host,
            "USER": os.environ.get("AUTOAUDIT_BENCH_DB_USER", "postgres"),
        }
    return {
        "ENGINE": "django.db.backends.mysql",
        "NAME": name,
        "HOST": host,
        "USER": os.environ.get("AUTOAUDIT_BENCH_DB_USER", "root"),
        "OPTIONS": {"charset": "utf8mb4"},
    }


def _setup(db: str, name: str) -> None:
    import django
    from django.conf import settings

    database = _database(db, name)
    databases = {"default": database}
    if db != "sqlite":
        # The server's own database, to drop and create the bench database from.
        databases["admin"] = dict(database, NAME="postgres" if db == "postgres" else "")
    settings.configure(
        SECRET_KEY="autoaudit-benchmarks-not-secret",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "autoaudit"],
        DATABASES=databases,
        AUTOAUDIT={"SEAL_KEY": "benchmark seal key"},
    )
    django.setup()
    if db == "sqlite":
        Path(database["NAME"]).unlink(missing_ok=True)
    else:
        from django.db import connections

        admin = connections["admin"]
        with admin.cursor() as cursor:
            quoted = admin.ops.quote_name(name)
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted}")
            cursor.execute(f"CREATE DATABASE {quoted}")
        admin.close()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _fill(rows: int) -> int:
    from django.db import connection
    from django.utils import timezone

    from autoaudit.models import ActivityLog

    old = timezone.now() - dt.timedelta(hours=2)
    seed = [
        ActivityLog(
            actor_type=("user", "guest", "system")[n % 3],
            actor_identifier=f"person{n % 500}@example.com",
            actor_name=f"Person {n % 500}",
            actor_metadata={"session_id": f"sess_{n:024x}", "browser": "Firefox 121"},
            action=("create", "update", "delete")[n % 3],
            entity="product",
            computed_entity="shop.Product",
            entity_id=n,
            entity_pk=str(n),
            entity_name=f"Product {n}",
            old_values={"price": 15_000_000 + n, "stock": 10, "specs": {"ram": 8}},
            new_values={"price": 14_500_000.5, "stock": 8, "specs": {"ram": 16}},
            changed_fields=["price", "stock", "specs"],
            description=f'Updated product "Product {n}"',
            ip_address="203.0.113.7",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/121.0",
            extra_data={"source": "admin"},
            tags=["catalogue"],
            request_id=f"{n:032x}",
        )
        for n in range(min(rows, SEED_ROWS))
    ]
    ActivityLog.objects.bulk_create(seed, batch_size=1000)
    ActivityLog.objects.update(created_at=old)
    names = [f.column for f in ActivityLog._meta.concrete_fields if f.column != "id"]
    cols = ", ".join(connection.ops.quote_name(n) for n in names)
    table = connection.ops.quote_name(ActivityLog._meta.db_table)
    total = len(seed)
    while total < rows:
        take = min(total, rows - total)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {table} ORDER BY id LIMIT {take}"
            )
        total += take
    return ActivityLog.objects.count()


def _timed(label: str, rows: int, work: Any) -> float:
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    per_million = seconds * 1_000_000 / rows
    print(
        f"{label:<28} {seconds:8.2f} s  {rows / seconds:10.0f} rows/s  "
        f"{per_million:7.1f} s per 1,000,000 rows"
    )
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "mysql"), default="sqlite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="CI smoke: SQLite, 2,000 rows.")
    args = parser.parse_args(argv)
    if args.quick:
        args.db, args.rows = "sqlite", 2_000
    name = os.environ.get("AUTOAUDIT_BENCH_DB_NAME", "autoaudit_bench_seal")
    _setup(args.db, name)

    from autoaudit.lifecycle.maintenance import maintenance
    from autoaudit.lifecycle.sealing import seal, verify
    from autoaudit.models import ActivityLog, SealEvent

    rows = _fill(args.rows)
    print(f"{args.db}: {rows} rows in activity_logs")
    _timed("autoaudit_seal", rows, lambda: seal(delay=0))
    report: list[Any] = []
    _timed("autoaudit_verify", rows, lambda: report.append(verify()))
    assert not report[0].tampered and report[0].rows == rows, report[0]
    ids = list(ActivityLog.objects.order_by("id").values_list("id", flat=True)[:5000])

    def record() -> None:
        with maintenance("default") as ledger:
            before = ledger.snapshot(ids)
            ActivityLog.objects.filter(id__in=ids).update(actor_name="x")
            ledger.record(SealEvent.Kind.ANONYMISED, before)

    _timed("record of a 5,000-row batch", len(ids), record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
