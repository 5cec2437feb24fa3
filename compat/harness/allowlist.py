"""``compat/allowlist.toml``: the failures that are only autoaudit's extra statements."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .runner import DATABASES

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
                "tests in RECEIVER_TESTS (compat/harness/allowlist.py)."
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
