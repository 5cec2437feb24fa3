"""The reliability test (docs/reliability.md): a randomized workload on the
real database, then a check that the log tells exactly what committed.

``test_reliability`` is the full run (fixed seed, bounded size) and prints one
``RELIABILITY {...}`` line. ``AUTOAUDIT_RELIABILITY_FAULT=drop|corrupt`` makes
it drop or corrupt one log, to see it fail. The other tests prove the
verifier sees such faults, and pin its rules on hand-written histories.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

import pytest

import autoaudit
from autoaudit.tracking import store
from tests import reliability as rel
from tests.testapp.models import Product, Tag
from tests.typing_support import Track

SEED = 12
SEQUENTIAL_OPERATIONS = 600
THREADS = 5
CONCURRENT_OPERATIONS = 200
#: The full run's fault hits the 150th committed draft (sequential phase).
FAULT_AT = 150
FAULT = os.environ.get("AUTOAUDIT_RELIABILITY_FAULT", "").strip().lower()


def _track(track: Track) -> None:
    track(Product, **rel.PRODUCT_OPTIONS)
    track(Tag)


def _verify(
    sequential: rel.Sequential, concurrent: rel.ConcurrentResult | None = None
) -> rel.Verification:
    """Every log against the rows as they are now."""
    final = rel.final_rows([Product, Tag])
    schemas = {rel.PRODUCT: rel.schema_of(Product), rel.TAG: rel.schema_of(Tag)}
    exempt = concurrent.keys if concurrent else set()
    result = rel.verify(
        rel.load_logs(),
        final,
        schemas,
        expected_events=sequential.model.events,
        exempt=exempt,
        expected_names=concurrent.names if concurrent else None,
    )
    rel.check_model(result, sequential.model.rows, final, exempt)
    for crash in concurrent.crashes if concurrent else []:
        result.add("crash", "writer thread", crash)
    return result


def _failure(
    report: dict[str, Any], violations: Sequence[rel.Violation], fault: rel.Fault | None
) -> str:
    head = ""
    if fault is not None:
        # The injected fault's own violations first.
        hit = f"{fault.hit.computed_entity}#{fault.hit.entity_pk}" if fault.hit else None
        violations = sorted(violations, key=lambda v: v.where != hit)
        head = f"AUTOAUDIT_RELIABILITY_FAULT injected {fault.describe()}\n"
    lines = [str(v) for v in violations[:25]]
    more = f"\n  ... and {len(violations) - 25} more" if len(violations) > 25 else ""
    return (
        f"{head}{len(violations)} violations ({report['violation_kinds']}, by phase "
        f"{report['violations_by_phase']}), {report['chain_breaks']} chain breaks on "
        f"{report['database']}; first:\n  " + "\n  ".join(lines) + more
    )


@pytest.mark.django_db(transaction=True)
def test_reliability(
    track: Track, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from django.db import connection

    _track(track)
    sequential = rel.Sequential(SEED, SEQUENTIAL_OPERATIONS)
    fault = None
    if FAULT:
        fault = rel.Fault(FAULT, FAULT_AT, gate=lambda: sequential.committing)
        monkeypatch.setattr(store, "write", fault.wrap(store.write))
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    sequential.run()
    seconds["sequential"] = time.perf_counter() - started
    tracked = rel.run_concurrent(seed=SEED, threads=THREADS, operations=CONCURRENT_OPERATIONS)
    seconds["concurrent_tracked"] = tracked.seconds
    started = time.perf_counter()
    verification = _verify(sequential, tracked)
    seconds["verify"] = time.perf_counter() - started
    # The same concurrent workload, nothing registered: the errors callers
    # would see without autoaudit.
    autoaudit.unregister(Product)
    autoaudit.unregister(Tag)
    untracked = rel.run_concurrent(
        seed=SEED, threads=THREADS, operations=CONCURRENT_OPERATIONS, tracked=False
    )
    seconds["concurrent_untracked"] = untracked.seconds
    report = rel.summary(
        database=connection.vendor,
        verification=verification,
        sequential=sequential,
        tracked=tracked,
        untracked=untracked,
        seconds=seconds,
        fault=fault,
    )
    with capsys.disabled():
        print(f"\nRELIABILITY {json.dumps(report, ensure_ascii=False)}")
    assert not untracked.crashes, f"the untracked run itself failed: {untracked.crashes[:3]}"
    if verification.violations or verification.chain_breaks:
        pytest.fail(_failure(report, verification.violations, fault), pytrace=False)


# -- the verifier sees faults ---------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("kind", "expected"), [("drop", "count"), ("corrupt", "chain")])
def test_the_verifier_sees_an_injected_fault(
    kind: str, expected: str, track: Track, monkeypatch: pytest.MonkeyPatch
) -> None:
    _track(track)
    sequential = rel.Sequential(SEED, 60)
    fault = rel.Fault(kind, 25, gate=lambda: sequential.committing)
    monkeypatch.setattr(store, "write", fault.wrap(store.write))
    sequential.run()
    monkeypatch.undo()
    assert fault.hit is not None, fault.describe()
    result = _verify(sequential)
    assert result.violations, f"the verifier missed the fault: {fault.describe()}"
    assert expected in result.kinds(), (fault.describe(), [str(v) for v in result.violations])
    key = f"{fault.hit.computed_entity}#{fault.hit.entity_pk}"
    assert all(v.where == key for v in result.violations), [str(v) for v in result.violations]


# -- the verifier's rules on hand-written histories ---------------------------------------
SCHEMA = {"app.Thing": rel.Schema(("name", "stock"), ("tags",))}
ROW = {"name": "b", "stock": 2, "tags": [1]}


def _log(
    id: int,
    action: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    pk: str = "1",
) -> rel.LogRecord:
    changed = list(new or {}) if action == "update" else None
    return rel.LogRecord(id, action, "app.Thing", pk, old, new, changed)


def _kinds(logs: list[rel.LogRecord], row: dict[str, Any] | None = ROW) -> dict[str, int]:
    final = {("app.Thing", "1"): row} if row is not None else {}
    return rel.verify(logs, final, SCHEMA).kinds()


GOOD = [
    _log(1, "create", new={"name": "a", "stock": 1}),
    _log(2, "update", {"name": "a"}, {"name": "b"}),
    _log(3, "update", {"tags": []}, {"tags": [1]}),
    _log(4, "update", {"stock": 1}, {"stock": 2}),
]


def test_a_true_history_passes() -> None:
    assert _kinds(GOOD) == {}
    deleted = [*GOOD, _log(5, "delete", old={"name": "b", "stock": 2})]
    assert _kinds(deleted, row=None) == {}
    # A key reused after a delete starts a new life.
    reborn = [
        *deleted,
        _log(6, "create", new={"name": "b", "stock": 2}),
        _log(7, "update", {"tags": []}, {"tags": [1]}),
    ]
    assert _kinds(reborn) == {}


@pytest.mark.parametrize(
    ("logs", "row", "kinds"),
    [
        pytest.param(GOOD[:1] + GOOD[2:], ROW, {"replay": 1}, id="a lost update"),
        pytest.param(
            [*GOOD[:3], _log(4, "update", {"stock": 5}, {"stock": 2})],
            ROW,
            {"chain": 1},
            id="a wrong old value",
        ),
        pytest.param(
            [*GOOD[:2], _log(3, "update", {"tags": [2]}, {"tags": [1]}), GOOD[3]],
            ROW,
            {"chain": 1},
            id="a wrong old M2M list",
        ),
        pytest.param(GOOD[1:], ROW, {"order": 1}, id="no create"),
        pytest.param([GOOD[0], *GOOD], ROW, {"order": 1}, id="two creates"),
        pytest.param(GOOD, None, {"missing": 1}, id="gone without a delete"),
        pytest.param(
            [
                *GOOD,
                _log(5, "delete", old={"name": "b", "stock": 2}),
                _log(6, "update", {"stock": 2}, {"stock": 3}),
            ],
            None,
            {"order": 1, "missing": 1},
            id="an update after the delete",
        ),
        pytest.param(
            [*GOOD, _log(5, "update", {"name": "b"}, {"name": "RB#7"})],
            ROW | {"name": "RB#7"},
            {"marker": 1},
            id="a rolled-back value",
        ),
        pytest.param(
            [*GOOD, _log(5, "update", {"stock": 2}, {"stock": 2})],
            ROW,
            {"shape": 1},
            id="an update that changed nothing",
        ),
    ],
)
def test_a_broken_history_is_reported(
    logs: list[rel.LogRecord], row: dict[str, Any] | None, kinds: dict[str, int]
) -> None:
    assert _kinds(logs, row) == kinds


def test_expected_events_and_names_are_counted() -> None:
    final = {("app.Thing", "1"): ROW}
    wanted = {("app.Thing", "1"): ["create", "update:name", "update:tags"]}
    result = rel.verify(GOOD, final, SCHEMA, expected_events=wanted)
    assert result.kinds() == {"count": 1}
    result = rel.verify(GOOD, final, SCHEMA, expected_names={"b": 1, "a": 0, "z": 0, "q": None})
    assert result.kinds() == {"count": 1}, [str(v) for v in result.violations]
    result = rel.verify(GOOD, final, SCHEMA, expected_names={"zz": 1})
    assert result.kinds() == {"lost": 1}
