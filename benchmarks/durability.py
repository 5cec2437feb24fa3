#!/usr/bin/env python
"""What each WRITE_MODE loses when the process dies between commit and log write.

    python benchmarks/durability.py                # PostgreSQL, 50 kills per case
    python benchmarks/durability.py --n 10 --db sqlite

For each case, ``--n`` child processes each commit one tracked change (a new
``auth.Group``, registered through ``AUTOAUDIT["MODELS"]``) and are killed
with ``SIGKILL`` at the point the case names; the parent then counts the
changes that have no log row:

- ``transaction``: killed right after the commit returns (the log committed
  with the change: there is no window);
- ``on_commit``: killed after the commit, before the log insert (an
  ``on_commit`` callback registered before the change runs first and kills);
- ``task, before enqueue``: likewise, before ``write_logs`` is enqueued;
- ``task, after enqueue``: killed once the task is enqueued (django-tasks'
  database backend: the task row is committed); the parent then runs the
  real worker (``db_worker --batch``) and counts again;
- ``DATABASE elsewhere``: ``WRITE_MODE="transaction"`` with the logs in a
  second database, killed after the change commits, before the log insert.

The database is ``AUTOAUDIT_BENCH_DB_NAME`` (default ``autoaudit_durability``)
on the bench server; the run prints a Markdown table (and ``--json`` the raw
counts). Not part of CI.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: case -> (WRITE_MODE, logs in the second database, when to die)
CASES: dict[str, tuple[str, bool, str]] = {
    "transaction": ("transaction", False, "after_commit"),
    "on_commit": ("on_commit", False, "before_write"),
    "task, before enqueue": ("task", False, "before_write"),
    "task, after enqueue (worker runs later)": ("task", False, "after_write"),
    "DATABASE elsewhere (transaction mode)": ("transaction", True, "before_write"),
}


def configure(db: str, name: str, mode: str, elsewhere: bool) -> None:
    from django.conf import settings

    if db == "postgres":
        base = {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("AUTOAUDIT_BENCH_DB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("AUTOAUDIT_BENCH_DB_PORT", "5432"),
            "USER": os.environ.get("AUTOAUDIT_BENCH_DB_USER", "postgres"),
            "PASSWORD": os.environ.get("AUTOAUDIT_BENCH_DB_PASSWORD", ""),
        }
        databases: dict[str, dict[str, Any]] = {
            "default": {**base, "NAME": name},
            "audit": {**base, "NAME": f"{name}_audit"},
        }
    else:
        folder = ROOT / "benchmarks" / ".data"
        folder.mkdir(exist_ok=True)
        databases = {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": folder / f"{name}.sqlite3"},
            "audit": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": folder / f"{name}_audit.sqlite3",
            },
        }
    autoaudit: dict[str, Any] = {"MODELS": {"auth.Group": {}}, "WRITE_MODE": mode}
    if elsewhere:
        autoaudit["DATABASE"] = "audit"
    settings.configure(
        SECRET_KEY="autoaudit-durability-not-secret",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "autoaudit",
            "django_tasks_db",
        ],
        DATABASES=databases,
        TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
        AUTOAUDIT=autoaudit,
        SILENCED_SYSTEM_CHECKS=["autoaudit.W001", "autoaudit.W004"],
    )
    import django

    django.setup()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def child(args: argparse.Namespace) -> None:
    """Commit one tracked change and die at ``args.when``."""
    mode, elsewhere, when = CASES[args.case]
    configure(args.db, args.name, mode, elsewhere)
    from django.contrib.auth.models import Group
    from django.db import transaction

    with transaction.atomic():
        if when == "before_write":
            transaction.on_commit(_die)  # runs before the log's own callback
        Group.objects.create(name=args.marker)
        if when == "after_write":
            transaction.on_commit(_die)  # runs after it
    if when == "after_commit":
        _die()
    raise SystemExit("the child was meant to be killed")


def create_databases(db: str, name: str) -> None:
    if db != "postgres":
        return
    import psycopg

    host = os.environ.get("AUTOAUDIT_BENCH_DB_HOST", "127.0.0.1")
    user = os.environ.get("AUTOAUDIT_BENCH_DB_USER", "postgres")
    with psycopg.connect(host=host, user=user, dbname="postgres", autocommit=True) as conn:
        for database in (name, f"{name}_audit"):
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
            if found.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{database}"')


def parent(args: argparse.Namespace) -> dict[str, dict[str, int]]:
    create_databases(args.db, args.name)
    configure(args.db, args.name, "transaction", False)
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from autoaudit.models import ActivityLog

    for alias in ("default", "audit"):
        call_command("migrate", database=alias, verbosity=0, interactive=False)
    results: dict[str, dict[str, int]] = {}
    for index, (case, (_mode, elsewhere, when)) in enumerate(CASES.items()):
        prefix = f"dur-{index}-"
        Group.objects.filter(name__startswith=prefix).delete()
        ActivityLog.objects.using("audit").filter(entity_name__startswith=prefix).delete()
        ActivityLog.objects.filter(entity_name__startswith=prefix).delete()
        started = time.perf_counter()
        killed = 0
        for k in range(args.n):
            code = subprocess.call(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    "--db",
                    args.db,
                    "--name",
                    args.name,
                    "--case",
                    case,
                    "--marker",
                    f"{prefix}{k}",
                ],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            killed += code == -signal.SIGKILL
        if when == "after_write":
            call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)
        logs = ActivityLog.objects.using("audit" if elsewhere else "default")
        changes = set(Group.objects.filter(name__startswith=prefix).values_list("name", flat=True))
        logged = set(
            logs.filter(entity_name__startswith=prefix).values_list("entity_name", flat=True)
        )
        results[case] = {
            "runs": args.n,
            "killed": killed,
            "changes committed": len(changes),
            "logs lost": len(changes - logged),
            "seconds": round(time.perf_counter() - started),
        }
        print(case, results[case], flush=True)
    return results


def table(results: dict[str, dict[str, int]]) -> str:
    lines = [
        "| mode (kill point) | killed | changes committed | logs lost |",
        "|---|---:|---:|---:|",
    ]
    for case, row in results.items():
        lines.append(
            f"| {case} | {row['killed']}/{row['runs']} | {row['changes committed']} | "
            f"{row['logs lost']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--n", type=int, default=50, help="kills per case (default 50)")
    parser.add_argument(
        "--name", default=os.environ.get("AUTOAUDIT_BENCH_DB_NAME", "autoaudit_durability")
    )
    parser.add_argument("--json", type=Path, default=None, help="write the counts here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=list(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--marker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.child:
        child(args)
        return 1
    results = parent(args)
    print(table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
