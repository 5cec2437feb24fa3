#!/usr/bin/env python3
"""Run Django's own test suite with autoaudit installed and every model registered.

    python compat/run.py                      # SQLite, the default modules
    python compat/run.py --db postgres        # PostgreSQL (127.0.0.1:5432, user postgres)
    python compat/run.py --baseline           # the same without autoaudit
    python compat/run.py --modules update.tests.AdvancedTests.test_update_annotated_queryset

Run it with the interpreter of a virtualenv that has autoaudit and Django
installed (``pip install -e ".[dev,postgres,compat]"``). The sdist of the
installed Django version is downloaded once into ``compat/.cache/`` (its
``tests/`` folder holds the suite), then ``tests/runtests.py`` runs through
``compat/autoaudit_compat`` (see ``compat/README.md``). Failures and errors
are recorded by test id and compared with ``compat/allowlist.toml``.

Exit status: 0 when every failure is allow-listed and no allow-list entry is
stale, 1 otherwise (and on a crashed run), 2 for bad usage.
Anything after ``--`` goes to ``runtests.py`` (e.g. ``-- -k test_update --verbosity 2``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE / ".cache"
DEFAULT_ALLOWLIST = HERE / "allowlist.toml"
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

DEFAULT_MODULES = [
    "basic",
    "update",
    "bulk_create",
    "delete",
    "delete_regress",
    "save_delete_hooks",
    "model_inheritance",
    "model_inheritance_regress",
    "many_to_many",
    "m2m_through",
    "m2m_through_regress",
    "m2m_regress",
    "m2m_signals",
    "one_to_one",
    "transactions",
    "transaction_hooks",
    "select_for_update",
    "get_or_create",
    "update_only_fields",
    "force_insert_update",
    "custom_pk",
    "composite_pk",
    "model_fields",
    "defer",
    "defer_regress",
    "proxy_models",
    "generic_relations",
    "expressions",
    "annotations",
    "ordering",
    "custom_managers",
    "queries",
    "fixtures",
    "serializers",
    "signals",
    "timezones",
    "multiple_database",
    "admin_changelist",
    "admin_views",
    "auth_tests",
    "contenttypes_tests",
]


# -- the suite's sources ----------------------------------------------------------
def django_version() -> str:
    try:
        return importlib.metadata.version("django")
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit("Django is not installed in this interpreter.") from None


def _find_sdist(directory: Path, version: str) -> Path | None:
    for name in (f"django-{version}.tar.gz", f"Django-{version}.tar.gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def ensure_suite(version: str, cache: Path) -> Path:
    """The ``tests/`` folder of Django ``version``'s sdist, downloaded and extracted once."""
    target = cache / f"django-{version}"
    tests = target / "tests"
    if (tests / "runtests.py").is_file() and (target / ".complete").is_file():
        return tests
    downloads = cache / "sdist"
    downloads.mkdir(parents=True, exist_ok=True)
    sdist = _find_sdist(downloads, version)
    if sdist is None:
        print(f"Downloading the sdist of Django {version} into {downloads} ...", flush=True)
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--no-binary", ":all:", f"django=={version}", "--dest", str(downloads)),
            ],
            check=True,
        )
        sdist = _find_sdist(downloads, version)
        if sdist is None:
            raise SystemExit(f"pip download left no Django {version} sdist in {downloads}.")
    print(f"Extracting tests/ from {sdist.name} ...", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="extract-", dir=cache))
    try:
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if m.name.split("/")[1:2] == ["tests"]]
            if not members:
                raise SystemExit(f"{sdist} has no tests/ folder.")
            top = members[0].name.split("/")[0]
            if hasattr(tarfile, "data_filter"):
                archive.extractall(scratch, members, filter="data")
            else:  # pragma: no cover - Python 3.11 before 3.11.4
                archive.extractall(scratch, members)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        (scratch / top / "tests").rename(tests)
        (target / ".complete").write_text(sdist.name + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return tests


# -- the allow-list ---------------------------------------------------------------
KINDS = ("query-count", "captured-sql", "receiver")
#: The only tests ``kind = "receiver"`` may name (reviewed by hand): tests of
#: the path Django takes only when no receiver of a signal is connected.
RECEIVER_TESTS = frozenset(
    {
        "many_to_many.tests.ManyToManyTests.test_fast_add_ignore_conflicts",
        "signals.tests.SignalTests.test_disconnect_in_dispatch",
    }
)


@dataclass(frozen=True)
class Allowed:
    test: str
    databases: frozenset[str]
    reason: str
    kind: str = "query-count"


def load_allowlist(path: Path) -> list[Allowed]:
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text())
    entries = []
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate(data.get("allow", []), start=1):
        where = f"{path.name}: entry {index}"
        test, databases, reason = raw.get("test"), raw.get("databases"), raw.get("reason")
        if not isinstance(test, str) or not test or " " in test:
            raise SystemExit(f"{where}: `test` must be one test id, not {test!r}.")
        if not isinstance(databases, list) or not databases or not set(databases) <= set(DATABASES):
            raise SystemExit(f"{where} ({test}): `databases` must list some of {DATABASES}.")
        if not isinstance(reason, str) or not reason.strip():
            raise SystemExit(f"{where} ({test}): `reason` is required.")
        kind = raw.get("kind", "query-count")
        if kind not in KINDS:
            raise SystemExit(f"{where} ({test}): `kind` must be one of {KINDS}.")
        if kind == "receiver" and test not in RECEIVER_TESTS:
            raise SystemExit(
                f'{where} ({test}): `kind = "receiver"` is reserved for the reviewed '
                "tests in RECEIVER_TESTS (compat/run.py)."
            )
        unknown = set(raw) - {"test", "databases", "reason", "kind"}
        if unknown:
            raise SystemExit(f"{where} ({test}): unknown key(s) {sorted(unknown)}.")
        for db in databases:
            if (test, db) in seen:
                raise SystemExit(f"{where}: {test} is listed twice for {db}.")
            seen.add((test, db))
        entries.append(Allowed(test, frozenset(databases), reason.strip(), kind))
    return entries


# -- running ---------------------------------------------------------------------
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


# -- reporting -------------------------------------------------------------------
def _first_line(text: str, limit: int = 160) -> str:
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
                print(f"      {_first_line(first.get('message', first['kind']))}")
    if verdict["stale"]:
        print("\nStale allow-list entries (they pass now: remove them):")
        for test in verdict["stale"]:
            print(f"  {test}")


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    runtests_args: list[str] = []
    if "--" in argv:
        index = argv.index("--")
        argv, runtests_args = argv[:index], argv[index + 1 :]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=DATABASES, default="sqlite")
    parser.add_argument(
        "--baseline", action="store_true", help="run without autoaudit (nothing installed)"
    )
    parser.add_argument(
        "--modules",
        nargs="+",
        default=DEFAULT_MODULES,
        metavar="LABEL",
        help="test modules or labels (module.tests.Class.test_method); default: the list in "
        "compat/README.md",
    )
    parser.add_argument("--parallel", type=int, default=2, metavar="N")
    parser.add_argument("--report", type=Path, help="write the results as JSON here")
    parser.add_argument("--allowlist", type=Path, default=DEFAULT_ALLOWLIST)
    parser.add_argument(
        "--allow-stale",
        action="store_true",
        help="stale allow-list entries are printed but are no error",
    )
    parser.add_argument(
        "--no-middleware", action="store_true", help="leave AuditMiddleware out (diagnosis)"
    )
    parser.add_argument(
        "--no-register",
        action="store_true",
        help="install autoaudit but register no model (diagnosis)",
    )
    parser.add_argument("--start-method", choices=("fork", "spawn", "forkserver"))
    parser.add_argument(
        "--verify",
        action="store_true",
        help="check that the allow-listed failures of --db (or the tests given with "
        "--modules) are only autoaudit's extra statements (see compat/README.md)",
    )
    parser.add_argument(
        "--show-statements",
        action="store_true",
        help="--verify: list the statements autoaudit added, test by test",
    )
    parser.add_argument(
        "--capture-sql",
        metavar="DIR",
        help="record the statements of every assertNumQueries/CaptureQueriesContext as "
        "JSON lines in DIR (for checking allow-list entries)",
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--show-output",
        action="store_true",
        help="show runtests.py's output here instead of writing it to a log file",
    )
    args = parser.parse_args(argv)
    args.runtests_args = runtests_args
    if args.parallel < 1:
        parser.error("--parallel must be at least 1")

    check_dependencies(args.db, args.parallel)
    allowlist = load_allowlist(args.allowlist)
    tests = ensure_suite(django_version(), args.cache)
    if args.verify:
        return verify(args, tests, allowlist)
    return check(args, tests, allowlist)


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


# -- verifying allow-list entries --------------------------------------------------
_LITERALS = [
    (re.compile(r"'(?:[^']|'')*'"), "?"),  # string literals (timestamps, uuids, JSON)
    (re.compile(r'"s\d+_x\d+"|\bs\d+_x\d+\b'), "SP"),  # savepoint names
    (re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])"), "?"),  # numbers
    (re.compile(r"\(\s*\?(?:\s*,\s*\?)*\s*\)"), "(?)"),  # IN (...) lists and rows
    (re.compile(r"\(\?\)(?:\s*,\s*\(\?\))+"), "(?)"),  # VALUES (...), (...)
    (re.compile(r"\s+"), " "),
    # autoaudit's write transaction on SQLite takes the write lock at the start:
    # the same transaction as Django's BEGIN, so it counts as one.
    (re.compile(r"^BEGIN IMMEDIATE$"), "BEGIN"),
]


def shape(sql: str) -> str:
    """A statement with its literal values replaced, for comparing two runs."""
    for pattern, replacement in _LITERALS:
        sql = pattern.sub(replacement, sql)
    return sql.strip()


def extra_statements(base: Sequence[str], other: Sequence[str]) -> list[str] | None:
    """The statements of ``other`` left over when ``base`` is matched in order
    (a subsequence); ``None`` if ``base`` is not a subsequence of ``other``."""
    extras: list[str] = []
    index = 0
    for statement in other:
        if index < len(base) and base[index] == statement:
            index += 1
        else:
            extras.append(statement)
    return extras if index == len(base) else None


def _first_unmatched(base: Sequence[str], other: Sequence[str]) -> str:
    index = 0
    for statement in other:
        if index < len(base) and base[index] == statement:
            index += 1
    return base[index] if index < len(base) else ""


def _captured(directory: Path) -> dict[str, list[dict[str, Any]]]:
    by_test: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(directory.glob("sql-*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["test"]:
                by_test[record["test"]].append(record)
    return by_test


def verify(args: argparse.Namespace, tests: Path, allowlist: list[Allowed]) -> int:
    """Check that each allow-listed failure is nothing but autoaudit's extra statements.

    The tests run twice, without and with autoaudit, with ``assertNumQueries``
    recording instead of asserting. Each must then pass with autoaudit (a
    ``captured-sql`` entry may still fail on its SQL assertion), and in every
    captured block the statements run without autoaudit must appear, in order
    and unchanged up to literal values, among those run with it: autoaudit only
    added statements. The added statements are printed for review.
    """
    if args.modules is DEFAULT_MODULES:
        entries = [e for e in allowlist if args.db in e.databases]
        labels = [e.test for e in entries]
    else:
        entries = [e for e in allowlist if args.db in e.databases and e.test in args.modules]
        labels = list(args.modules)
    kinds = {e.test: e.kind for e in entries}
    # A "receiver" entry is a test of Django's own receiver-less paths; it
    # cannot pass with a receiver connected, so there is nothing to verify.
    exempt = [test for test in labels if kinds.get(test) == "receiver"]
    for test in exempt:
        print(f"exempt   {test} (kind = receiver: reviewed by hand, see its reason)")
    labels = [test for test in labels if test not in exempt]
    if not labels:
        print(f"Nothing to verify for {args.db}.")
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="compat-verify-"))
    runs: dict[str, tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]] = {}
    for mode in ("baseline", "autoaudit"):
        sql_dir = scratch / mode
        sql_dir.mkdir()
        log = args.cache / "logs" / f"{args.db}-verify-{mode}.log"
        run_suite(
            args,
            tests,
            scratch / f"{mode}.json",
            None if args.show_output else log,
            mode=mode,
            labels=labels,
            extra_env={
                "AUTOAUDIT_COMPAT_SQL_DIR": str(sql_dir),
                "AUTOAUDIT_COMPAT_LENIENT_COUNTS": "1",
            },
        )
        data = read_results(scratch / f"{mode}.json", log)
        if data is None:
            return 1
        runs[mode] = data, _captured(sql_dir)
    shutil.rmtree(scratch, ignore_errors=True)
    (base_data, base_sql), (audit_data, audit_sql) = runs["baseline"], runs["autoaudit"]
    base_failing = {p["id"] for p in base_data["problems"]}
    audit_failing: dict[str, dict[str, Any]] = {}
    for problem in audit_data["problems"]:
        audit_failing.setdefault(problem["id"], problem)
    extras_seen: dict[str, list[str]] = defaultdict(list)
    bad = 0
    print()
    for test in labels:
        verdicts: list[str] = []
        if test in base_failing:
            verdicts.append("fails without autoaudit too")
        problem = audit_failing.get(test)
        if problem is not None:
            message = _first_line(problem.get("message", problem["kind"]), 120)
            sql_assertion = problem.get("exc_type") == "AssertionError"
            if not (kinds.get(test) == "captured-sql" and sql_assertion):
                verdicts.append(f"still fails with counts not asserted: {message}")
        base_blocks, audit_blocks = base_sql.get(test, []), audit_sql.get(test, [])
        if not audit_blocks:
            verdicts.append("no captured statements")
        if len(base_blocks) != len(audit_blocks) and problem is None:
            verdicts.append(f"{len(base_blocks)} captured blocks without, {len(audit_blocks)} with")
        # Databases Django itself ran statements on in this test.
        django_aliases = {block["alias"] for block in base_blocks if block["sql"]}
        added: list[str] = []
        for number, (base, audit) in enumerate(zip(base_blocks, audit_blocks, strict=False), 1):
            alias = audit["alias"]
            if base["alias"] != alias:
                verdicts.append(f"block {number}: on {base['alias']} vs {alias}")
                continue
            base_shapes = [shape(q) for q in base["sql"]]
            audit_shapes = [shape(q) for q in audit["sql"]]
            extras = extra_statements(base_shapes, audit_shapes)
            if extras is None:
                missing = _first_unmatched(base_shapes, audit_shapes)
                verdicts.append(
                    f"block {number} ({alias}): a statement run without autoaudit "
                    f"is missing or changed: {missing[:200]}"
                )
                continue
            if extras and django_aliases and alias not in django_aliases:
                verdicts.append(
                    f"block {number}: autoaudit ran {len(extras)} statement(s) on {alias}, "
                    f"but Django's ran on {', '.join(sorted(django_aliases))}"
                )
            for extra in extras:
                added.append(f"[{alias}] {extra[:110]}")
                extras_seen[f"[{alias}] {extra[:150]}"].append(test)
        if not added and not verdicts:
            verdicts.append("autoaudit added no statement")
        status = "NOT PURE" if verdicts else "ok"
        bad += bool(verdicts)
        print(f"{status:8} {test}" + (f" (+{len(added)} statements)" if added else ""))
        for verdict in verdicts:
            print(f"         - {verdict}")
        if args.show_statements:
            for extra in added:
                print(f"         + {extra}")
    print("\nStatements autoaudit added, by shape (review them):")
    for statement, where in sorted(extras_seen.items(), key=lambda item: -len(item[1])):
        print(f"{len(where):5}x {statement}")
    print(f"\nverify: {len(labels) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
