"""One run of the suite with autoaudit (or ``--baseline``), compared with the allow-list."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .allowlist import Allowed
from .runner import read_results, run_suite


def first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _where(problem: dict[str, Any]) -> str:
    frame = problem.get("autoaudit_frame")
    if frame:
        return f"{frame['file']}:{frame['line']} in {frame['function']}"
    return "no autoaudit frame"


def classify(
    data: dict[str, Any], allowlist: Iterable[Allowed], db: str, baseline: bool
) -> dict[str, Any]:
    problems: list[dict[str, Any]] = data["problems"]
    failing = sorted({p["id"] for p in problems})
    ran = set(data["ran"])
    entries = {} if baseline else {e.test: e for e in allowlist if db in e.databases}
    allowed = [t for t in failing if t in entries]
    real = [t for t in failing if t not in entries]
    stale = sorted(t for t in entries if t in ran and t not in failing)
    not_run = sorted(t for t in entries if t not in ran and t not in failing)
    return {
        "failing": failing,
        "allowed": allowed,
        "real": real,
        "stale": stale,
        "not_run": not_run,
    }


def print_summary(
    data: dict[str, Any], verdict: dict[str, Any], args: argparse.Namespace, seconds: float
) -> None:
    problems_by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for problem in data["problems"]:
        problems_by_id[problem["id"]].append(problem)
    what = (
        "baseline (autoaudit not installed)"
        if args.baseline
        else f"autoaudit installed, {data['registered_models']} models registered"
        + ("" if data["middleware"] else ", no AuditMiddleware")
    )
    print()
    print(f"=== Django {data['django']} test suite on {args.db}: {what} ===")
    print(
        f"parallel {data['parallel']} ({data['start_method']}), "
        f"wall-clock {seconds:.0f}s (tests {data['suite_seconds']:.0f}s)"
    )
    for error in data["registration_errors"]:
        print(f"registration error: {error['model']}: {error['error']}")
    print(f"tests run:                {data['tests_run']}")
    print(f"skipped:                  {data['skipped']}")
    problems = len(data["problems"])
    print(f"failures+errors:          {len(verdict['failing'])} tests ({problems} problems)")
    print(f"allow-listed:             {len(verdict['allowed'])}")
    print(f"real failures:            {len(verdict['real'])}")
    print(f"stale allow-list entries: {len(verdict['stale'])}")
    if verdict["real"]:
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for test in verdict["real"]:
            first = problems_by_id[test][0]
            groups[(first.get("exc_type", first["kind"]), _where(first))].append(test)
        print("\nReal failures, grouped by exception type and innermost autoaudit frame:")
        for (exc_type, where), tests in sorted(groups.items(), key=lambda g: -len(g[1])):
            print(f"\n[{len(tests)}] {exc_type} at {where}")
            for test in tests:
                first = problems_by_id[test][0]
                print(f"  {test}")
                print(f"      {first_line(first.get('message', first['kind']))}")
    if verdict["stale"]:
        print("\nStale allow-list entries (they pass now: remove them):")
        for test in verdict["stale"]:
            print(f"  {test}")


def check(args: argparse.Namespace, tests: Path, allowlist: list[Allowed]) -> int:
    mode = "baseline" if args.baseline else "autoaudit"
    scratch = Path(tempfile.mkdtemp(prefix="compat-"))
    results = scratch / "results.json"
    log = None if args.show_output else args.cache / "logs" / f"{args.db}-{mode}.log"
    extra_env = {}
    if args.capture_sql:
        Path(args.capture_sql).mkdir(parents=True, exist_ok=True)
        extra_env["AUTOAUDIT_COMPAT_SQL_DIR"] = str(Path(args.capture_sql).resolve())
    seconds = run_suite(
        args, tests, results, log, mode=mode, labels=args.modules, extra_env=extra_env
    )
    data = read_results(results, log)
    shutil.rmtree(scratch, ignore_errors=True)
    if data is None:
        return 1
    verdict = classify(data, allowlist, args.db, args.baseline)
    print_summary(data, verdict, args, seconds)
    if log is not None:
        print(f"\nfull output: {log}")
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "db": args.db,
            "mode": mode,
            "modules": list(args.modules),
            "wall_clock_seconds": round(seconds, 1),
            **verdict,
            "reasons": {e.test: e.reason for e in allowlist if e.test in verdict["allowed"]},
            "results": data,
        }
        args.report.write_text(json.dumps(report, indent=1))
        print(f"report: {args.report}")
    failed = bool(verdict["real"]) or bool(data["registration_errors"])
    if verdict["stale"] and not args.allow_stale:
        failed = True
    real = len(verdict["real"])
    print(f"\ncompat: {data['tests_run'] - real} passed, {real} failed")
    return 1 if failed else 0
