#!/usr/bin/env python
"""What each index of the log table costs per write: raw driver, no ORM.

    python benchmarks/indexes.py --db sqlite     # or postgres, mysql
    python benchmarks/indexes.py --quick         # CI smoke: SQLite, small tables

Builds copies of ``activity_logs`` from Django's own DDL for the model
(``schema_editor.create_model(ActivityLog)``, so columns, types and index
definitions are exactly what the migrations make), each with a different set
of secondary indexes: none, each of the design document's seven alone, each
of autoaudit's further indexes alone, the seven, and all of them. Every copy
is prefilled with the same realistic log rows (``--rows``, default 200,000;
twenty models, creates, updates and deletes, 500 users and a system actor,
rows inserted one by one with the indexes in place, so the B-trees have the
page fill of a table that grew). Then, interleaved and repeated, with the
database driver alone:

* the untracked write: one product row ``INSERT`` in autocommit;
* one log row ``INSERT`` in autocommit, into each copy;
* a tracked create into each copy: ``BEGIN`` (``BEGIN IMMEDIATE`` on SQLite,
  as autoaudit begins it), product ``INSERT``, log ``INSERT``, ``COMMIT``;
* on SQLite: the tracked create with a deferred ``BEGIN`` as well, and the
  same in WAL mode (a second file; Django leaves SQLite's default, the
  rollback journal ``journal_mode=delete``, and ``synchronous=FULL``).

Reports µs per write (median of the rounds), the increment over "no index"
(median over the rounds of the same round's difference) and the spread
((max - min) / median) as a noise figure. Uses its own tables (``ix_*``),
dropped at the end, in the bench database (created if missing).
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import shutil
import statistics
import sys
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.floor import Driver  # noqa: E402
from benchmarks.interleave import interleaved_times, spread  # noqa: E402

TIMES = "\N{MULTIPLICATION SIGN}"
SEVEN = (
    "idx_actlog_created_at",
    "idx_actlog_type_time",
    "idx_actlog_entity",
    "idx_actlog_comp_ent",
    "idx_actlog_action_time",
    "idx_actlog_actor_id",
    "idx_actlog_ent_time",
)
EXTRA = (
    "idx_actlog_comp_pk_time",
    "idx_actlog_user_time",
    # migration 0005 (wave 2): for_request() and related_to()
    "idx_actlog_request",
    "idx_actlog_related_time",
)
VARIANTS: dict[str, tuple[str, ...]] = {
    "no index": (),
    **{name: (name,) for name in (*SEVEN, *EXTRA)},
    "the seven": SEVEN,
    "all of the model's": (*SEVEN, *EXTRA),
}
QUICK_VARIANTS = ("no index", "idx_actlog_created_at", "the seven", "all of the model's")
MODELS = (
    *("order", "orderline", "product", "customer", "invoice", "payment", "shipment"),
    *("address", "cart", "coupon", "review", "category", "supplier", "stock"),
    *("refund", "user", "group", "setting", "page", "ticket"),
)
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
COLUMNS = (
    "user_id, actor_type, actor_identifier, actor_name, actor_metadata, action, entity, "
    "computed_entity, entity_id, entity_pk, entity_name, old_values, new_values, "
    "changed_fields, description, ip_address, user_agent, extra_data, created_at"
)
ITEM_COLUMNS = "name, sku, price, quantity, owner_id"


def django_database(db: str) -> dict[str, Any]:
    """Django's ``DATABASES`` entry for the bench database on ``db``."""
    if db == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    return {
        "ENGINE": f"django.db.backends.{'postgresql' if db == 'postgres' else 'mysql'}",
        "NAME": os.environ.get("AUTOAUDIT_BENCH_DB_NAME", "autoaudit_bench"),
        "HOST": os.environ.get("AUTOAUDIT_BENCH_DB_HOST", "127.0.0.1"),
        "USER": os.environ.get("AUTOAUDIT_BENCH_DB_USER", _default_user(db)),
        "OPTIONS": {"charset": "utf8mb4"} if db == "mysql" else {},
    }


def configure_django(databases: dict[str, dict[str, Any]]) -> None:
    """Just enough of a Django project for autoaudit's model."""
    import django
    from django.conf import settings

    settings.configure(
        DATABASES=databases,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "autoaudit"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
    )
    django.setup()


def log_ddl(db: str) -> tuple[str, dict[str, str]]:
    """Django's ``CREATE TABLE`` and ``CREATE INDEX`` statements for
    ``ActivityLog`` on ``db``, as ``(table, {index name: statement})``."""
    from django.conf import settings

    if not settings.configured:
        configure_django({"default": django_database(db)})
    from django.db import connection

    from autoaudit.models import ActivityLog

    with connection.schema_editor(collect_sql=True) as editor:
        editor.create_model(ActivityLog)
    statements = [str(sql).rstrip(";") for sql in editor.collected_sql]
    indexes = {}
    for sql in statements[1:]:
        name = next(name for name in (*SEVEN, *EXTRA) if name in sql)
        indexes[name] = sql
    return statements[0], indexes


def _copy(create: str, source: str, table: str) -> str:
    """The ``CREATE TABLE`` of a copy: its own name, and its own name for the
    model's unique constraint (``uniq_actlog_write``: constraint names are
    per schema on PostgreSQL)."""
    return create.replace(source, table).replace("uniq_actlog_write", f"{table}_uniq_write")


def _default_user(db: str) -> str:
    return "postgres" if db == "postgres" else "root"


def ensure_database(db: str) -> None:
    """Create the bench database on PostgreSQL or MariaDB if it is missing."""
    name = os.environ.get("AUTOAUDIT_BENCH_DB_NAME", "autoaudit_bench")
    host = os.environ.get("AUTOAUDIT_BENCH_DB_HOST", "127.0.0.1")
    user = os.environ.get("AUTOAUDIT_BENCH_DB_USER", _default_user(db))
    if db == "postgres":
        import psycopg

        with psycopg.connect(host=host, user=user, dbname="postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    elif db == "mysql":
        import MySQLdb

        conn = MySQLdb.connect(host=host, user=user, autocommit=True)
        conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
        conn.close()


def quoted(db: str, name: str) -> str:
    return f"`{name}`" if db == "mysql" else f'"{name}"'


def tables_for(db: str, variants: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {label: f"ix_log_{number}" for number, label in enumerate(variants)}


class Rows:
    """Realistic log rows: prefill history, then creates of products."""

    def __init__(self, seed: int = 14) -> None:
        self.random = random.Random(seed)
        self.ids = dict.fromkeys(MODELS, 0)
        self.clock = count(0)

    def when(self) -> str:
        seconds = next(self.clock) * 7  # one log every 7 s
        day, rest = divmod(seconds, 86_400)
        month, day = divmod(day, 28)
        year, month = divmod(month, 12)
        hour, rest = divmod(rest, 3600)
        return (
            f"{2020 + year}-{month + 1:02d}-{day + 1:02d} "
            f"{hour:02d}:{rest // 60:02d}:{rest % 60:02d}.{self.random.randrange(10**6):06d}"
        )

    def actor(self) -> tuple[Any, ...]:
        if self.random.random() < 0.15:
            return (None, "system", None, None, None)
        user = self.random.randint(1, 500)
        return (user, "user", f"user{user}@example.com", f"User {user}", None)

    def log(self, model: str, action: str, entity_id: int) -> tuple[Any, ...]:
        values = (
            f'{{"name": "{model.title()} {entity_id}", "sku": "{model[:3]}-{entity_id}", '
            f'"price": "{self.random.randrange(100, 99_999) / 100:.2f}", '
            f'"quantity": {self.random.randrange(50)}, "active": true, "owner": '
            f"{self.random.randrange(1, 500)}}}"
        )
        user_id, actor_type, identifier, name, metadata = self.actor()
        human = actor_type == "user"
        return (
            user_id,
            actor_type,
            identifier,
            name,
            metadata,
            action,
            model,
            f"shop.{model.title()}",
            entity_id,
            str(entity_id),
            f"{model.title()} {entity_id}",
            values if action == "update" else None,
            values if action != "delete" else None,
            '["price", "quantity"]' if action == "update" else None,
            f"{action.title()}d {model} {model.title()} {entity_id}",
            f"10.0.{self.random.randrange(256)}.{self.random.randrange(256)}" if human else None,
            USER_AGENT if human else None,
            None,
            self.when(),
        )

    def history(self, rows: int) -> Iterator[tuple[Any, ...]]:
        for _ in range(rows):
            model = self.random.choice(MODELS)
            draw = self.random.random()
            if draw < 0.4 or self.ids[model] == 0:
                self.ids[model] += 1
                yield self.log(model, "create", self.ids[model])
            else:
                action = "update" if draw < 0.9 else "delete"
                yield self.log(model, action, self.random.randint(1, self.ids[model]))


def setup(
    driver: Driver, create: str, indexes: dict[str, str], tables: dict[str, str], rows: Rows, n: int
) -> int:
    """Create and prefill the item table and every log table; return the
    first product id the benchmark will insert."""
    db = driver.db
    source = quoted(db, "activity_logs")
    for table in ("ix_item", "ix_base", *tables.values()):
        driver.run(f"DROP TABLE IF EXISTS {table}")
    driver.run(
        f"CREATE TABLE ix_item (id {driver.serial}, name VARCHAR(100), sku VARCHAR(50) UNIQUE, "
        "price DECIMAL(10, 2), quantity INTEGER, owner_id BIGINT)"
    )
    driver.run("CREATE INDEX ix_item_owner ON ix_item (owner_id)")
    driver.run(_copy(create, source, "ix_base"))
    marks = ", ".join(["?"] * 19)
    batch: list[tuple[Any, ...]] = []
    driver.run(driver.begin)
    for row in rows.history(n):
        batch.append(row)
        if len(batch) == 500:
            _insert_many(driver, marks, batch)
            batch = []
    if batch:
        _insert_many(driver, marks, batch)
    driver.run("COMMIT")
    for label, table in tables.items():
        driver.run(_copy(create, source, table))
        for name in VARIANTS[label]:
            sql = indexes[name].replace(source, table)
            driver.run(sql.replace(name, f"{table}_{name.removeprefix('idx_actlog_')}", 1))
        driver.run(driver.begin)
        driver.run(f"INSERT INTO {table} ({COLUMNS}) SELECT {COLUMNS} FROM ix_base ORDER BY id")
        driver.run("COMMIT")
    driver.run("DROP TABLE ix_base")
    products = rows.ids["product"]
    driver.run(
        f"INSERT INTO ix_item (id, {ITEM_COLUMNS}) VALUES (?, 'p', 'p-0', 1, 1, 1)", (products,)
    )
    if db == "postgres":
        driver.run("SELECT setval(pg_get_serial_sequence('ix_item', 'id'), %s)", (products,))
    if db in ("postgres", "mysql"):
        for table in ("ix_item", *tables.values()):
            analyzed = driver.run(f"ANALYZE {'TABLE ' if db == 'mysql' else ''}{table}")
            if db == "mysql":
                analyzed.fetchall()
    return products + 1


def _insert_many(driver: Driver, marks: str, batch: list[tuple[Any, ...]]) -> None:
    values = ", ".join([f"({marks})"] * len(batch))
    params = tuple(value for row in batch for value in row)
    driver.run(f"INSERT INTO ix_base ({COLUMNS}) VALUES {values}", params)


def steps(
    driver: Driver, tables: dict[str, str], rows: Rows, first: int, tag: str = ""
) -> dict[str, Callable[[], None]]:
    """The timed steps on one connection (``tag`` names its journal mode)."""
    log_ids = count(first)
    skus = count(1)
    marks = ", ".join(["?"] * 19)
    item_sql = f"INSERT INTO ix_item ({ITEM_COLUMNS}) VALUES (?, ?, 12.5, 3, 1)"

    def item() -> int:
        sku = (f"sku-{tag}-{next(skus)}",)
        if driver.db == "postgres":
            return int(driver.run(item_sql + " RETURNING id", ("Product", *sku)).fetchone()[0])
        return int(driver.run(item_sql, ("Product", *sku)).lastrowid)

    def log_alone(table: str) -> Callable[[], None]:
        sql = f"INSERT INTO {table} ({COLUMNS}) VALUES ({marks})"
        return lambda: driver.run(sql, rows.log("product", "create", next(log_ids))) and None

    def tracked(table: str, begin: str) -> Callable[[], None]:
        sql = f"INSERT INTO {table} ({COLUMNS}) VALUES ({marks})"

        def step() -> None:
            driver.run(begin)
            pk = item()
            driver.run(sql, rows.log("product", "create", pk))
            driver.run("COMMIT")

        return step

    suffix = f" [{tag}]" if tag else ""
    out: dict[str, Callable[[], None]] = {f"untracked: product INSERT{suffix}": item}
    for label, table in tables.items():
        out[f"log INSERT, {label}{suffix}"] = log_alone(table)
        out[f"tracked create, {label}{suffix}"] = tracked(table, driver.begin)
    if driver.db == "sqlite":
        last = list(tables)[-1]
        out[f"tracked create, {last}, deferred BEGIN{suffix}"] = tracked(tables[last], "BEGIN")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "mysql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=100, help="writes per step per round")
    parser.add_argument("--rows", type=int, default=200_000, help="log rows per table")
    parser.add_argument("--no-wal", action="store_true", help="SQLite: skip the WAL file")
    parser.add_argument("--quick", action="store_true", help="CI smoke: 4 tables, tiny N")
    args = parser.parse_args()
    variants = VARIANTS
    if args.quick:
        args.rounds, args.n, args.rows = 1, 5, 2_000
        variants = {label: VARIANTS[label] for label in QUICK_VARIANTS}
    ensure_database(args.db)
    create, indexes = log_ddl(args.db)
    tables = tables_for(args.db, variants)
    driver = Driver(args.db, sqlite_file="indexes")
    rows = Rows()
    first = setup(driver, create, indexes, tables, rows, args.rows)
    all_steps = steps(driver, tables, rows, first, "delete" if args.db == "sqlite" else "")
    wal: Driver | None = None
    unsynced: Driver | None = None
    data = ROOT / "benchmarks" / ".data"
    if args.db == "sqlite" and not args.no_wal:
        import sqlite3

        driver.conn.close()
        shutil.copyfile(data / "indexes.sqlite3", data / "indexes-wal.sqlite3")
        driver.conn = sqlite3.connect(data / "indexes.sqlite3", isolation_level=None)
        wal = copy.copy(driver)
        wal.conn = sqlite3.connect(data / "indexes-wal.sqlite3", isolation_level=None)
        wal.run("PRAGMA journal_mode=WAL").fetchall()
        unsynced = copy.copy(driver)
        unsynced.conn = sqlite3.connect(data / "indexes.sqlite3", isolation_level=None)
        unsynced.run("PRAGMA synchronous=OFF")
        all_steps = steps(driver, tables, rows, first, "delete")
        all_steps |= steps(unsynced, tables, rows, first, "delete, synchronous=OFF")
        all_steps |= steps(wal, tables, rows, first, "WAL")
    version = _version(driver)
    try:
        times = interleaved_times(all_steps, args.rounds, args.n)
    finally:
        for table in ("ix_item", *tables.values()):
            driver.run(f"DROP TABLE IF EXISTS {table}")
        if args.db == "sqlite":
            for connection in (driver, wal, unsynced):
                if connection is not None:
                    connection.conn.close()
            for name in ("indexes", "indexes-wal"):
                for end in ("", "-wal", "-shm"):
                    (data / f"{name}.sqlite3{end}").unlink(missing_ok=True)
    report(args, times, version)
    return 0


def report(args: argparse.Namespace, times: dict[str, list[float]], version: str) -> None:
    median = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"\n{args.db} {version}: raw driver, {args.rows:,} log rows in each table, "
        f"{args.rounds} rounds of {args.n}\n"
    )
    print("| write | µs | + over no index | ratio to untracked | spread |")
    print("|---|---:|---:|---:|---:|")
    for tag in ("delete", "delete, synchronous=OFF", "WAL") if args.db == "sqlite" else ("",):
        suffix = f" [{tag}]" if tag else ""
        base = f"untracked: product INSERT{suffix}"
        if base not in times:
            continue
        for name, values in times.items():
            if not name.endswith(suffix) or (tag and not suffix):
                continue
            kind = name.split(",")[0]
            zero = f"{kind}, no index{suffix}"
            plus = ""
            if name != zero and zero in times and kind != name:
                diffs = [a - b for a, b in zip(values, times[zero], strict=True)]
                plus = f"{statistics.median(diffs):+,.0f}"
            print(
                f"| {name} | {median[name]:,.0f} | {plus} | "
                f"{TIMES}{median[name] / median[base]:.2f} | {spread(values):.0%} |"
            )
    worst = max(spread(values) for values in times.values())
    print(f"\nlargest spread of any step: {worst:.0%}")


def _version(driver: Driver) -> str:
    if driver.db == "sqlite":
        return str(driver.run("SELECT sqlite_version()").fetchone()[0])
    return str(driver.run("SELECT version()").fetchone()[0]).split(" on ")[0]


if __name__ == "__main__":
    sys.exit(main())
