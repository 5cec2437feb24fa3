"""The rules of compat/run.py's allow-list and of ``--verify``'s statement check.

Django's suite itself runs in CI (``compat/run.py``); these tests pin what the
harness accepts as "only autoaudit's extra statements" and which entries it
refuses, so a loosened rule shows up here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compat.harness.allowlist import RECEIVER_TESTS, Allowed, load_allowlist
from compat.harness.report import classify
from compat.harness.verify import extra_statements, shape, shapes

REASON = "autoaudit's extra statements: 1 log insert"
ENTRY = 'test = "{test}"\ndatabases = {dbs}\nreason = "' + REASON + '"\n'


def write(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "allowlist.toml"
    path.write_text("".join(f"[[allow]]\n{entry}\n" for entry in entries))
    return path


def entry(test: str = "basic.tests.T.test_a", dbs: str = '["sqlite"]', extra: str = "") -> str:
    return ENTRY.format(test=test, dbs=dbs) + extra


def test_a_valid_allowlist_loads(tmp_path: Path) -> None:
    loaded = load_allowlist(write(tmp_path, entry(), entry("basic.tests.T.test_b", '["postgres"]')))
    assert loaded == [
        Allowed("basic.tests.T.test_a", frozenset({"sqlite"}), REASON),
        Allowed("basic.tests.T.test_b", frozenset({"postgres"}), REASON),
    ]
    assert load_allowlist(tmp_path / "missing.toml") == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (entry(dbs='["oracle"]'), "`databases` must list some of"),
        (entry(dbs="[]"), "`databases` must list some of"),
        (entry(test="two tests"), "`test` must be one test id"),
        ('test = "a.b"\ndatabases = ["sqlite"]\nreason = " "\n', "`reason` is required"),
        (entry(extra='kind = "flaky"\n'), "`kind` must be one of"),
        (entry(extra='kind = "receiver"\n'), "reserved for the reviewed tests"),
        (entry(extra='note = "x"\n'), "unknown key(s) ['note']"),
    ],
)
def test_bad_entries_are_refused_with_their_reason(tmp_path: Path, raw: str, message: str) -> None:
    with pytest.raises(SystemExit) as caught:
        load_allowlist(write(tmp_path, raw))
    assert message in str(caught.value)


def test_an_entry_twice_for_one_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="listed twice for sqlite"):
        load_allowlist(write(tmp_path, entry(dbs='["sqlite", "postgres"]'), entry()))


def test_receiver_kind_only_for_the_reviewed_tests(tmp_path: Path) -> None:
    test = sorted(RECEIVER_TESTS)[0]
    (loaded,) = load_allowlist(write(tmp_path, entry(test=test, extra='kind = "receiver"\n')))
    assert loaded.kind == "receiver"


def test_shape_hides_literals_only() -> None:
    first = shape("UPDATE \"t\" SET \"n\" = 'a''b', x = 12 WHERE id IN (1, 2,3)")
    second = shape('UPDATE "t" SET "n" = \'zz\', x = -4.5 WHERE id IN (7)')
    assert first == second == 'UPDATE "t" SET "n" = ?, x = ? WHERE id IN (?)'
    assert shape('SAVEPOINT "s140_x3"') == shape('SAVEPOINT "s9_x1"')
    assert shape("BEGIN IMMEDIATE") == "BEGIN"
    assert shape('SELECT "a" FROM t') != shape('SELECT "b" FROM t')


def test_shape_treats_autoaudits_returning_as_djangos_statement() -> None:
    delete = 'DELETE FROM "t" WHERE "t"."id" IN (1, 2)'
    assert shape(delete + ' RETURNING "id", "name"') == shape(delete)
    for insert in (
        'INSERT OR IGNORE INTO "t" ("a") VALUES (1)',
        "INSERT IGNORE INTO t (a) VALUES (1)",
        'INSERT INTO "t" ("a") VALUES (1) ON CONFLICT DO NOTHING',
    ):
        assert shape(insert + ' RETURNING "id", "a"') == shape(insert)
    # Django's own RETURNING of other inserts and of updates stays as it is.
    plain = 'INSERT INTO "t" ("a") VALUES (1) RETURNING "t"."id"'
    assert shape(plain) != shape('INSERT INTO "t" ("a") VALUES (1)')
    update = 'UPDATE "t" SET "a" = 1 RETURNING "t"."b"'
    assert shape(update) != shape('UPDATE "t" SET "a" = 1')


def test_shapes_split_autoaudits_combined_statement() -> None:
    """PostgreSQL's one statement per save or lone delete: Django's own, then
    the log insert."""
    log = 'INSERT INTO "activity_logs" ("action") VALUES (\'create\')'
    insert = 'INSERT INTO "t" ("a") VALUES (1) RETURNING "t"."id"'
    combined = f"WITH aa_row AS ({insert}), aa_log AS ({log}) SELECT * FROM aa_row"
    assert shapes(combined) == [shape(insert), shape(log)]
    update = 'UPDATE "t" SET "a" = 2 WHERE "t"."id" = 5'
    guard = (
        ' AND "t"."a"::text COLLATE "C" = (CAST(1 AS numeric(12, 2)))::text COLLATE "C"'
        ' AND ("t"."n" IS NULL) AND ("t"."j" IS NULL OR "t"."j" = \'null\'::jsonb)'
        ' AND "t"."d"::text COLLATE "C" = '
        "(CAST('x'::timestamptz AS timestamp with time zone))::text COLLATE \"C\""
    )
    guarded = (
        f"WITH aa_row AS ({update}{guard} RETURNING 1), aa_log AS ({log}) SELECT * FROM aa_row"
    )
    assert shapes(guarded) == [shape(update), shape(log)]
    assert shapes(update + guard) == [shape(update)]  # guarded, nothing to log
    returning = f'{update}{guard} RETURNING "t"."b"'
    assert shapes(returning) == [shape(update + ' RETURNING "t"."b"')]
    delete = 'DELETE FROM "t" WHERE "t"."id" IN (5)'
    guarded_delete = (
        f"WITH aa_row AS ({delete}{guard} RETURNING 1), aa_log AS ({log}) SELECT * FROM aa_row"
    )
    assert shapes(guarded_delete) == [shape(delete), shape(log)]
    assert shapes('SELECT 1 FROM "t" WHERE "a" IS NOT DISTINCT FROM 1') == [
        shape('SELECT 1 FROM "t" WHERE "a" IS NOT DISTINCT FROM 1')
    ]


def test_extra_statements_are_what_autoaudit_added_in_order() -> None:
    base = ["SELECT", "UPDATE"]
    assert extra_statements(base, ["SELECT", "LOCK", "UPDATE", "INSERT log"]) == [
        "LOCK",
        "INSERT log",
    ]
    assert extra_statements(base, base) == []
    # A statement of Django's that is missing, changed or reordered is no "extra".
    assert extra_statements(base, ["UPDATE", "SELECT"]) is None
    assert extra_statements(base, ["SELECT", "UPDATE other"]) is None


def test_classify_separates_allowed_real_and_stale() -> None:
    allowlist = [
        Allowed("m.T.test_allowed", frozenset({"sqlite"}), "r"),
        Allowed("m.T.test_fixed", frozenset({"sqlite"}), "r"),
        Allowed("m.T.test_not_run", frozenset({"sqlite"}), "r"),
        Allowed("m.T.test_real", frozenset({"postgres"}), "r"),
    ]
    data = {
        "problems": [{"id": "m.T.test_allowed"}, {"id": "m.T.test_real"}],
        "ran": ["m.T.test_allowed", "m.T.test_real", "m.T.test_fixed"],
    }
    verdict = classify(data, allowlist, "sqlite", baseline=False)
    assert verdict == {
        "failing": ["m.T.test_allowed", "m.T.test_real"],
        "allowed": ["m.T.test_allowed"],
        "real": ["m.T.test_real"],
        "stale": ["m.T.test_fixed"],
        "not_run": ["m.T.test_not_run"],
    }
    # Without autoaudit nothing is allow-listed.
    assert classify(data, allowlist, "sqlite", baseline=True)["real"] == verdict["failing"]
