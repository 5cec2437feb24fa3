#!/usr/bin/env python
"""Benchmark autoaudit against an untracked model, django-auditlog, django-simple-history
and (on PostgreSQL only) django-pghistory.

One command (from the repository root, in a virtualenv with the ``bench`` extra):

    python benchmarks/run.py --db postgres --rounds 7 --n 300
    python benchmarks/run.py --db all            # sqlite, postgres and mysql, one after the other
    python benchmarks/run.py --quick             # CI smoke: tiny N, one round, all three databases

Method: every op but ``request`` runs in autocommit (no outer ``atomic``: each
op is its own transaction, like a request without ``ATOMIC_REQUESTS``); the
``request`` op is one POST through Django's test client to a view that
updates four objects and creates one, with ``ATOMIC_REQUESTS`` turned on for
that op alone. For each op, each
round gives every variant ``--n`` ops (bulk ops: ``--bulk-calls`` calls),
interleaved round-robin in turns of ``--slice`` ops (bulk ops: one call), the
starting variant rotating from round to round, so machine drift and load from
elsewhere hit every variant alike; the reported time per op is the median
over the rounds of each round's mean. Statements and log rows per op
are counted in a separate, untimed pass (``CaptureQueriesContext``, which
also sees BEGIN, COMMIT and SAVEPOINT). Results go to
``benchmarks/results/<db>.json`` and ``<db>.md`` (``--quick`` writes to
``benchmarks/results/quick/``). Any error makes the exit code non-zero.

On PostgreSQL the run ends with the scale phase (``benchmarks/scale.py``, op
key ``scale``): autoaudit's history, timeline and admin search with
``--scale-rows`` rows in ``activity_logs``, on a database of its own.

``--write-mode on_commit`` (or ``task``) runs autoaudit with that
``WRITE_MODE`` (the other variants as always; ratios are against untracked in
the same run) and writes to ``benchmarks/results/write-modes/<mode>/``. In
``task`` mode the backend is django-tasks' database backend with no worker
running: what a request pays is the enqueue (one row in its task table);
the log rows are written later, by the worker (``log rows/op`` shows 0, and
the ``request`` op's checks report the missing rows and the enqueue's commit).

``--profile create,update`` runs those ops for autoaudit only under
pyinstrument and writes ``benchmarks/results/profile/<db>-<op>.txt``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from importlib import metadata
from itertools import count
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
DBS = ("sqlite", "postgres", "mysql")
DB_TITLES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mysql": "MariaDB / MySQL"}
HISTORY_TARGET = "history-target"
RUN_PREFIX = "run-"  # the sku of every row an op creates; cleanup deletes these
TIMES = "\N{MULTIPLICATION SIGN}"  # for the Markdown tables
NONE = "\N{EN DASH}"
PREFILL_FAKE_PK = 10_000_000  # prefilled history belongs to pks far above real rows
SCALE_MIN_ROWS = 10_000  # the scale phase's object needs its 150 entries
SCALE = "scale"  # the op key of the scale phase (PostgreSQL only)
BENCH_USER = "bench-user"  # the superuser of the request op and the scale phase


# -- command line ---------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark autoaudit against django-auditlog, django-simple-history and "
        "(PostgreSQL only) django-pghistory.",
    )
    parser.add_argument("--db", choices=[*DBS, "all"], default="all", help="default: all")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per op (median; default 7)")
    parser.add_argument("--n", type=int, default=300, help="single-row ops per round (default 300)")
    parser.add_argument("--bulk-rows", type=int, default=1000, help="rows per bulk op (1000)")
    parser.add_argument("--bulk-calls", type=int, default=3, help="bulk calls per round (3)")
    parser.add_argument(
        "--slice", type=int, default=10, help="single-row ops per variant turn within a round (10)"
    )
    parser.add_argument(
        "--history-rows",
        type=int,
        default=200_000,
        help="log rows prefilled per package for the history op (default 200,000)",
    )
    parser.add_argument("--history-entries", type=int, default=100, help="entries of the object")
    parser.add_argument(
        "--table-rows",
        type=int,
        default=10_000,
        help="background rows kept in every item table (default 10,000)",
    )
    parser.add_argument(
        "--scale-rows",
        type=int,
        default=1_000_000,
        help="PostgreSQL: rows in activity_logs for the scale phase, on a database of its own "
        "(default 1,000,000; 0 skips the phase)",
    )
    # Internal: the scale phase's own process (run by the PostgreSQL run).
    parser.add_argument("--scale-phase", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--ops",
        default="",
        help="comma-separated subset of ops, 'scale' for the scale phase (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke: tiny N, one round, small prefill, separate database and output folder",
    )
    parser.add_argument("--reset", action="store_true", help="drop and recreate the bench database")
    parser.add_argument("--output", type=Path, default=None, help="folder for <db>.json and .md")
    parser.add_argument(
        "--write-mode",
        choices=["transaction", "on_commit", "task"],
        default="transaction",
        help="autoaudit's WRITE_MODE (default transaction); others write to results/write-modes/",
    )
    parser.add_argument(
        "--profile", default="", help="ops to profile for autoaudit only (pyinstrument), no timing"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.n, args.bulk_rows, args.bulk_calls = 1, 5, 100, 1
        args.history_rows, args.history_entries, args.table_rows = 3_000, 60, 500
        args.scale_rows = 20_000
    if min(args.rounds, args.n, args.bulk_rows, args.bulk_calls, args.slice) < 1:
        parser.error("--rounds, --n, --bulk-rows, --bulk-calls and --slice must be at least 1")
    if args.history_entries < 1 or args.history_rows < args.history_entries:
        parser.error("--history-rows must be at least --history-entries (>= 1)")
    if args.table_rows < 0:
        parser.error("--table-rows must not be negative")
    if args.scale_rows and args.scale_rows < SCALE_MIN_ROWS:
        parser.error(f"--scale-rows must be 0 (no scale phase) or at least {SCALE_MIN_ROWS:,}")
    if args.output is None:
        args.output = BENCH_DIR / "results" / ("quick" if args.quick else "")
        if args.write_mode != "transaction":
            args.output = args.output / "write-modes" / args.write_mode
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.db == "all":
        # One process per database: Django's settings are fixed per process.
        worst = 0
        rest = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--db=all"]
        rest = _without_option(rest, "--db")
        for db in DBS:
            print(f"\n===== {db} =====", flush=True)
            code = subprocess.call(
                [sys.executable, str(Path(__file__).resolve()), "--db", db, *rest]
            )
            if code:
                print(f"!! {db}: exit code {code}", flush=True)
            worst = worst or code
        return worst
    try:
        return Bench(args).run()
    except Exception:
        traceback.print_exc()
        return 1


def _without_option(argv: list[str], name: str) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == name:
            skip = True
            continue
        if arg.startswith(name + "="):
            continue
        out.append(arg)
    return out


# -- the database itself ------------------------------------------------------------------
def configure(args: argparse.Namespace) -> dict[str, Any]:
    """Point the settings at the bench database; return its settings dict."""
    sys.path.insert(0, str(ROOT))
    os.environ["AUTOAUDIT_BENCH_DB"] = args.db
    os.environ["AUTOAUDIT_BENCH_WRITE_MODE"] = getattr(args, "write_mode", "transaction")
    if args.quick:
        os.environ.setdefault("AUTOAUDIT_BENCH_DB_NAME", "autoaudit_bench_quick")
    if args.scale_phase:  # a database of its own, next to the main bench database
        base = os.environ.get("AUTOAUDIT_BENCH_DB_NAME", "autoaudit_bench")
        os.environ["AUTOAUDIT_BENCH_DB_NAME"] = f"{base}_scale"
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    from benchmarks import settings

    if not re.fullmatch(r"\w+", settings.NAME):
        raise SystemExit(f"bench database name {settings.NAME!r}: use letters, digits and _")
    return dict(settings.DATABASES["default"])


def postgres_admin(conf: dict[str, Any]) -> Any:
    """An autocommit psycopg connection to the server's ``postgres`` database."""
    import psycopg

    return psycopg.connect(
        host=conf["HOST"],
        port=conf["PORT"],
        user=conf["USER"],
        password=conf["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    )


def create_database(db: str, conf: dict[str, Any], drop: bool) -> None:
    """Create the bench database if it is missing (drop it first with ``drop``)."""
    name = str(conf["NAME"])
    if db == "sqlite":
        path = Path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if drop:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(name + suffix).unlink(missing_ok=True)
        return
    if db == "postgres":
        with postgres_admin(conf) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            found = exists.fetchone() is not None
            if found and drop:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            if drop or not found:
                conn.execute(f'CREATE DATABASE "{name}"')
        return
    import MySQLdb

    conn = MySQLdb.connect(
        host=conf["HOST"], port=int(conf["PORT"]), user=conf["USER"], passwd=conf["PASSWORD"]
    )
    try:
        cursor = conn.cursor()
        if drop:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(
            f"CREATE DATABASE IF NOT EXISTS `{name}` "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    finally:
        conn.close()


# Installed on PostgreSQL only (benchmarks/settings.py): the django-pghistory variant.
# pgtrigger has no migrations of its own (its operations are in pghbench's migration).
POSTGRES_ONLY_APPS = ("pgtrigger", "pghistory", "pghbench")


def schema_fingerprint() -> str:
    """Hash of every migration the bench database is built from."""
    from django.apps import apps

    digest = hashlib.sha256()
    labels = ["contenttypes", "auth", "autoaudit", "auditlog", "simple_history", "benchapp"]
    labels += [label for label in POSTGRES_ONLY_APPS if label in apps.app_configs]
    for label in labels:
        folder = Path(apps.get_app_config(label).path) / "migrations"
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


# -- variants ---------------------------------------------------------------------------
@dataclass
class Variant:
    key: str
    title: str
    model: Any
    log_model: Any = None
    history: Callable[[Any], list[Any]] | None = None


def pghistory_installed() -> bool:
    """True where the settings installed the django-pghistory variant (PostgreSQL)."""
    from django.apps import apps

    return apps.is_installed("benchmarks.pghbench")


def make_variants() -> list[Variant]:
    from auditlog.models import LogEntry

    from autoaudit.models import ActivityLog
    from benchmarks.benchapp.models import AAItem, ALItem, PlainItem, SHItem

    variants = [
        Variant("untracked", "untracked", PlainItem),
        Variant(
            "autoaudit",
            "autoaudit",
            AAItem,
            ActivityLog,
            lambda obj: list(ActivityLog.objects.for_instance(obj)[:50]),
        ),
        Variant(
            "auditlog",
            "django-auditlog",
            ALItem,
            LogEntry,
            lambda obj: list(LogEntry.objects.get_for_object(obj)[:50]),
        ),
        Variant(
            "simple_history",
            "django-simple-history",
            SHItem,
            SHItem.history.model,
            lambda obj: list(obj.history.all()[:50]),
        ),
    ]
    if pghistory_installed():
        from benchmarks.pghbench.models import PGHItem, PGHItemEvent

        variants.append(
            Variant(
                "pghistory",
                "django-pghistory",
                PGHItem,
                PGHItemEvent,
                # the object's events (pghistory's default related name), newest first
                lambda obj: list(obj.events.order_by("-pgh_id")[:50]),
            )
        )
    return variants


@contextlib.contextmanager
def untracked() -> Iterator[None]:
    """Setup and cleanup writes, logged by no package."""
    from auditlog.context import disable_auditlog

    import autoaudit

    with contextlib.ExitStack() as stack:
        stack.enter_context(autoaudit.disabled())
        stack.enter_context(disable_auditlog())
        if pghistory_installed():
            import pgtrigger

            # every registered trigger: pghistory's insert and update events
            stack.enter_context(pgtrigger.ignore())
        yield


# -- ops ----------------------------------------------------------------------------------
@dataclass
class Op:
    key: str
    label: str
    bulk: bool = False
    history: bool = False
    request: bool = False
    expected_logs: Callable[[Bench], int] = lambda bench: 1


OPS = [
    Op("create", "create"),
    Op("update", "update (two scalar fields)"),
    Op("update_json", "update (one nested JSON key)"),
    Op("noop_save", "no-op save", expected_logs=lambda bench: 0),
    Op("delete", "delete"),
    Op("qs_update", "QuerySet.update, {rows} rows", bulk=True),
    Op("bulk_create", "bulk_create, {rows} rows", bulk=True),
    Op("bulk_update", "bulk_update, {rows} rows (two fields)", bulk=True),
    Op("qs_delete", "QuerySet.delete, {rows} rows", bulk=True),
    Op(
        "request",
        "request: update 4 + create 1 (ATOMIC_REQUESTS, test client)",
        request=True,
        expected_logs=lambda bench: 5,
    ),
    Op(
        "history",
        "history: 50 newest of {entries} entries",
        history=True,
        expected_logs=lambda bench: 0,
    ),
]


@dataclass
class Cell:
    """The result of one op for one variant."""

    rounds_us: list[float] = field(default_factory=list)
    statements: float | None = None
    kinds: dict[str, float] = field(default_factory=dict)
    commits: float | None = None
    log_rows: float | None = None
    error: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.rounds_us) if self.rounds_us else None


class BenchError(Exception):
    pass


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.db: str = args.db
        self.seq = count(1)
        self.tag = format(int(time.time() * 1000) % 10**10, "x")
        self.errors: list[str] = []
        self.checks: list[str] = []
        self.state: dict[str, Any] = {}

    # -- setup ----------------------------------------------------------------------------
    def run(self) -> int:
        started = time.perf_counter()
        self.load_at_start = _loadavg()
        conf = configure(self.args)
        create_database(self.db, conf, drop=self.args.reset)
        import django

        django.setup()
        self.prepare_schema(conf)
        if self.args.scale_phase:
            self.connection = self._connection()
            return self.scale_phase()
        self.variants = make_variants()
        self.connection = self._connection()
        self.prefill()
        self.background()
        self.cleanup(trim_logs=True)
        if self.args.profile:
            return self.profile()
        ops = self.selected_ops()
        results: dict[str, dict[str, Cell]] = {}
        for op in ops:
            results[op.key] = self.measure(op)
        if self.scale_selected():
            self.state["scale"] = self.run_scale()
        elapsed = time.perf_counter() - started
        self.cleanup(trim_logs=False)
        report = self.report(ops, results, elapsed)
        self.write(report)
        for message in self.checks:
            print(f"CHECK: {message}", flush=True)
        for message in self.errors:
            print(f"ERROR: {message}", flush=True)
        print(f"{self.db}: done in {elapsed:.1f} s", flush=True)
        return 1 if self.errors else 0

    def _connection(self) -> Any:
        from django.db import connection

        return connection

    def selected_ops(self) -> list[Op]:
        wanted = [s.strip() for s in self.args.ops.split(",") if s.strip()]
        unknown = set(wanted) - {op.key for op in OPS} - {SCALE}
        if unknown:
            raise SystemExit(f"unknown ops: {', '.join(sorted(unknown))}")
        return [op for op in OPS if not wanted or op.key in wanted]

    def scale_selected(self) -> bool:
        wanted = [s.strip() for s in self.args.ops.split(",") if s.strip()]
        return (
            self.db == "postgres"
            and self.args.scale_rows > 0
            and not self.args.profile
            and (not wanted or SCALE in wanted)
        )

    # -- requests (the request op, the scale phase) -----------------------------------------
    def client(self) -> Any:
        """Django's test client, logged in (once) as the bench superuser."""
        if not hasattr(self, "_client"):
            from django.contrib.auth import get_user_model
            from django.test import Client

            with untracked():
                user, _ = get_user_model().objects.get_or_create(
                    username=BENCH_USER,
                    defaults={"is_superuser": True, "is_staff": True, "email": "b@example.com"},
                )
                self._client = Client()
                self._client.force_login(user)
            self.user = user
        return self._client

    @contextlib.contextmanager
    def atomic_requests(self) -> Iterator[None]:
        """``ATOMIC_REQUESTS`` on for the default database, for one op only (Django
        reads it from the connection's settings on every request)."""
        settings_dict = self.connection.settings_dict
        before = settings_dict.get("ATOMIC_REQUESTS", False)
        settings_dict["ATOMIC_REQUESTS"] = True
        try:
            yield
        finally:
            settings_dict["ATOMIC_REQUESTS"] = before

    def request_units(self, variant: Variant, calls: int) -> list[Callable[[], Any]]:
        """``calls`` POSTs of the request op, each with four fresh objects to update."""
        from django.urls import reverse

        from benchmarks.benchapp.views import MODELS

        client = self.client()
        url = reverse("bench_request", args=[MODELS[variant.key]])
        objs = self.make_rows(variant, 4 * calls)
        units: list[Callable[[], Any]] = []
        for i in range(calls):
            values = self.item_values()
            data = {
                "pks": ",".join(str(obj.pk) for obj in objs[4 * i : 4 * i + 4]),
                "name": values["name"],
                "sku": values["sku"],
                "owner": str(values["owner"].pk),
            }
            units.append(partial(_post, client, url, data))
        return units

    # -- the scale phase (PostgreSQL) --------------------------------------------------------
    def run_scale(self) -> dict[str, Any]:
        """The scale phase, in a process of its own on its own database; its result."""
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--db",
                "postgres",
                "--scale-phase",
                "--scale-rows",
                str(self.args.scale_rows),
                "--rounds",
                str(self.args.rounds),
                "--n",
                str(self.args.n),
                "--output",
                folder,
            ]
            if self.args.reset:
                command.append("--reset")
            print(f"{self.db}: scale phase ({self.args.scale_rows:,} log rows)...", flush=True)
            code = subprocess.call(command)
            path = Path(folder) / "scale.json"
            if code or not path.exists():
                self.errors.append(f"{self.db} scale phase: exit code {code}")
                return {}
            found: dict[str, Any] = json.loads(path.read_text())
        for item in found.get("results", []):
            if item["met"] is False and not item.get("before"):
                self.checks.append(
                    f"{self.db} scale {item['key']}: {item['median_ms']:.2f} ms, "
                    f"target < {item['target_ms']:g} ms not met"
                )
        return found

    def scale_phase(self) -> int:
        """The child process: build (once) and measure; writes ``scale.json``."""
        from benchmarks import scale
        from benchmarks.benchapp.models import AAItem

        rows = self.args.scale_rows
        with untracked():
            target = AAItem.objects.filter(sku=HISTORY_TARGET).first()
            if target is None:
                target = AAItem.objects.create(**{**self.item_values(), "sku": HISTORY_TARGET})
        wanted = {"rows": rows, "version": scale.SCALE_VERSION, "target": target.pk}
        if self.get_state("scale") != wanted:
            started = time.perf_counter()
            print(f"postgres: generating {rows:,} log rows (once per database)...", flush=True)
            scale.fill(self.connection, rows, target.pk)
            self.set_state("scale", wanted)
            print(f"postgres: generated in {time.perf_counter() - started:.1f} s", flush=True)
        client = self.client()
        out = scale.measure(self.connection, client, target, self.args.rounds, max(self.args.n, 10))
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM activity_logs")
            out["rows"] = cursor.fetchone()[0]
        self.args.output.mkdir(parents=True, exist_ok=True)
        (self.args.output / "scale.json").write_text(json.dumps(out, indent=2) + "\n")
        for item in out["results"]:
            mark = "" if item["met"] is None else (" met" if item["met"] else " NOT MET")
            target_text = f" (target < {item['target_ms']:g} ms{mark})" if item["target_ms"] else ""
            print(f"postgres scale {item['label']}: {item['median_ms']:.2f} ms{target_text}")
        print("postgres scale: EXPLAIN (ANALYZE, BUFFERS) of for_instance(obj)[:50]:")
        print(out["plans"]["history"]["plan"], flush=True)
        return 0

    def prepare_schema(self, conf: dict[str, Any]) -> None:
        """Migrate; rebuild the database if its migrations changed since it was built."""
        from django.core.management import call_command
        from django.db import connection, connections

        fingerprint = schema_fingerprint()
        tables = set(connection.introspection.table_names())
        if tables and self._state_value("schema", tables) != fingerprint:
            print(f"{self.db}: migrations changed since the bench database was built: rebuilding")
            connections.close_all()
            create_database(self.db, conf, drop=True)
        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        self.set_state("schema", fingerprint)
        print(f"{self.db}: migrated in {time.perf_counter() - started:.1f} s", flush=True)

    def _state_value(self, key: str, tables: set[str]) -> Any:
        from benchmarks.benchapp.models import BenchState

        if BenchState._meta.db_table not in tables:
            return None
        row = BenchState.objects.filter(key=key).first()
        return None if row is None else row.value

    def get_state(self, key: str) -> Any:
        from benchmarks.benchapp.models import BenchState

        row = BenchState.objects.filter(key=key).first()
        return None if row is None else row.value

    def set_state(self, key: str, value: Any) -> None:
        from benchmarks.benchapp.models import BenchState

        BenchState.objects.update_or_create(key=key, defaults={"value": value})

    def owner(self) -> Any:
        from benchmarks.benchapp.models import Owner

        if not hasattr(self, "_owner"):
            self._owner = Owner.objects.order_by("pk").first() or Owner.objects.create(
                name="Bench owner"
            )
        return self._owner

    # -- data ---------------------------------------------------------------------------------
    def item_values(self) -> dict[str, Any]:
        i = next(self.seq)
        return {
            "name": f"Item {i}",
            "sku": f"{RUN_PREFIX}{self.tag}-{i}",
            "price": Decimal(1000 + i % 9000) / 100,
            "quantity": i % 500,
            "active": True,
            "metadata": {
                "specs": {"ram": 8, "cpu": "4 cores", "disk": "512 GB"},
                "tags": ["new", "sale"],
                "color": "teal",
            },
            "notes": "A plain description of the item, about as long as a short paragraph. " * 2,
            "owner": self.owner(),
        }

    def make_rows(self, variant: Variant, how_many: int) -> list[Any]:
        """``how_many`` saved rows, logged by no package, loaded back from the database."""
        model = variant.model
        with untracked():
            made = model.objects.bulk_create([model(**self.item_values()) for _ in range(how_many)])
        pks = [obj.pk for obj in made]
        if None in pks:  # a backend that cannot return ids from bulk_create
            skus = [obj.sku for obj in made]
            return list(model.objects.filter(sku__in=skus).order_by("pk"))
        return list(model.objects.filter(pk__in=pks).order_by("pk"))

    def cleanup(self, trim_logs: bool) -> None:
        """Delete the rows the ops created (not the background rows) and, with ``trim_logs``,
        every log row written after the prefill. Plain SQL: nothing is logged."""
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            for model in (v.model for v in self.variants):
                cursor.execute(
                    f"DELETE FROM {quote(model._meta.db_table)} WHERE {quote('sku')} LIKE %s",
                    [RUN_PREFIX + "%"],
                )
            if trim_logs:
                prefill = self.get_state("prefill") or {}
                for variant in self.variants:
                    if variant.log_model is None or variant.key not in prefill.get("max_pk", {}):
                        continue
                    meta = variant.log_model._meta
                    cursor.execute(
                        f"DELETE FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} > %s",
                        [prefill["max_pk"][variant.key]],
                    )
        self.analyze()

    def analyze(self) -> None:
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            if self.db == "mysql":
                tables = [v.model._meta.db_table for v in self.variants] + [
                    v.log_model._meta.db_table for v in self.variants if v.log_model is not None
                ]
                cursor.execute("ANALYZE TABLE " + ", ".join(quote(t) for t in tables))
                cursor.fetchall()
            else:
                cursor.execute("ANALYZE")

    # -- prefill for the history op ------------------------------------------------------------
    def prefill(self) -> None:
        """Log tables with ``--history-rows`` rows each (once per database; reused)."""
        from benchmarks.benchapp.models import BenchState

        wanted = {"rows": self.args.history_rows, "entries": self.args.history_entries}
        state = self.get_state("prefill")
        if state and all(state.get(k) == v for k, v in wanted.items()):
            self.state["prefill"] = state
            self._load_targets(state)
            return
        started = time.perf_counter()
        print(
            f"{self.db}: prefilling {self.args.history_rows:,} log rows per package "
            "(once per database)...",
            flush=True,
        )
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            for variant in self.variants:
                if variant.log_model is not None:
                    cursor.execute(f"DELETE FROM {quote(variant.log_model._meta.db_table)}")
                cursor.execute(f"DELETE FROM {quote(variant.model._meta.db_table)}")
        BenchState.objects.filter(key="background").delete()  # item tables emptied too
        targets: dict[str, int] = {}
        max_pk: dict[str, int] = {}
        for variant in self.variants:
            with untracked():
                target = variant.model(**{**self.item_values(), "sku": HISTORY_TARGET})
                variant.model.objects.bulk_create([target])
            if target.pk is None:
                target = variant.model.objects.get(sku=HISTORY_TARGET)
            targets[variant.key] = target.pk
            if variant.log_model is None:
                continue
            self._fill(variant, target)
            last = variant.log_model.objects.order_by("-pk").values_list("pk", flat=True).first()
            max_pk[variant.key] = int(last or 0)
        state = {**wanted, "targets": targets, "max_pk": max_pk}
        self.set_state("prefill", state)
        self.state["prefill"] = state
        self._load_targets(state)
        self.analyze()
        print(f"{self.db}: prefilled in {time.perf_counter() - started:.1f} s", flush=True)

    def background(self) -> None:
        """``--table-rows`` rows in every item table (once per database; reused), so
        the ops run against tables of a realistic size with settled statistics."""
        wanted = self.args.table_rows
        if self.get_state("background") == wanted:
            return
        started = time.perf_counter()
        quote = self.connection.ops.quote_name
        for variant in self.variants:
            table = quote(variant.model._meta.db_table)
            with self.connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {table} WHERE {quote('sku')} <> %s", [HISTORY_TARGET])
            with untracked():
                for start in range(0, wanted, 2000):
                    variant.model.objects.bulk_create(
                        variant.model(**{**self.item_values(), "sku": f"bg-{j}"})
                        for j in range(start, min(wanted, start + 2000))
                    )
        self.set_state("background", wanted)
        print(
            f"{self.db}: {wanted:,} background rows per item table in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )

    def _load_targets(self, state: dict[str, Any]) -> None:
        self.targets = {
            v.key: v.model.objects.get(pk=state["targets"][v.key]) for v in self.variants
        }

    def _fill(self, variant: Variant, target: Any) -> None:
        """Append-only history: entry k of every object, then entry k + 1, ...;
        the target's entries are spread over the whole table."""
        entries = self.args.history_entries
        others = self.args.history_rows // entries  # + the target: at least history_rows rows
        pks = [PREFILL_FAKE_PK + j for j in range(others)]
        pks.insert(others // 2, target.pk)
        total = entries * len(pks)
        start = datetime.now(UTC) - timedelta(days=365)
        step = timedelta(days=365) / total
        build = getattr(self, f"_row_{variant.key}")
        batch: list[Any] = []
        seq = 0
        with _created_at_settable(variant.log_model):
            for k in range(entries):
                for pk in pks:
                    batch.append(build(pk, k, start + step * seq))
                    seq += 1
                    if len(batch) >= 2000:
                        variant.log_model.objects.bulk_create(batch)
                        batch = []
            if batch:
                variant.log_model.objects.bulk_create(batch)

    def _row_autoaudit(self, pk: int, k: int, when: datetime) -> Any:
        from autoaudit.models import ActivityLog

        base = {
            "actor_type": "system",
            "actor_name": "System",
            "entity": "aaitem",
            "computed_entity": "benchapp.AAItem",
            "entity_id": pk,
            "entity_pk": str(pk),
            "entity_name": f"Item {pk}",
            "created_at": when,
        }
        if k == 0:
            return ActivityLog(
                action="create",
                new_values={
                    "name": f"Item {pk}",
                    "sku": f"p-{pk}",
                    "price": "10.00",
                    "quantity": 0,
                },
                description=f'Created item "Item {pk}".',
                **base,
            )
        return ActivityLog(
            action="update",
            old_values={"quantity": k - 1},
            new_values={"quantity": k},
            changed_fields=["quantity"],
            description=f'Updated item "Item {pk}": quantity from {k - 1} to {k}.',
            **base,
        )

    def _row_auditlog(self, pk: int, k: int, when: datetime) -> Any:
        from auditlog.models import LogEntry
        from django.contrib.contenttypes.models import ContentType

        from benchmarks.benchapp.models import ALItem

        ct = ContentType.objects.get_for_model(ALItem)  # cached by Django
        changes = (
            {"name": ["None", f"Item {pk}"], "quantity": ["None", "0"]}
            if k == 0
            else {"quantity": [str(k - 1), str(k)]}
        )
        return LogEntry(
            content_type=ct,
            object_pk=str(pk),
            object_id=pk,
            object_repr=f"Item {pk}",
            action=LogEntry.Action.CREATE if k == 0 else LogEntry.Action.UPDATE,
            changes=changes,
            changes_text="",
            timestamp=when,
        )

    def _item_values(self, pk: int, k: int) -> dict[str, Any]:
        """The item columns of a prefilled history row (the snapshot packages store)."""
        return {
            "id": pk,
            "name": f"Item {pk}",
            "sku": f"p-{pk}",
            "price": Decimal("10.00"),
            "quantity": k,
            "active": True,
            "metadata": {"specs": {"ram": 8}},
            "notes": "",
            "owner_id": self.owner().pk,
        }

    def _row_simple_history(self, pk: int, k: int, when: datetime) -> Any:
        from benchmarks.benchapp.models import SHItem

        return SHItem.history.model(
            **self._item_values(pk, k),
            updated_at=when,
            history_date=when,
            history_type="+" if k == 0 else "~",
        )

    def _row_pghistory(self, pk: int, k: int, when: datetime) -> Any:
        from benchmarks.pghbench.models import PGHItemEvent

        return PGHItemEvent(
            pgh_obj_id=pk,
            pgh_label="insert" if k == 0 else "update",
            pgh_created_at=when,
            **self._item_values(pk, k),
        )

    # -- one op ----------------------------------------------------------------------------------
    def measure(self, op: Op) -> dict[str, Cell]:
        label = self.label(op)
        variants = [v for v in self.variants if not (op.history and v.log_model is None)]
        cells = {v.key: Cell() for v in variants}
        if op.history:
            self.state["history_table_rows"] = self.count_log_rows()
        with self.atomic_requests() if op.request else contextlib.nullcontext():
            self.measure_cells(op, variants, cells)
        base = cells.get("untracked")
        parts = []
        for variant in variants:
            cell = cells[variant.key]
            if cell.median is None:
                parts.append(f"{variant.key} ERROR")
                continue
            text = f"{variant.key} {cell.median:,.0f} us"
            if base is not None and base.median and variant.key != "untracked":
                text += f" (x{cell.median / base.median:.2f})"
            parts.append(text)
        print(f"{self.db} {label}: " + ", ".join(parts), flush=True)
        return cells

    def measure_cells(self, op: Op, variants: list[Variant], cells: dict[str, Cell]) -> None:
        # Untimed pass first (after a warm-up): statements, commits and log rows per op.
        for variant in variants:
            try:
                self.count_pass(op, variant, cells[variant.key])
            except Exception as exc:
                self.fail(op, variant, cells[variant.key], exc)
        for r in range(self.args.rounds):
            shift = r % len(variants)
            self.round(op, variants[shift:] + variants[:shift], cells)
            self.cleanup(trim_logs=False)

    def label(self, op: Op) -> str:
        return op.label.format(rows=f"{self.args.bulk_rows:,}", entries=self.args.history_entries)

    def fail(self, op: Op, variant: Variant, cell: Cell, exc: BaseException) -> None:
        detail = "".join(traceback.format_exception(exc)).rstrip()
        cell.error = f"{type(exc).__name__}: {exc}"
        self.errors.append(f"{self.db} {op.key} / {variant.title}: {cell.error}")
        print(f"!! {self.db} {op.key} / {variant.title} failed:\n{detail}", flush=True)

    def calls(self, op: Op) -> int:
        return self.args.bulk_calls if op.bulk else self.args.n

    def prepare(self, op: Op, variant: Variant, calls: int) -> list[Callable[[], Any]]:
        """Untimed setup; returns the ``calls`` timed units (one op or bulk call each)."""
        model = variant.model
        rows = self.args.bulk_rows
        if op.key == "create":
            return [partial(model.objects.create, **self.item_values()) for _ in range(calls)]
        if op.key == "update":
            return [
                partial(_update, obj, Decimal(next(self.seq) % 9000 + 1000) / 100, next(self.seq))
                for obj in self.make_rows(variant, calls)
            ]
        if op.key == "update_json":
            return [
                partial(_update_json, obj, next(self.seq)) for obj in self.make_rows(variant, calls)
            ]
        if op.key == "noop_save":
            return [obj.save for obj in self.make_rows(variant, calls)]
        if op.key == "delete":
            return [obj.delete for obj in self.make_rows(variant, calls)]
        if op.key == "qs_update":
            return [
                partial(
                    _qs_update,
                    model,
                    [obj.pk for obj in self.make_rows(variant, rows)],
                    next(self.seq),
                )
                for _ in range(calls)
            ]
        if op.key == "bulk_create":
            return [
                partial(
                    model.objects.bulk_create, [model(**self.item_values()) for _ in range(rows)]
                )
                for _ in range(calls)
            ]
        if op.key == "bulk_update":
            units: list[Callable[[], Any]] = []
            for _ in range(calls):
                objs = self.make_rows(variant, rows)
                for obj in objs:
                    obj.price = Decimal(next(self.seq) % 9000 + 1000) / 100
                    obj.quantity = next(self.seq)
                units.append(partial(model.objects.bulk_update, objs, ["price", "quantity"]))
            return units
        if op.key == "qs_delete":
            return [
                partial(_qs_delete, model, [obj.pk for obj in self.make_rows(variant, rows)])
                for _ in range(calls)
            ]
        if op.key == "request":
            return self.request_units(variant, calls)
        if op.key == "history":
            assert variant.history is not None
            expected = min(50, self.args.history_entries)
            unit = partial(_history, variant.history, self.targets[variant.key], expected)
            return [unit] * calls
        raise AssertionError(op.key)

    def round(self, op: Op, order: list[Variant], cells: dict[str, Cell]) -> None:
        """One round: every variant does ``calls`` units, interleaved in slices of
        ``--slice`` units (bulk ops: one call), so load from elsewhere on the
        machine falls on all variants alike."""
        calls = self.calls(op)
        units: dict[str, list[Callable[[], Any]]] = {}
        for variant in order:
            try:
                units[variant.key] = self.prepare(op, variant, calls)
            except Exception as exc:
                self.fail(op, variant, cells[variant.key], exc)
        spent = dict.fromkeys(units, 0)
        step = 1 if op.bulk else self.args.slice
        gc.collect()
        for start in range(0, calls, step):
            for variant in order:
                key = variant.key
                if key not in units or cells[key].error:
                    continue
                chunk = units[key][start : start + step]
                try:
                    begin = time.perf_counter_ns()
                    for unit in chunk:
                        unit()
                    spent[key] += time.perf_counter_ns() - begin
                except Exception as exc:
                    self.fail(op, variant, cells[key], exc)
        for key, total in spent.items():
            if not cells[key].error:
                cells[key].rounds_us.append(total / 1000 / calls)

    def count_pass(self, op: Op, variant: Variant, cell: Cell) -> None:
        from django.test.utils import CaptureQueriesContext

        for unit in self.prepare(op, variant, 2):  # warm-up: caches, first-use imports
            unit()
        calls = 1 if op.bulk else 3
        units = self.prepare(op, variant, calls)
        before = self.last_log_pk(variant)
        with CaptureQueriesContext(self.connection) as captured:
            for unit in units:
                unit()
        kinds: Counter[str] = Counter(_kind(q["sql"]) for q in captured.captured_queries)
        cell.statements = len(captured.captured_queries) / calls
        cell.commits = _commits([q["sql"] for q in captured.captured_queries]) / calls
        cell.kinds = {k: v / calls for k, v in sorted(kinds.items(), key=_kind_order)}
        if variant.log_model is not None:
            written = variant.log_model.objects.filter(pk__gt=before).count()
            cell.log_rows = written / calls
        if op.request:
            self.check_request(variant, cell, before)
        elif variant.key == "autoaudit":
            self.check_autoaudit(op, cell)
        self.cleanup(trim_logs=False)

    def last_log_pk(self, variant: Variant) -> int:
        if variant.log_model is None:
            return 0
        last = variant.log_model.objects.order_by("-pk").values_list("pk", flat=True).first()
        return int(last or 0)

    # -- sanity checks of autoaudit's logs (reported, not fatal) ----------------------------------
    def check_autoaudit(self, op: Op, cell: Cell) -> None:
        expected = op.expected_logs(self)
        if op.bulk:
            expected = self.args.bulk_rows
        if cell.log_rows != expected:
            self.checks.append(
                f"{self.db} {op.key}: autoaudit wrote {cell.log_rows:g} log rows per op, "
                f"expected {expected}"
            )
        if op.key in ("update", "update_json"):
            self._check_last_update(op)

    def check_request(self, variant: Variant, cell: Cell, before: int) -> None:
        """The request op measures what it says or the run fails: one commit per
        request (ATOMIC_REQUESTS took effect), five logs for every logging
        variant, and autoaudit's actor is the logged-in user."""
        problems = request_problems(variant.key, cell.commits, cell.log_rows)
        if variant.key == "autoaudit":
            from autoaudit.models import ActivityLog

            actors = set(
                ActivityLog.objects.filter(pk__gt=before).values_list("actor_type", "user_id")
            )
            if actors != {("user", self.user.pk)}:
                problems.append(f"actors {sorted(actors)!r}, expected the bench user")
        for problem in problems:
            self.errors.append(f"{self.db} request / {variant.title}: {problem}")

    def _check_last_update(self, op: Op) -> None:
        from autoaudit.models import ActivityLog

        log = ActivityLog.objects.filter(computed_entity="benchapp.AAItem").order_by("-pk").first()
        if log is None:
            return
        if op.key == "update":
            if log.changed_fields != ["price", "quantity"] or not log.old_values:
                self.checks.append(
                    f"{self.db} update: autoaudit changed_fields={log.changed_fields!r}, "
                    "expected ['price', 'quantity']"
                )
        else:
            paths = log.changed_paths
            if paths != ["metadata.specs.ram"]:
                self.checks.append(
                    f"{self.db} update_json: autoaudit changed_paths={paths!r}, "
                    "expected ['metadata.specs.ram']"
                )

    # -- profiling ---------------------------------------------------------------------------
    def profile(self) -> int:
        from pyinstrument import Profiler

        wanted = [s.strip() for s in self.args.profile.split(",") if s.strip()]
        variant = next(v for v in self.variants if v.key == "autoaudit")
        folder = self.args.output / "profile"
        folder.mkdir(parents=True, exist_ok=True)
        for key in wanted:
            op = next(o for o in OPS if o.key == key)
            for unit in self.prepare(op, variant, 20):  # warm up
                unit()
            units = self.prepare(op, variant, self.calls(op) * self.args.rounds)
            profiler = Profiler(interval=0.0002)
            profiler.start()
            for unit in units:
                unit()
            profiler.stop()
            text = profiler.output_text(unicode=False, color=False, show_all=False)
            path = folder / f"{self.db}-{key}.txt"
            path.write_text(text)
            print(text)
            print(f"written to {path}")
            self.cleanup(trim_logs=False)
        return 0

    # -- report ------------------------------------------------------------------------------
    def report(self, ops: list[Op], results: dict[str, dict[str, Cell]], elapsed: float) -> Any:
        out_ops = []
        for op in ops:
            cells = results[op.key]
            base = cells.get("untracked")
            row: dict[str, Any] = {"key": op.key, "label": self.label(op), "variants": {}}
            row["unit"] = (
                f"call of {self.args.bulk_rows} rows"
                if op.bulk
                else "request"
                if op.request
                else "op"
            )
            for variant in self.variants:
                cell = cells.get(variant.key)
                if cell is None:
                    continue
                median = cell.median
                ratio = (
                    median / base.median
                    if median is not None and base is not None and base.median
                    else None
                )
                spread = (max(cell.rounds_us) - min(cell.rounds_us)) / median if median else None
                paired = (
                    [x / y for x, y in zip(cell.rounds_us, base.rounds_us, strict=False) if y]
                    if base is not None
                    else []
                )
                row["variants"][variant.key] = {
                    "median_us": _round(median),
                    "ratio": _round(ratio, 3),
                    # each round's time over the baseline's in the same round
                    "ratio_rounds": [_round(x, 3) for x in paired],
                    "rounds_us": [_round(x) for x in cell.rounds_us],
                    "spread": _round(spread, 3),
                    "statements": cell.statements,
                    "commits": cell.commits,
                    "statement_kinds": cell.kinds,
                    "log_rows_per_op": cell.log_rows,
                    "error": cell.error,
                }
            out_ops.append(row)
        return {
            "db": self.db,
            "db_title": DB_TITLES[self.db],
            "db_version": self.db_version(),
            "machine": {**machine_info(), "load_1min": [self.load_at_start, _loadavg()]},
            "versions": package_versions(),
            "autoaudit_source": git_describe(),
            "config": {
                "rounds": self.args.rounds,
                "n": self.args.n,
                "bulk_rows": self.args.bulk_rows,
                "bulk_calls": self.args.bulk_calls,
                "slice": self.args.slice,
                "history_rows": self.args.history_rows,
                "history_entries": self.args.history_entries,
                "table_rows": self.args.table_rows,
                "history_table_rows": self.state.get("history_table_rows"),
                "scale_rows": self.args.scale_rows if self.db == "postgres" else None,
                "quick": self.args.quick,
            },
            "variants": {v.key: v.title for v in self.variants},
            "ops": out_ops,
            "scale": self.state.get("scale") or None,
            "checks": self.checks,
            "errors": self.errors,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "elapsed_s": round(elapsed, 1),
        }

    def count_log_rows(self) -> dict[str, int]:
        return {
            v.key: v.log_model.objects.count() for v in self.variants if v.log_model is not None
        }

    def db_version(self) -> str:
        import sqlite3

        if self.db == "sqlite":
            return f"SQLite {sqlite3.sqlite_version}"
        with self.connection.cursor() as cursor:
            if self.db == "postgres":
                cursor.execute("SHOW server_version")
                return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
            cursor.execute("SELECT VERSION()")
            version = cursor.fetchone()[0]
            kind = "MariaDB" if "mariadb" in version.lower() else "MySQL"
            return f"{kind} {version.split('-')[0]}"

    def write(self, report: Any) -> None:
        folder: Path = self.args.output
        folder.mkdir(parents=True, exist_ok=True)
        json_path = folder / f"{self.db}.json"
        md_path = folder / f"{self.db}.md"
        json_path.write_text(json.dumps(report, indent=2) + "\n")
        md_path.write_text(markdown(report))
        print(f"{self.db}: wrote {json_path} and {md_path.name}", flush=True)


def _update(obj: Any, price: Decimal, quantity: int) -> None:
    obj.price = price
    obj.quantity = quantity
    obj.save()


def _update_json(obj: Any, ram: int) -> None:
    obj.metadata["specs"]["ram"] = ram
    obj.save()


def _qs_update(model: Any, pks: list[int], quantity: int) -> None:
    model.objects.filter(pk__in=pks).update(quantity=quantity, active=quantity % 2 == 0)


def request_problems(variant: str, commits: float | None, log_rows: float | None) -> list[str]:
    """What is wrong with the request op's untimed pass for ``variant``."""
    problems = []
    if commits != 1:
        problems.append(f"{commits} commits per request, expected 1 (ATOMIC_REQUESTS)")
    if variant != "untracked" and log_rows != 5:
        problems.append(f"{log_rows} log rows per request, expected 5")
    return problems


def _post(client: Any, url: str, data: dict[str, str]) -> None:
    response = client.post(url, data)
    if response.status_code != 200:
        raise BenchError(f"POST {url}: {response.status_code} {response.content[:200]!r}")


def _qs_delete(model: Any, pks: list[int]) -> None:
    model.objects.filter(pk__in=pks).delete()


def _history(history: Callable[[Any], list[Any]], target: Any, expected: int) -> None:
    if len(history(target)) != expected:
        raise BenchError(f"history did not return {expected} entries")


@contextlib.contextmanager
def _created_at_settable(log_model: Any) -> Iterator[None]:
    """Let the prefill set autoaudit's ``auto_now_add`` timestamp (spread over a year)."""
    fields = [f for f in log_model._meta.concrete_fields if getattr(f, "auto_now_add", False)]
    for f in fields:
        f.auto_now_add = False
    try:
        yield
    finally:
        for f in fields:
            f.auto_now_add = True


_KINDS = (
    "BEGIN",
    "SAVEPOINT",
    "SELECT",
    "WITH",
    "INSERT",
    "COPY",
    "UPDATE",
    "DELETE",
    "RELEASE",
    "COMMIT",
)


def _kind(sql: str) -> str:
    sql = re.sub(r"^\s*(\d+|\?) times: ", "", sql)  # executemany() and COPY, as Django logs them
    word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
    if word == "RELEASE" or word.startswith("RELEASE"):
        return "RELEASE"
    if word == "ROLLBACK" and "SAVEPOINT" in sql.upper():
        return "ROLLBACK TO SAVEPOINT"
    return word


def _commits(statements: list[str]) -> int:
    """Commits: explicit COMMITs plus writes run outside a transaction (autocommit)."""
    commits, in_transaction = 0, False
    for sql in statements:
        kind = _kind(sql)
        if kind == "BEGIN":
            in_transaction = True
        elif kind in ("COMMIT", "ROLLBACK"):
            commits += kind == "COMMIT"
            in_transaction = False
        elif kind in ("INSERT", "UPDATE", "DELETE") and not in_transaction:
            commits += 1
        elif kind == "WITH" and not in_transaction and _WRITES.search(sql):
            commits += 1  # a data-modifying CTE (autoaudit's one statement per save)
    return commits


_WRITES = re.compile(r"\b(INSERT INTO|UPDATE|DELETE FROM)\b")


def _kind_order(item: tuple[str, Any]) -> int:
    return _KINDS.index(item[0]) if item[0] in _KINDS else len(_KINDS)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


# -- machine and versions ----------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    memory = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def package_versions() -> dict[str, str]:
    names = [
        "Django",
        "autoaudit",
        "django-auditlog",
        "django-simple-history",
        "django-pghistory",
        "django-pgtrigger",
        "deepdiff",
        "django-crum",
        "psycopg",
        "mysqlclient",
    ]
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_describe() -> str | None:
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "autoaudit"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit} + uncommitted changes" if dirty else commit


# -- Markdown --------------------------------------------------------------------------------------
def _us(value: float | None) -> str:
    if value is None:
        return "error"
    if value >= 10_000:
        return f"{value / 1000:,.1f} ms"
    return f"{value:,.0f} µs"


def _num(value: float | None) -> str:
    if value is None:
        return NONE
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _load(values: list[float | None] | None) -> str:
    if not values or None in values:
        return "unknown"
    return f"{values[0]:.2f} at the start, {values[1]:.2f} at the end"


def _table_rows(config: dict[str, Any]) -> str:
    counts = config.get("history_table_rows") or {}
    if not counts:
        return f"{config['history_rows']:,}+"
    low, high = min(counts.values()), max(counts.values())
    return f"{low:,}" if low == high else f"{low:,} to {high:,}"


def _plural(value: float | None, word: str) -> str:
    return f"{_num(value)} {word}{'' if value == 1 else 's'}"


def _kinds(kinds: dict[str, float]) -> str:
    parts = []
    for kind, n in kinds.items():
        parts.append(kind if n == 1 else f"{kind}{TIMES}{_num(n)}")
    return ", ".join(parts) or NONE


def markdown(report: dict[str, Any]) -> str:
    config, machine, versions = report["config"], report["machine"], report["versions"]
    keys = list(report["variants"])
    titles = [report["variants"][k] for k in keys]
    lines = [
        f"### {report['db_version']}",
        "",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory']} RAM, "
        f"{machine['os']}; load average (1 min) {_load(machine.get('load_1min'))}",
        f"- Python {machine['python']}, Django {versions['Django']}, "
        f"autoaudit {versions['autoaudit']}"
        + (f" ({report['autoaudit_source']})" if report.get("autoaudit_source") else "")
        + f", django-auditlog {versions['django-auditlog']}, "
        f"django-simple-history {versions['django-simple-history']}"
        + (
            f", django-pghistory {versions.get('django-pghistory')}"
            f" (django-pgtrigger {versions.get('django-pgtrigger')})"
            if "pghistory" in report["variants"]
            else ""
        ),
        f"- Run: {config['rounds']} round{'s' if config['rounds'] != 1 else ''} (median), "
        f"{config['n']} single-row ops per variant per round, {config['bulk_calls']} bulk "
        f"call{'s' if config['bulk_calls'] != 1 else ''} of {config['bulk_rows']:,} rows per "
        f"variant per round, interleaved in turns of {config['slice']} ops (bulk: 1 call); "
        f"{config.get('table_rows', 0):,} background rows in each item table; "
        f"history with {_table_rows(config)} rows in the log table; "
        f"finished {report['finished_at']}, took {report['elapsed_s']:,.0f} s"
        + (" (--quick: a smoke run, not a measurement)" if config["quick"] else ""),
        "",
        "Time per op, median of the rounds (bulk ops: per call), and ratio to untracked:",
        "",
        "| op | " + " | ".join(titles) + " |",
        "|---|" + "---:|" * len(titles),
    ]
    spreads = []
    for op in report["ops"]:
        cells = []
        for key in keys:
            cell = op["variants"].get(key)
            if cell is None:
                cells.append(NONE)
                continue
            text = _us(cell["median_us"]) if not cell["error"] else "error"
            if cell["ratio"] is not None and key != "untracked":
                text += f" ({TIMES}{cell['ratio']:.2f})"
            if cell["spread"] is not None:
                spreads.append(cell["spread"])
            cells.append(text)
        lines.append(f"| {op['label']} | " + " | ".join(cells) + " |")
    if spreads:
        lines += [
            "",
            f"Round-to-round spread, (max - min) / median: median {statistics.median(spreads):.0%},"
            f" largest {max(spreads):.0%}.",
        ]
    lines += [
        "",
        "Statements per op (BEGIN, COMMIT and SAVEPOINT included), commits per op (explicit"
        " COMMITs plus writes outside a transaction, each committed on its own) and log rows"
        " written per op:",
        "",
        "| op | " + " | ".join(titles) + " |",
        "|---|" + "---|" * len(titles),
    ]
    for op in report["ops"]:
        cells = []
        for key in keys:
            cell = op["variants"].get(key)
            if cell is None or cell["statements"] is None:
                cells.append(NONE)
                continue
            text = (
                f"**{_num(cell['statements'])}**: {_kinds(cell['statement_kinds'])}"
                f"; {_plural(cell['commits'], 'commit')}"
            )
            if cell["log_rows_per_op"] is not None:
                text += f"; {_plural(cell['log_rows_per_op'], 'log row')}"
            cells.append(text)
        lines.append(f"| {op['label']} | " + " | ".join(cells) + " |")
    bulk = [op for op in report["ops"] if op["unit"].startswith("call")]
    if bulk:
        lines += ["", "Bulk ops logged (log rows per call / rows affected):", ""]
        lines += ["| op | " + " | ".join(titles[1:]) + " |", "|---|" + "---|" * (len(titles) - 1)]
        for op in bulk:
            cells = []
            for key in keys[1:]:
                cell = op["variants"].get(key)
                rows = None if cell is None else cell["log_rows_per_op"]
                if rows is None:
                    cells.append(NONE)
                else:
                    mark = "yes" if rows >= config["bulk_rows"] else "no"
                    cells.append(f"{mark} ({_num(rows)} / {config['bulk_rows']:,})")
            lines.append(f"| {op['label']} | " + " | ".join(cells) + " |")
    if report.get("scale"):
        lines += scale_markdown(report["scale"])
    if report["errors"] or report["checks"]:
        lines += ["", "Problems seen during the run:", ""]
        lines += [f"- {message}" for message in report["errors"] + report["checks"]]
    return "\n".join(lines) + "\n"


def _ms(value: float) -> str:
    return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"


def scale_markdown(scale: dict[str, Any]) -> list[str]:
    """The scale phase's section: each result against its target, and the plans."""
    lines = [
        "",
        f"History at scale: {scale['rows']:,} rows in `activity_logs` (a database of its own;"
        " median of the rounds):",
        "",
        "| read | time | target | met |",
        "|---|---:|---:|---|",
    ]
    for item in scale["results"]:
        target = f"< {item['target_ms']:g} ms" if item["target_ms"] else NONE
        met = NONE if item["met"] is None else ("yes" if item["met"] else "**no**")
        lines.append(f"| {item['label']} | {_ms(item['median_ms'])} | {target} | {met} |")
    plans = scale.get("plans", {})
    indexes = scale.get("trigram_indexes") or []
    lines += [
        "",
        "Trigram indexes (migration 0004): " + (", ".join(f"`{n}`" for n in indexes) or "none"),
        "",
        "Statements per request and the slowest one:",
        "",
    ]
    for key, entry in plans.items():
        if "statements" in entry:
            top = entry["slowest"]
            head = " ".join(top["sql"].split())[:120]
            lines.append(
                f"- {key}: {entry['statements']} statements, slowest {top['ms']:g} ms: `{head}...`"
            )
    for key, entry in plans.items():
        if "plan" not in entry:
            continue
        scans = ", ".join(entry.get("scans") or []) or NONE
        lines += [
            "",
            f"`EXPLAIN (ANALYZE, BUFFERS)` of {key} (scans: {scans}):",
            "",
            "```sql",
            entry["sql"],
            "```",
            "",
            "```",
            entry["plan"],
            "```",
        ]
    return lines


if __name__ == "__main__":
    sys.exit(main())
