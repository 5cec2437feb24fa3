"""Monthly partitions of ``activity_logs`` on PostgreSQL (``autoaudit_partition``).

The layout, two levels deep::

    activity_logs                    PARTITION BY LIST (actor_type)
      activity_logs_user             PARTITION BY RANGE (created_at)
        activity_logs_user_2026_11   FOR VALUES FROM ('2026-11-01') TO ('2026-12-01')
        activity_logs_user_default   DEFAULT (rows of a month with no partition yet)
      activity_logs_guest  ...  activity_logs_system  ...
      activity_logs_default          DEFAULT (an actor type autoaudit does not write)

Actor type first, month second: retention is per actor type, so each type's
expired months are a run of leaves under that type's own parent, and
dropping one locks that parent only; the other types' writes (and reads
filtered to their type) never wait for a guest drop. Months are in UTC.

The primary key of a partitioned table must contain the partition key, so it
is ``(id, actor_type, created_at)``: ``id`` alone is no longer enforced
unique by an index. The sequence still gives every row its own id, and the
Django model keeps ``id`` as its primary key; Django never needs the wider
key (a ``pk=`` lookup probes each leaf's key index, whose first column is
``id``).

Converting a plain table (the first run) is done while the site writes:

1. build the partitioned table ``activity_logs_new`` beside the old one, with
   every month from the oldest row's to ``--ahead`` months from now;
2. put a trigger on the old table that notes the id of every row inserted,
   changed or deleted from now on (creating it waits for the writes in
   flight, so none slips past both the copy and the trigger);
3. copy the old rows over in id ranges, one short transaction each (writers
   are never blocked), then build the indexes on the new table;
4. the swap, one transaction: ``LOCK TABLE activity_logs IN EXCLUSIVE MODE``
   (writes wait, reads go on), copy again the rows the trigger noted, drop
   the old table (``ACCESS EXCLUSIVE`` for a moment), rename the new table,
   its key, indexes and sequence to the old names, and move the sequence past
   every id issued. Writes wait only for this step.

Every DDL statement runs under ``lock_timeout`` and is retried, so a long
transaction holding the table makes the command wait and retry instead of
queueing every write behind it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import OperationalError, connections, transaction
from django.utils import timezone

from autoaudit.enums import ActorType

#: The suffix of the table built during a conversion (and dropped by a rerun
#: after an interrupted one).
NEW_SUFFIX = "_new"
_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")
_INDEX = re.compile(r"^CREATE (UNIQUE )?INDEX (\S+) ON (\S+) (USING .*)$")


class PartitionError(Exception):
    """A table or database the partitioning cannot work on (the message says why)."""


@dataclass(frozen=True)
class Leaf:
    """One month of one actor type (``start``/``end`` ``None``: a default partition)."""

    name: str
    actor_type: str
    start: dt.datetime | None
    end: dt.datetime | None


@dataclass
class PartitionResult:
    """What one run did."""

    converted: bool = False
    rows_copied: int = 0
    created: list[str] = field(default_factory=list)
    #: Rows moved out of a default partition into their new month.
    moved: dict[str, int] = field(default_factory=dict)


# -- months -----------------------------------------------------------------------


def month_start(when: dt.datetime) -> dt.datetime:
    """The first instant of ``when``'s month, in UTC."""
    when = when.astimezone(dt.UTC)
    return when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(start: dt.datetime, months: int) -> dt.datetime:
    """``start`` (a month's first instant) moved by ``months`` months."""
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def months(first: dt.datetime, last: dt.datetime) -> Iterator[dt.datetime]:
    """Every month start from ``first``'s month to ``last``'s, inclusive."""
    current, end = month_start(first), month_start(last)
    while current <= end:
        yield current
        current = add_months(current, 1)


# -- the catalogue --------------------------------------------------------------------


def log_table() -> str:
    from autoaudit.models import ActivityLog

    return ActivityLog._meta.db_table


def type_parent(table: str, actor_type: str) -> str:
    return f"{table}_{actor_type}"


def leaf_name(table: str, actor_type: str, start: dt.datetime) -> str:
    return f"{type_parent(table, actor_type)}_{start.year:04d}_{start.month:02d}"


def require_postgresql(alias: str) -> None:
    vendor = connections[alias].vendor
    if vendor != "postgresql":
        raise PartitionError(
            f"partitions need PostgreSQL; the database {alias!r} is {vendor} "
            "(there, autoaudit_prune deletes in batches)."
        )


def is_partitioned(alias: str, table: str | None = None) -> bool:
    """Whether ``activity_logs`` on ``alias`` is a partitioned table (PostgreSQL)."""
    if connections[alias].vendor != "postgresql":
        return False
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table or log_table()]
        )
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def _parse_bound(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def leaves(alias: str, table: str | None = None) -> list[Leaf]:
    """Every month (and default) partition under each actor type's parent."""
    table = table or log_table()
    found: list[Leaf] = []
    with connections[alias].cursor() as cursor:
        for actor_type in ActorType.values:
            cursor.execute(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s) "
                "ORDER BY 1",
                [type_parent(table, actor_type)],
            )
            for name, bound in cursor.fetchall():
                match = _BOUND.search(bound)
                if match is None:
                    found.append(Leaf(name, actor_type, None, None))
                else:
                    start, end = (_parse_bound(text) for text in match.groups())
                    found.append(Leaf(name, actor_type, start, end))
    return found


# -- DDL under a lock timeout ---------------------------------------------------------


Step = Callable[[Any], None]


def locked_steps(
    alias: str, lock_timeout: float, attempts: int, sleep: Callable[[float], None] = time.sleep
) -> Callable[[Step], None]:
    """A runner of steps each in its own transaction with ``lock_timeout`` seconds to
    get its locks, retrying a step whose lock was not granted (up to
    ``attempts`` times, waiting a little longer each time)."""

    def run(step: Step) -> None:
        for attempt in range(1, attempts + 1):
            try:
                with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout * 1000)}ms'")
                    cursor.execute("SET LOCAL TimeZone = 'UTC'")
                    step(cursor)
                return
            except OperationalError as exc:
                if getattr(exc.__cause__, "sqlstate", None) != "55P03" or attempt == attempts:
                    raise
                sleep(min(0.5 * attempt, 5.0))

    return run


def _quote(alias: str, name: str) -> str:
    return connections[alias].ops.quote_name(name)


# -- making sure the months exist ------------------------------------------------------


def _create_leaf(
    alias: str, table: str, actor_type: str, start: dt.datetime, moved: list[int]
) -> Step:
    """A step creating one month under ``actor_type``, moving in the rows its
    default partition holds for that month (their number goes to ``moved``)."""
    q = connections[alias].ops.quote_name
    parent = type_parent(table, actor_type)
    name = leaf_name(table, actor_type, start)
    default = f"{parent}_default"
    end = add_months(start, 1)

    def step(cursor: Any) -> None:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {q(default)} WHERE created_at >= %s "
            "AND created_at < %s)",
            [start, end],
        )
        has_rows = cursor.fetchone()[0]
        cursor.execute(f"CREATE TABLE {q(name)} (LIKE {q(parent)})")
        if has_rows:
            # Keep new rows of that month out of the default until attached.
            cursor.execute(f"LOCK TABLE {q(default)} IN ACCESS EXCLUSIVE MODE")
            cursor.execute(
                f"WITH gone AS (DELETE FROM {q(default)} WHERE created_at >= %s "
                f"AND created_at < %s RETURNING *) INSERT INTO {q(name)} SELECT * FROM gone",
                [start, end],
            )
            moved.append(cursor.rowcount)
        # ATTACH takes SHARE UPDATE EXCLUSIVE on the parent (writes go on) and
        # scans the default partition (empty unless rows came early or late).
        cursor.execute(
            f"ALTER TABLE {q(parent)} ATTACH PARTITION {q(name)} FOR VALUES FROM (%s) TO (%s)",
            [start, end],
        )

    return step


def _default_months(alias: str, table: str, actor_type: str) -> list[dt.datetime]:
    default = f"{type_parent(table, actor_type)}_default"
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC') "
            f"FROM {_quote(alias, default)}"
        )
        return [row[0].replace(tzinfo=dt.UTC) for row in cursor.fetchall()]


def ensure_months(
    alias: str,
    run: Callable[[Step], None],
    *,
    table: str,
    wanted: list[dt.datetime],
    result: PartitionResult,
) -> None:
    """Create the months of ``wanted`` (and those the default partitions hold
    rows for) that do not exist yet, for every actor type."""
    existing = {leaf.name for leaf in leaves(alias, table)}
    for actor_type in ActorType.values:
        needed = sorted({*wanted, *_default_months(alias, table, actor_type)})
        for start in needed:
            name = leaf_name(table, actor_type, start)
            if name in existing:
                continue
            moved: list[int] = []
            run(_create_leaf(alias, table, actor_type, start, moved))
            result.created.append(name)
            if moved:
                result.moved[name] = moved[0]


# -- converting a plain table -----------------------------------------------------------


def _old_indexes(cursor: Any, table: str) -> list[tuple[str, str]]:
    """``(name, definition)`` of the plain table's indexes, less its primary key
    (a definition is ``[UNIQUE ]USING ...``). A unique index is kept only if
    it holds both partition keys (``actor_type``, ``created_at``), as
    PostgreSQL requires of a unique index on a partitioned table (migration
    0006's ``uniq_actlog_write`` does)."""
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass(%s) "
        "AND NOT i.indisprimary ORDER BY 1",
        [table],
    )
    found = []
    for name, definition in cursor.fetchall():
        match = _INDEX.match(definition)
        using = match.group(4) if match is not None else ""
        columns = set(re.findall(r"\w+", using.partition("(")[2]))
        if match is None or (match.group(1) and not {"actor_type", "created_at"} <= columns):
            raise PartitionError(
                f"the index {name} ({definition}) cannot be rebuilt on a partitioned "
                "table: a unique index there must contain actor_type and created_at."
            )
        found.append((name, f"{match.group(1) or ''}{using}"))
    return found


def convert(
    alias: str,
    run: Callable[[Step], None],
    *,
    table: str,
    first_months: list[dt.datetime],
    batch_size: int,
    result: PartitionResult,
    progress: Callable[[str], None],
) -> None:
    """Turn the plain ``table`` into the partitioned layout (see the module docstring)."""
    q = connections[alias].ops.quote_name
    new = f"{table}{NEW_SUFFIX}"
    changes, note = f"{table}_conversion_changes", f"{table}_conversion_note"
    sequence = f"{new}_id_seq"
    connection = connections[alias]
    with connection.cursor() as cursor:
        indexes = _old_indexes(cursor, table)
        cursor.execute(f"SELECT min(created_at) FROM {q(table)}")
        oldest = cursor.fetchone()[0]
    span = list(months(oldest, first_months[0])) if oldest else []
    wanted = sorted({*span, *first_months})

    def build(cursor: Any) -> None:
        # An interrupted earlier run leaves these behind; they are ours.
        cursor.execute(f"DROP TABLE IF EXISTS {q(new)} CASCADE")
        cursor.execute(f"DROP TABLE IF EXISTS {q(changes)}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {q(note)}() CASCADE")
        cursor.execute(
            f"CREATE TABLE {q(new)} (LIKE {q(table)} INCLUDING DEFAULTS) "
            "PARTITION BY LIST (actor_type)"
        )
        cursor.execute(f"CREATE SEQUENCE {q(sequence)} OWNED BY {q(new)}.id")
        cursor.execute(f"ALTER TABLE {q(new)} ALTER COLUMN id SET DEFAULT nextval('{sequence}')")
        cursor.execute(f"ALTER TABLE {q(new)} ADD PRIMARY KEY (id, actor_type, created_at)")
        for actor_type in ActorType.values:
            parent = type_parent(table, actor_type)
            cursor.execute(
                f"CREATE TABLE {q(parent)} PARTITION OF {q(new)} FOR VALUES IN (%s) "
                "PARTITION BY RANGE (created_at)",
                [actor_type],
            )
            cursor.execute(
                f"CREATE TABLE {q(parent + '_default')} PARTITION OF {q(parent)} DEFAULT"
            )
            for start in wanted:
                cursor.execute(
                    f"CREATE TABLE {q(leaf_name(table, actor_type, start))} PARTITION OF "
                    f"{q(parent)} FOR VALUES FROM (%s) TO (%s)",
                    [start, add_months(start, 1)],
                )
        cursor.execute(f"CREATE TABLE {q(table + '_default')} PARTITION OF {q(new)} DEFAULT")
        cursor.execute(f"CREATE TABLE {q(changes)} (id bigint NOT NULL)")
        cursor.execute(
            f"CREATE FUNCTION {q(note)}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"INSERT INTO {q(changes)} VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id "
            "ELSE NEW.id END); RETURN NULL; END $$"
        )
        # Waits for the writes in flight (SHARE ROW EXCLUSIVE): every row
        # committed later is noted, every row committed before is copied.
        cursor.execute(
            f"CREATE TRIGGER {q(note)} AFTER INSERT OR UPDATE OR DELETE ON {q(table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {q(note)}()"
        )

    run(build)
    result.created.extend(leaf_name(table, t, start) for t in ActorType.values for start in wanted)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {q(table)}")
        low, high = cursor.fetchone()
    copied = 0
    if low is not None:
        for first in range(low, high + 1, batch_size):
            with transaction.atomic(using=alias), connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {q(new)} SELECT * FROM {q(table)} WHERE id >= %s AND id < %s",
                    [first, first + batch_size],
                )
                copied += cursor.rowcount
            progress(f"copied {copied} rows (ids up to {min(first + batch_size - 1, high)})")
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        for name, definition in indexes:
            unique, _, using = definition.rpartition("USING ")
            cursor.execute(f"CREATE {unique}INDEX {q(name + NEW_SUFFIX)} ON {q(new)} USING {using}")
    progress(f"built {len(indexes)} indexes")

    def swap(cursor: Any) -> None:
        cursor.execute(f"LOCK TABLE {q(table)} IN EXCLUSIVE MODE")
        noted = f"SELECT DISTINCT id FROM {q(changes)}"
        cursor.execute(f"DELETE FROM {q(new)} WHERE id IN ({noted})")
        cursor.execute(
            f"INSERT INTO {q(new)} SELECT * FROM {q(table)} WHERE id IN ({noted}) OR id > %s",
            [high or 0],
        )
        result.rows_copied = copied + max(cursor.rowcount, 0)
        cursor.execute(
            "SELECT GREATEST(COALESCE(pg_sequence_last_value("
            "pg_get_serial_sequence(%s, 'id')::regclass), 0), "
            f"COALESCE((SELECT max(id) FROM {q(table)}), 0))",
            [q(table)],
        )
        issued = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {q(table)}")
        cursor.execute(f"DROP TABLE {q(changes)}")
        cursor.execute(f"DROP FUNCTION {q(note)}()")
        cursor.execute(f"ALTER TABLE {q(new)} RENAME TO {q(table)}")
        cursor.execute(f"ALTER SEQUENCE {q(sequence)} RENAME TO {q(table + '_id_seq')}")
        cursor.execute(
            f"ALTER TABLE {q(table)} RENAME CONSTRAINT {q(new + '_pkey')} TO {q(table + '_pkey')}"
        )
        for name, _using in indexes:
            cursor.execute(f"ALTER INDEX {q(name + NEW_SUFFIX)} RENAME TO {q(name)}")
        if issued:
            cursor.execute(f"SELECT setval('{table}_id_seq', %s)", [issued])

    run(swap)
    result.converted = True


# -- the command's entry point ------------------------------------------------------------


def partition(
    alias: str,
    *,
    ahead: int = 3,
    now: dt.datetime | None = None,
    batch_size: int = 50_000,
    lock_timeout: float = 2.0,
    attempts: int = 10,
    progress: Callable[[str], None] = lambda message: None,
) -> PartitionResult:
    """Partition ``activity_logs`` on ``alias`` (converting a plain table), and
    create the months from this one to ``ahead`` months from now. Running it
    again creates only what is missing."""
    require_postgresql(alias)
    if ahead < 0:
        raise PartitionError(f"ahead must be 0 or more months, not {ahead}.")
    table = log_table()
    start = month_start(now or timezone.now())
    wanted = [add_months(start, n) for n in range(ahead + 1)]
    result = PartitionResult()
    run = locked_steps(alias, lock_timeout, attempts)
    if not is_partitioned(alias, table):
        convert(
            alias,
            run,
            table=table,
            first_months=wanted,
            batch_size=batch_size,
            result=result,
            progress=progress,
        )
    ensure_months(alias, run, table=table, wanted=wanted, result=result)
    return result


def drop_leaf(alias: str, leaf: Leaf, *, lock_timeout: float = 2.0, attempts: int = 10) -> None:
    """Drop one month partition (``ACCESS EXCLUSIVE`` on its actor type's parent,
    for a moment, under ``lock_timeout``)."""
    run = locked_steps(alias, lock_timeout, attempts)
    run(lambda cursor: cursor.execute(f"DROP TABLE {_quote(alias, leaf.name)}"))


def leaf_ids(alias: str, name: str, upto: int | None) -> list[int]:
    """The ids of partition ``name``'s rows up to ``upto`` (none if ``None``)."""
    if upto is None:
        return []
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT id FROM {_quote(alias, name)} WHERE id <= %s", [upto])
        return [int(row[0]) for row in cursor.fetchall()]


def count_rows(alias: str, name: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {_quote(alias, name)}")
        return int(cursor.fetchone()[0])
