"""``--verify``: each allow-listed failure is nothing but autoaudit's extra statements."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .allowlist import Allowed
from .report import first_line
from .runner import read_results, run_suite

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
    # Django's own DELETE, and its INSERT that ignores conflicts, handing back
    # the rows they removed or inserted (docs/tracking.md): the same statement.
    (re.compile(r"^(DELETE FROM .*?) RETURNING .*$"), r"\1"),
    (re.compile(r"^(INSERT (?:OR IGNORE|IGNORE) INTO .*?) RETURNING .*$"), r"\1"),
    (re.compile(r"^(INSERT INTO .*? ON CONFLICT DO NOTHING) RETURNING .*$"), r"\1"),
]


def shape(sql: str) -> str:
    """A statement with its literal values replaced, for comparing two runs."""
    for pattern, replacement in _LITERALS:
        sql = pattern.sub(replacement, sql)
    return sql.strip()


# autoaudit's one statement per save, and per delete of a lone row, on
# PostgreSQL (docs/tracking.md, "Transactions"): Django's INSERT, UPDATE or
# DELETE inside a data-modifying CTE that also inserts the log; an UPDATE or
# DELETE guarded by the old values it knows, with a RETURNING of a constant
# where Django's statement had none.
_COMBINED = re.compile(
    r'^WITH aa_row AS \((.*?)\), aa_log AS \((INSERT INTO "activity_logs" .*)\) '
    r"SELECT \* FROM aa_row$"
)
_GUARD = re.compile(
    r'^((?:UPDATE|DELETE FROM) .*?)(?: AND (?:"\w+"\."\w+"::text COLLATE "C" = '
    r"\(CAST\(\?(?:::[\w\[\]]+)? AS [\w ]+(?:\(\?\))?\)\)"
    r'::text COLLATE "C"|\("\w+"\."\w+" IS NULL(?: OR "\w+"\."\w+" = \?::jsonb)?\)))+'
    r"( RETURNING .*)?$"
)
_OUR_RETURNING = re.compile(r" RETURNING \?$")


def shapes(sql: str) -> list[str]:
    """The shapes of the statements ``sql`` is: one, or for autoaudit's
    combined statement Django's own (without the guard and the ``RETURNING``
    autoaudit added) and then the log insert."""
    statement = shape(sql)
    combined = _COMBINED.match(statement)
    parts = [combined.group(1), combined.group(2)] if combined else [statement]
    if combined:
        parts[0] = _OUR_RETURNING.sub("", parts[0])
    parts[0] = _GUARD.sub(r"\1\2", parts[0])
    return parts


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
    if args.every_entry:
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
            message = first_line(problem.get("message", problem["kind"]), 120)
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
            audit_shapes = [part for q in audit["sql"] for part in shapes(q)]
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
