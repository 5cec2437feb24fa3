"""Running ``runtests.py`` through ``autoaudit_compat`` and reading its results."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: ``compat/``: put on ``PYTHONPATH`` so ``python -m autoaudit_compat`` finds the hook.
HERE = Path(__file__).resolve().parent.parent
DATABASES = ("sqlite", "postgres", "mysql")
SETTINGS = {
    "sqlite": "test_sqlite",  # the suite's own: in-memory "default" and "other"
    "postgres": "autoaudit_compat.settings_postgres",
    "mysql": "autoaudit_compat.settings_mysql",
}
DRIVERS = {"postgres": ("psycopg", "psycopg2"), "mysql": ("MySQLdb",)}
#: Test-only packages (the ``compat`` extra): tblib carries tracebacks out of
#: ``--parallel`` workers; the others turn skipped tests (ImageField, YAML
#: serializers, bcrypt/argon2 hashers, admindocs) into tests that run.
TEST_DEPS = {
    "tblib": "tblib",
    "PIL": "Pillow",
    "yaml": "PyYAML",
    "bcrypt": "bcrypt",
    "argon2": "argon2-cffi",
    "docutils": "docutils",
}


def check_dependencies(db: str, parallel: int) -> None:
    missing = [pkg for module, pkg in TEST_DEPS.items() if importlib.util.find_spec(module) is None]
    if missing:
        print(
            f"warning: {', '.join(missing)} not installed (pip install -e '.[compat]'): "
            "tests that need them are skipped"
            + (", and --parallel tracebacks may be lost" if "tblib" in missing else ""),
            file=sys.stderr,
        )
        if "tblib" in missing and parallel > 1:
            raise SystemExit("tblib is required for --parallel > 1: pip install -e '.[compat]'")
    drivers = DRIVERS.get(db, ())
    if drivers and not any(importlib.util.find_spec(d) for d in drivers):
        raise SystemExit(f"--db {db} needs a driver: pip install -e '.[{db}]'")


def run_suite(
    args: argparse.Namespace,
    tests: Path,
    results: Path,
    log: Path | None,
    *,
    mode: str,
    labels: Sequence[str],
    extra_env: dict[str, str] | None = None,
) -> float:
    """Run ``runtests.py`` once; return its wall-clock time in seconds."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        "AUTOAUDIT_COMPAT_MODE": mode,
        "AUTOAUDIT_COMPAT_RESULTS": str(results),
        "AUTOAUDIT_COMPAT_MIDDLEWARE": "0" if args.no_middleware else "1",
        "AUTOAUDIT_COMPAT_REGISTER": "0" if args.no_register else "1",
        "AUTOAUDIT_COMPAT_DB_NAME": os.environ.get(
            "AUTOAUDIT_COMPAT_DB_NAME", f"django_compat_{mode}"
        ),
        **(extra_env or {}),
    }
    if args.start_method:
        env["AUTOAUDIT_COMPAT_START_METHOD"] = args.start_method
    command = [
        sys.executable,
        "-m",
        "autoaudit_compat",
        f"--settings={SETTINGS[args.db]}",
        "--noinput",
        f"--parallel={args.parallel}",
        *args.runtests_args,
        *labels,
    ]
    shown = command if len(labels) <= 50 else [*command[: -len(labels)], f"<{len(labels)} labels>"]
    print(f"+ cd {tests} && {' '.join(shown)}", flush=True)
    started = time.monotonic()
    if log is None:
        subprocess.run(command, cwd=tests, env=env, stdin=subprocess.DEVNULL)
    else:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as stream:
            subprocess.run(
                command,
                cwd=tests,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stream,
                stderr=subprocess.STDOUT,
            )
    return time.monotonic() - started


def read_results(results: Path, log: Path | None) -> dict[str, Any] | None:
    if not results.exists():
        if log is not None:
            print("".join(log.read_text(errors="replace").splitlines(True)[-80:]))
        print(f"The suite crashed before reporting results (log: {log or 'above'}).")
        return None
    data: dict[str, Any] = json.loads(results.read_text())
    return data
