#!/usr/bin/env python
"""MariaDB/MySQL: the round trips of "row INSERT + log INSERT, committed together".

    python benchmarks/roundtrips.py              # --quick for a smoke run

Times, with mysqlclient connected as Django connects it (``CLIENT.FOUND_ROWS``;
mysqlclient itself adds ``MULTI_STATEMENTS`` and ``MULTI_RESULTS`` unless told
``multi_statements=False``), the ways to commit a product row and its log row
together, against the product ``INSERT`` alone in autocommit:

* (a) what ``atomic()`` sends: ``SET autocommit=0``, both INSERTs, ``COMMIT``,
  ``SET autocommit=1`` (5 round trips);
* (b) ``START TRANSACTION``, both INSERTs, ``COMMIT``, autocommit left on (4);
* (b+) ``START TRANSACTION`` sent with the row INSERT, ``COMMIT`` with the log
  INSERT, as multi-statement strings (2: the new key is known in between);
* (c) all four in one multi-statement string, the log taking the key from
  ``LAST_INSERT_ID()`` (1);
* (d) a stored procedure doing the same (1), and an ``AFTER INSERT`` trigger
  writing the log row from ``NEW`` (1; a trigger cannot see Python's values);
* two INSERTs each in autocommit (2, not atomic: the reference for two
  statements).

Then the same through Django's connection and cursor: ``atomic()`` as
autoaudit uses it today, and two prototypes of a MySQL connection that begins
its transactions with ``START TRANSACTION`` (eagerly, or merged into the first
statement) while keeping Django's bookkeeping (``in_atomic_block``,
``on_commit``, savepoints). A semantics check runs on every Django variant and
on a naive one (``START TRANSACTION`` sent behind Django's back) and prints what
holds. Uses its own tables (``rt_*``), dropped at the end, in the bench
database (created if missing). Nothing here is used by autoaudit itself.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.indexes import (  # noqa: E402
    COLUMNS,
    ITEM_COLUMNS,
    Rows,
    configure_django,
    django_database,
    ensure_database,
    log_ddl,
)
from benchmarks.interleave import interleaved_times, spread  # noqa: E402

TIMES = "\N{MULTIPLICATION SIGN}"
MARKS = ", ".join(["%s"] * 19)
ITEM = f"INSERT INTO rt_item ({ITEM_COLUMNS}) VALUES (%s, %s, 12.5, 3, 1)"
LOG = f"INSERT INTO rt_log ({COLUMNS}) VALUES ({MARKS})"
# The log row with the new key taken from the item INSERT, for one round trip.
LOG_LAST_ID = LOG.replace(
    "VALUES (" + MARKS + ")",
    "VALUES ("
    + ", ".join(["%s"] * 8)
    + ", LAST_INSERT_ID(), CAST(LAST_INSERT_ID() AS CHAR), "
    + ", ".join(["%s"] * 9)
    + ")",
)
PROCEDURE = f"""
CREATE PROCEDURE rt_create(p_name VARCHAR(100), p_sku VARCHAR(50), {
    ", ".join(
        f"p{i} {kind}"
        for i, kind in enumerate(
            (
                "BIGINT",
                "VARCHAR(6)",
                "VARCHAR(255)",
                "VARCHAR(255)",
                "LONGTEXT",
                "VARCHAR(12)",
                "VARCHAR(50)",
                "VARCHAR(100)",
                "VARCHAR(255)",
                "LONGTEXT",
                "LONGTEXT",
                "LONGTEXT",
                "LONGTEXT",
                "CHAR(39)",
                "LONGTEXT",
                "LONGTEXT",
                "DATETIME(6)",
            )
        )
    )
})
BEGIN
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  START TRANSACTION;
  INSERT INTO rt_item ({ITEM_COLUMNS}) VALUES (p_name, p_sku, 12.5, 3, 1);
  INSERT INTO rt_log ({COLUMNS}) VALUES (p0, p1, p2, p3, p4, p5, p6, p7, LAST_INSERT_ID(),
    CAST(LAST_INSERT_ID() AS CHAR), p8, p9, p10, p11, p12, p13, p14, p15, p16);
  COMMIT;
END"""
TRIGGER = f"""
CREATE TRIGGER rt_item_trigger_log AFTER INSERT ON rt_item_trigger FOR EACH ROW
  INSERT INTO rt_log ({COLUMNS}) VALUES (NULL, 'system', NULL, NULL, NULL, 'create',
    'product', 'shop.Product', NEW.id, NEW.id, NEW.name,
    NULL, JSON_OBJECT('name', NEW.name, 'sku', NEW.sku, 'price', NEW.price,
    'quantity', NEW.quantity, 'owner', NEW.owner_id), NULL, CONCAT('Created ', NEW.name),
    NULL, NULL, NULL, NOW(6))"""


def connect_raw() -> Any:
    """mysqlclient, connected with the flags Django's backend passes."""
    from django.db import connections

    connection = connections["default"]
    params = connection.get_connection_params()
    raw = connection.get_new_connection(params)
    raw.autocommit(True)
    raw.cursor().execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    return raw


def setup(raw: Any, create: str, indexes: dict[str, str], rows: Rows, prefill: int) -> None:
    cursor = raw.cursor()
    for table in ("rt_item", "rt_item_trigger", "rt_log"):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute("DROP PROCEDURE IF EXISTS rt_create")
    for table in ("rt_item", "rt_item_trigger"):
        cursor.execute(
            f"CREATE TABLE {table} (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100), "
            "sku VARCHAR(50) UNIQUE, price DECIMAL(10, 2), quantity INTEGER, owner_id BIGINT, "
            f"INDEX {table}_owner (owner_id))"
        )
    cursor.execute(create.replace("`activity_logs`", "rt_log"))
    for name, sql in indexes.items():
        cursor.execute(sql.replace("`activity_logs`", "rt_log").replace(name, f"rt_{name}", 1))
    history = list(rows.history(prefill))
    for start in range(0, len(history), 500):
        cursor.executemany(LOG, history[start : start + 500])
    cursor.execute(PROCEDURE)
    cursor.execute(TRIGGER)
    cursor.execute("ANALYZE TABLE rt_log")
    cursor.fetchall()


def raw_steps(raw: Any, rows: Rows) -> dict[str, Callable[[], None]]:
    skus = count(1)
    cursor = raw.cursor()

    def sku() -> tuple[str, str]:
        return ("Product", f"raw-{next(skus)}")

    def log(pk: int) -> tuple[Any, ...]:
        return rows.log("product", "create", pk)

    def without_key(pk: int) -> tuple[Any, ...]:
        values = log(pk)
        return values[:8] + values[10:]

    def alone() -> None:
        cursor.execute(ITEM, sku())

    def autocommit_twice() -> None:
        cursor.execute(ITEM, sku())
        cursor.execute(LOG, log(cursor.lastrowid))

    def django_atomic() -> None:
        raw.autocommit(False)
        cursor.execute(ITEM, sku())
        cursor.execute(LOG, log(cursor.lastrowid))
        raw.commit()
        raw.autocommit(True)

    def start_transaction() -> None:
        cursor.execute("START TRANSACTION")
        cursor.execute(ITEM, sku())
        cursor.execute(LOG, log(cursor.lastrowid))
        cursor.execute("COMMIT")

    def two_strings() -> None:
        cursor.execute("START TRANSACTION; " + ITEM, sku())
        cursor.nextset()  # the INSERT's result: its lastrowid
        cursor.execute(LOG + "; COMMIT", log(cursor.lastrowid))
        cursor.nextset()

    def one_string() -> None:
        cursor.execute(
            "START TRANSACTION; " + ITEM + "; " + LOG_LAST_ID + "; COMMIT",
            (*sku(), *without_key(0)),
        )
        while cursor.nextset():
            pass

    def procedure() -> None:
        cursor.execute(
            f"CALL rt_create(%s, %s, {', '.join(['%s'] * 17)})", (*sku(), *without_key(0))
        )
        while cursor.nextset():
            pass

    def trigger() -> None:
        cursor.execute(ITEM.replace("rt_item", "rt_item_trigger"), sku())

    return {
        "untracked: row INSERT (autocommit)": alone,
        "two INSERTs, each autocommit (not atomic)": autocommit_twice,
        "(a) atomic()'s statements: SET autocommit=0 ... COMMIT, SET autocommit=1": django_atomic,
        "(b) START TRANSACTION, INSERT, INSERT, COMMIT": start_transaction,
        "(b+) 'START TRANSACTION; INSERT', 'INSERT; COMMIT'": two_strings,
        "(c) one string: START TRANSACTION; INSERT; INSERT (LAST_INSERT_ID()); COMMIT": one_string,
        "(d) CALL a stored procedure (both INSERTs, COMMIT)": procedure,
        "(d) AFTER INSERT trigger writes the log": trigger,
    }


def lazy_begin_wrapper(base: type[Any], merge: bool) -> type[Any]:
    """A prototype MySQL ``DatabaseWrapper`` whose server connection stays in
    autocommit mode. ``set_autocommit(False)`` sends nothing and marks a
    transaction to begin; the next statement begins it with ``START
    TRANSACTION`` (``merge``: in the same string, one round trip fewer);
    ``COMMIT`` and ``ROLLBACK`` end it, and ``set_autocommit(True)`` then sends
    nothing (with a transaction still open it commits it, as ``SET
    autocommit=1`` would). Django's own bookkeeping (``autocommit``,
    ``in_atomic_block``, ``on_commit``, savepoints) is untouched: only what
    goes over the wire changes."""

    class LazyBeginCursor:
        def __init__(self, cursor: Any, owner: Any) -> None:
            self.cursor, self.owner = cursor, owner

        def _begin(self, query: str) -> str:
            if not self.owner.begin_pending:
                return query
            self.owner.begin_pending, self.owner.open = False, True
            if merge:
                return "START TRANSACTION; " + query
            self.cursor.execute("START TRANSACTION")
            return query

        def execute(self, query: str, args: Any = None) -> Any:
            sql = self._begin(query)
            result = self.cursor.execute(sql, args)
            if sql is not query and merge:
                self.cursor.nextset()  # the statement's own result
            return result

        def executemany(self, query: str, args: Any) -> Any:
            if self.owner.begin_pending:
                self.owner.begin_pending, self.owner.open = False, True
                self.cursor.execute("START TRANSACTION")
            return self.cursor.executemany(query, args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.cursor, name)

        def __iter__(self) -> Iterator[Any]:
            return iter(self.cursor)

    class Wrapper(base):  # type: ignore[valid-type,misc]
        begin_pending = False
        open = False

        def get_new_connection(self, conn_params: Any) -> Any:
            connection = super().get_new_connection(conn_params)
            connection.autocommit(True)  # once per connection, then never again
            return connection

        def _set_autocommit(self, autocommit: bool) -> None:
            if autocommit and self.open:
                super()._commit()
            self.begin_pending, self.open = not autocommit, False

        def _commit(self) -> None:
            if self.open:  # else nothing ran: nothing to commit
                super()._commit()
            self.begin_pending, self.open = not self.get_autocommit(), False

        def _rollback(self) -> None:
            if self.open:
                super()._rollback()
            self.begin_pending, self.open = not self.get_autocommit(), False

        def create_cursor(self, name: Any = None) -> Any:
            return LazyBeginCursor(super().create_cursor(name), self)

    Wrapper.__name__ = "MergedBeginWrapper" if merge else "LazyBeginWrapper"
    return Wrapper


def install_prototypes() -> None:
    from django.db import connections

    for alias, merge in (("begin_lazy", False), ("begin_merged", True)):
        connection = connections[alias]
        connection.__class__ = lazy_begin_wrapper(type(connection), merge)


def django_steps(rows: Rows) -> dict[str, Callable[[], None]]:
    from django.db import connections, transaction

    skus = count(1)

    def step(alias: str, atomic: bool) -> Callable[[], None]:
        connection = connections[alias]

        def run() -> None:
            with connection.cursor() as cursor:
                if not atomic:
                    cursor.execute(ITEM, ("Product", f"{alias}-{next(skus)}"))
                    return
                with transaction.atomic(using=alias, savepoint=False):
                    cursor.execute(ITEM, ("Product", f"{alias}-{next(skus)}"))
                    cursor.execute(LOG, rows.log("product", "create", cursor.lastrowid))

        return run

    return {
        "Django: untracked row INSERT (cursor, autocommit)": step("default", False),
        "Django: atomic(savepoint=False), as autoaudit today": step("default", True),
        "Django prototype: START TRANSACTION, lazily": step("begin_lazy", True),
        "Django prototype: START TRANSACTION merged into the first statement": step(
            "begin_merged", True
        ),
    }


def semantics(alias: str, naive: bool = False) -> dict[str, bool]:
    """What still holds on ``alias``: each check run against the database."""
    from django.db import connections, transaction

    connection = connections[alias]
    skus = count(1)

    def insert() -> None:
        with connection.cursor() as cursor:
            cursor.execute(ITEM, ("Semantics", f"sem-{alias}-{naive}-{next(skus)}"))

    def count_rows() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM rt_item WHERE name = 'Semantics'")
            return int(cursor.fetchone()[0])

    @contextlib.contextmanager
    def block() -> Iterator[None]:
        if not naive:
            with transaction.atomic(using=alias, savepoint=False):
                yield
            return
        with connection.cursor() as cursor:
            cursor.execute("START TRANSACTION")
            try:
                yield
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def server_state() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@autocommit, @@in_transaction")
            autocommit, open_ = cursor.fetchone()
            return int(autocommit), int(open_)

    results: dict[str, bool] = {}
    fired: list[str] = []
    with block():
        insert()
        transaction.on_commit(lambda: fired.append("x"), using=alias)
        results["on_commit waits for COMMIT"] = not fired
        results["get_autocommit() is False inside"] = not connection.get_autocommit()
    results["on_commit ran after COMMIT"] = fired == ["x"]
    results["after the block: server in autocommit, no open transaction"] = server_state() == (
        1,
        0,
    )
    before = count_rows()
    with contextlib.suppress(ZeroDivisionError), block():
        insert()
        transaction.on_commit(lambda: fired.append("y"), using=alias)
        1 / 0  # noqa: B018
    results["an error rolls back the row, on_commit dropped"] = (
        count_rows() == before and "y" not in fired
    )
    before = count_rows()
    with block():
        insert()
        # A user's atomic() inside, e.g. in a pre_save receiver, that fails.
        with contextlib.suppress(ZeroDivisionError), transaction.atomic(using=alias):
            insert()
            1 / 0  # noqa: B018
        insert()
    results["a failing inner atomic() rolls back only its savepoint"] = count_rows() == before + 2
    before = count_rows()
    with contextlib.suppress(ZeroDivisionError), block():
        insert()
        with transaction.atomic(using=alias):  # an inner block that succeeds
            insert()
        1 / 0  # noqa: B018
    results["an inner atomic() does not commit the outer transaction"] = count_rows() == before
    before = count_rows()
    connection.set_autocommit(False)
    insert()
    connection.commit()
    insert()
    connection.rollback()
    connection.set_autocommit(True)
    results["manual set_autocommit(False), commit(), rollback()"] = count_rows() == before + 1
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM rt_item WHERE name = 'Semantics'")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=200, help="writes per step per round")
    parser.add_argument("--rows", type=int, default=20_000, help="log rows prefilled")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny N, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.n, args.rows = 1, 5, 1_000
    ensure_database("mysql")
    database = django_database("mysql")
    configure_django({alias: dict(database) for alias in ("default", "begin_lazy", "begin_merged")})
    install_prototypes()
    create, indexes = log_ddl("mysql")
    raw = connect_raw()
    rows = Rows()
    setup(raw, create, indexes, rows, args.rows)
    from django.db import connections

    version = connections["default"].mysql_server_info
    try:
        checks = {
            "Django atomic()": semantics("default"),
            "START TRANSACTION behind Django's back": semantics("default", naive=True),
            "prototype, lazy": semantics("begin_lazy"),
            "prototype, merged": semantics("begin_merged"),
        }
        times = interleaved_times(raw_steps(raw, rows) | django_steps(rows), args.rounds, args.n)
    finally:
        cursor = raw.cursor()
        for table in ("rt_item", "rt_item_trigger", "rt_log"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute("DROP PROCEDURE IF EXISTS rt_create")
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"\n{version}: {args.rows:,} log rows (9 indexes), {args.rounds} rounds of {args.n}\n")
    print("| write | µs | + over untracked | ratio | spread |\n|---|---:|---:|---:|---:|")
    for name, values in times.items():
        base = "Django: untracked" if name.startswith("Django") else "untracked: row"
        zero = next(key for key in times if key.startswith(base))
        diffs = [a - b for a, b in zip(values, times[zero], strict=True)]
        plus = "" if name == zero else f"{statistics.median(diffs):+,.0f}"
        print(
            f"| {name} | {median[name]:,.0f} | {plus} | "
            f"{TIMES}{median[name] / median[zero]:.2f} | {spread(values):.0%} |"
        )
    print("\n| holds? | " + " | ".join(checks) + " |\n|---|" + "---|" * len(checks))
    for check in next(iter(checks.values())):
        marks = " | ".join("yes" if result[check] else "**no**" for result in checks.values())
        print(f"| {check} | {marks} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
