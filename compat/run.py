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
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.allowlist import load_allowlist
from harness.report import check
from harness.runner import DATABASES, HERE, check_dependencies
from harness.source import django_version, ensure_suite
from harness.verify import verify

DEFAULT_CACHE = HERE / ".cache"
DEFAULT_ALLOWLIST = HERE / "allowlist.toml"
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
    # --verify without --modules checks every allow-list entry of --db.
    args.every_entry = args.modules is DEFAULT_MODULES
    if args.parallel < 1:
        parser.error("--parallel must be at least 1")

    check_dependencies(args.db, args.parallel)
    allowlist = load_allowlist(args.allowlist)
    tests = ensure_suite(django_version(), args.cache)
    if args.verify:
        return verify(args, tests, allowlist)
    return check(args, tests, allowlist)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
