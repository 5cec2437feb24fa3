#!/usr/bin/env python
"""The floor under any tracker that logs in the same transaction: raw driver, no ORM.

    python benchmarks/floor.py --db postgres     # or sqlite, mysql

Times, with the database driver alone (no Django, no Python work per log),
one row INSERT in autocommit against the same INSERT plus a log row INSERT in
one transaction, where the log table carries no index, the design document's
seven indexes, or autoaudit's nine. On PostgreSQL it also times both INSERTs
as one statement (a data-modifying CTE, the shape a database trigger gets for
free). Interleaved, median of the rounds. Uses its own tables
(``floor_item``, ``floor_log_*``), dropped at the end, in the bench database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TIMES = "\N{MULTIPLICATION SIGN}"

LOG_COLUMNS = (
    "user_id BIGINT NULL, actor_type VARCHAR(6), actor_identifier VARCHAR(255) NULL, "
    "actor_name VARCHAR(255) NULL, action VARCHAR(12), entity VARCHAR(50), "
    "computed_entity VARCHAR(100), entity_id BIGINT NULL, entity_pk VARCHAR(255) NULL, "
    "entity_name VARCHAR(255) NULL, new_values TEXT NULL, description TEXT NULL, "
    "created_at TIMESTAMP NULL"
)
SEED_INDEXES = (
    "created_at DESC",
    "actor_type, created_at DESC",
    "entity, entity_id",
    "computed_entity, entity_id",
    "action, created_at DESC",
    "actor_identifier",
    "entity, created_at DESC",
)
AUTOAUDIT_INDEXES = (
    *SEED_INDEXES,
    "computed_entity, entity_pk, created_at DESC, id DESC",
    "user_id, created_at DESC",
)
VARIANTS = {
    "no index": (),
    "7 seed indexes": SEED_INDEXES,
    "9 indexes, as autoaudit": AUTOAUDIT_INDEXES,
}
PREFILL = 20_000


class Driver:
    """Just enough of a DB-API connection per database."""

    def __init__(self, db: str, sqlite_file: str = "floor") -> None:
        self.db = db
        host = os.environ.get("AUTOAUDIT_BENCH_DB_HOST", "127.0.0.1")
        name = os.environ.get("AUTOAUDIT_BENCH_DB_NAME", "autoaudit_bench")
        if db == "sqlite":
            import sqlite3

            path = ROOT / "benchmarks" / ".data" / f"{sqlite_file}.sqlite3"
            path.parent.mkdir(exist_ok=True)
            path.unlink(missing_ok=True)
            self.conn: Any = sqlite3.connect(path, isolation_level=None)
            self.param, self.serial, self.begin = "?", "INTEGER PRIMARY KEY", "BEGIN IMMEDIATE"
        elif db == "postgres":
            import psycopg

            user = os.environ.get("AUTOAUDIT_BENCH_DB_USER", "postgres")
            self.conn = psycopg.connect(host=host, user=user, dbname=name, autocommit=True)
            self.param, self.serial, self.begin = "%s", "BIGSERIAL PRIMARY KEY", "BEGIN"
        else:
            import MySQLdb

            user = os.environ.get("AUTOAUDIT_BENCH_DB_USER", "root")
            self.conn = MySQLdb.connect(host=host, user=user, database=name, autocommit=True)
            self.param, self.serial, self.begin = "%s", "BIGINT AUTO_INCREMENT PRIMARY KEY", "BEGIN"

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        cursor = self.conn.cursor()
        cursor.execute(sql.replace("?", self.param), params)
        return cursor

    def index(self, table: str, number: int, columns: str) -> None:
        if self.db == "mysql":  # MariaDB/MySQL: no DESC needed to serve either order
            columns = columns.replace(" DESC", "")
        self.run(f"CREATE INDEX {table}_{number} ON {table} ({columns})")


def setup(driver: Driver) -> list[str]:
    tables = ["floor_item", *(f"floor_log_{i}" for i in range(len(VARIANTS)))]
    for table in tables:
        driver.run(f"DROP TABLE IF EXISTS {table}")
    driver.run(
        f"CREATE TABLE floor_item (id {driver.serial}, name VARCHAR(100), sku VARCHAR(50) UNIQUE, "
        "price DECIMAL(10, 2), quantity INTEGER, owner_id BIGINT)"
    )
    driver.index("floor_item", 0, "owner_id")
    for number, indexes in enumerate(VARIANTS.values()):
        table = f"floor_log_{number}"
        driver.run(f"CREATE TABLE {table} (id {driver.serial}, {LOG_COLUMNS})")
        for position, columns in enumerate(indexes):
            driver.index(table, position, columns)
        driver.run(driver.begin)
        for k in range(PREFILL):
            driver.run(
                f"INSERT INTO {table} (actor_type, action, entity, computed_entity, entity_id, "
                "entity_pk, entity_name, new_values, description, created_at) "
                "VALUES ('system', 'create', 'item', 'app.Item', ?, ?, ?, ?, ?, ?)",
                (k, str(k), f"Item {k}", json.dumps({"q": k}), f"Created item {k}", _when(k)),
            )
        driver.run("COMMIT")
    return tables


def _when(k: int) -> str:
    return f"2026-{1 + k % 12:02d}-{1 + k % 28:02d} {k % 24:02d}:00:00"


_serial = count(1)

LOG_INSERT = (
    "INSERT INTO {table} (actor_type, action, entity, computed_entity, entity_id, entity_pk, "
    "entity_name, new_values, description, created_at) "
    "VALUES ('system', 'create', 'item', 'app.Item', ?, ?, ?, ?, ?, ?)"
)
ITEM_INSERT = (
    "INSERT INTO floor_item (name, sku, price, quantity, owner_id) VALUES (?, ?, 12.5, 3, 1)"
)
NEW_VALUES = json.dumps({"name": "Floor", "sku": "f", "price": "12.50", "quantity": 3, "owner": 1})


def steps(driver: Driver) -> dict[str, Callable[[], None]]:
    def item() -> int:
        sku = f"floor-{next(_serial)}"
        if driver.db == "postgres":
            return int(driver.run(ITEM_INSERT + " RETURNING id", ("Floor", sku)).fetchone()[0])
        return int(driver.run(ITEM_INSERT, ("Floor", sku)).lastrowid)

    def logged(number: int) -> Callable[[], None]:
        sql = LOG_INSERT.format(table=f"floor_log_{number}")

        def step() -> None:
            driver.run(driver.begin)
            pk = item()
            driver.run(sql, (pk, str(pk), "Floor", NEW_VALUES, "Created item Floor", _when(pk)))
            driver.run("COMMIT")

        return step

    def alone() -> None:
        item()

    out: dict[str, Callable[[], None]] = {"row INSERT alone (autocommit)": alone}
    for number, label in enumerate(VARIANTS):
        out[f"BEGIN, row INSERT, log INSERT ({label}), COMMIT"] = logged(number)
    if driver.db == "postgres":
        cte = (
            "WITH n AS (" + ITEM_INSERT.replace("?", "%s") + " RETURNING id) "
            "INSERT INTO floor_log_2 (actor_type, action, entity, computed_entity, entity_id, "
            "entity_pk, entity_name, new_values, description, created_at) "
            "SELECT 'system', 'create', 'item', 'app.Item', id, id::text, 'Floor', %s, "
            "'Created item Floor', now() FROM n"
        )

        def one_statement() -> None:
            driver.conn.execute(cte, ("Floor", f"floor-{next(_serial)}", NEW_VALUES))

        out["both INSERTs as one statement (CTE; 9 indexes)"] = one_statement
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "mysql"), default="postgres")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=200, help="ops per step per round")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks.interleave import interleaved_medians

    driver = Driver(args.db)
    tables = setup(driver)
    try:
        medians = interleaved_medians(steps(driver), args.rounds, args.n)
    finally:
        for table in tables:
            driver.run(f"DROP TABLE IF EXISTS {table}")
    base = next(iter(medians.values()))
    print(f"\n{args.db}: raw driver, {PREFILL:,} rows in each log table\n")
    print("| statements | µs per op | ratio |\n|---|---:|---:|")
    for name, value in medians.items():
        print(f"| {name} | {value:,.0f} | {TIMES}{value / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
