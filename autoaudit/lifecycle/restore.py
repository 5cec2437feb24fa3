"""Load an archive back into ``activity_logs`` (``autoaudit_restore``).

The file is read twice: first it is verified from end to end (gzip
integrity, signature, every record checked by
:mod:`autoaudit.lifecycle.records`), then it is loaded in one transaction
and checked again on the way, so a file changed in between rolls
everything back. A corrupt, forged or invalid file loads nothing, and so
does a database error.

Rows keep their ids, and rows whose id is already present are skipped,
which makes restoring the same archive twice harmless. An id may not be
above the table's *high-water mark* (the larger of its id sequence and its
highest id) plus the archive's row count: an archive of this table never
holds one (its ids were issued by that sequence, which never goes back),
while a forged one could push the sequence to its end and make every later
insert fail. ``renumber`` gives every row a new id instead (for an archive
of another database; restoring twice then loads the rows twice). On
PostgreSQL the sequence is moved past the archive's ids *before* loading,
never backwards; SQLite's ``AUTOINCREMENT`` and MySQL's ``AUTO_INCREMENT``
move past an inserted id by themselves.

A ``user_id`` is kept as archived when that user exists: the signature is
what proves the row was written by this installation (or one holding its
archive key). A row whose user no longer exists is restored with no user.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connections, transaction
from django.db.models import Max
from django.db.models.sql.subqueries import InsertQuery

from autoaudit.lifecycle.archive import ArchiveError, ArchiveInfo, ArchiveReader, verify_archive
from autoaudit.lifecycle.selection import effective_batch_size, log_alias

if TYPE_CHECKING:
    from autoaudit.models import ActivityLog

#: Rows inserted per ``INSERT`` while restoring.
RESTORE_BATCH_SIZE = 1000


@dataclass
class RestoreResult:
    """What restoring an archive did (or, in a dry run, would do)."""

    path: Path
    rows: int = 0
    inserted: int = 0
    present: int = 0
    #: Present ids whose stored row has another ``created_at``: a different
    #: row now uses the id (the archive's row is not restored).
    conflicts: int = 0
    #: Rows whose user no longer exists (restored with ``user_id`` NULL).
    users_missing: int = 0
    #: False for an unsigned archive restored on the caller's word.
    signed: bool = True


def _batches(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _to_log(values: dict[str, Any], users: set[str], renumber: bool) -> ActivityLog:
    from autoaudit.models import ActivityLog

    values = dict(values)
    created = values.pop("created_at")
    user_id = values.get("user_id")
    if user_id is not None and str(user_id) not in users:
        values["user_id"] = None
    if renumber:
        values["id"] = None
    log = ActivityLog(**values)
    log.created_at = created  # after __init__: auto_now_add leaves it alone
    return log


def _existing_users(records: list[dict[str, Any]], alias: str) -> set[str]:
    wanted = {r["user_id"] for r in records if r.get("user_id") is not None}
    if not wanted:
        return set()
    manager = get_user_model()._default_manager.using(alias)
    return {str(pk) for pk in manager.filter(pk__in=wanted).values_list("pk", flat=True)}


@dataclass
class _Load:
    """One restore under way."""

    result: RestoreResult
    alias: str
    dry_run: bool
    #: The highest id a row may have; ``None`` when renumbering.
    ceiling: int | None

    def batch(self, batch: list[dict[str, Any]]) -> None:
        from autoaudit.models import ActivityLog

        result = self.result
        new = batch
        if self.ceiling is not None:
            manager = ActivityLog.objects.using(self.alias)
            ids = [record["id"] for record in batch]
            stored = dict(manager.filter(id__in=ids).order_by().values_list("id", "created_at"))
            new = []
            for record in batch:
                if record["id"] > self.ceiling:
                    raise ArchiveError(
                        f"{result.path}: id {record['id']} is above {self.ceiling}; the "
                        "file changed while it was being restored."
                    )
                if record["id"] in stored:
                    result.present += 1
                    if stored[record["id"]] != record["created_at"]:
                        result.conflicts += 1
                else:
                    new.append(record)
        users = _existing_users(new, self.alias)
        logs = [_to_log(record, users, self.ceiling is None) for record in new]
        result.users_missing += sum(
            1 for log, record in zip(logs, new, strict=True) if log.user_id != record["user_id"]
        )
        if not self.dry_run and logs:
            _insert_raw(logs, self.alias, with_ids=self.ceiling is not None)
        result.inserted += len(logs)


def _insert_raw(logs: list[ActivityLog], alias: str, *, with_ids: bool) -> None:
    """Multi-row ``INSERT``s of the rows exactly as archived (ids too, unless
    renumbering).

    ``bulk_create()`` would stamp ``created_at`` (``auto_now_add``) with the
    current time; a *raw* insert, the kind ``loaddata`` does, stores the
    values as given.
    """
    from autoaudit.models import ActivityLog

    fields = [f for f in ActivityLog._meta.concrete_fields if with_ids or not f.primary_key]
    size = connections[alias].ops.bulk_batch_size(fields, logs) or len(logs)
    for start in range(0, len(logs), size):
        query = InsertQuery(ActivityLog)
        query.insert_values(fields, list(logs[start : start + size]), raw=True)
        query.get_compiler(using=alias).execute_sql()


def restore_archive(
    path: Path,
    *,
    dry_run: bool = False,
    batch_size: int = RESTORE_BATCH_SIZE,
    renumber: bool = False,
    trust_unsigned: bool = False,
) -> RestoreResult:
    """Verify ``path`` and load its rows (those whose id is not present yet,
    or all of them under new ids with ``renumber``).

    ``trust_unsigned`` accepts an archive of the unsigned first format.
    Raises :class:`~autoaudit.lifecycle.archive.ArchiveError` for a corrupt,
    unsigned, forged or invalid file or a failed load; either way nothing
    is written.
    """
    info = verify_archive(path, trust_unsigned=trust_unsigned)
    alias = log_alias()
    size = effective_batch_size(batch_size, alias)
    result = RestoreResult(path=path, rows=info.rows, signed=info.signed)
    try:
        with transaction.atomic(using=alias):
            ceiling = None if renumber else _ceiling(info, alias)
            if ceiling is not None and info.max_id and not dry_run:
                _advance_sequence(alias, info.max_id)
            load = _Load(result, alias, dry_run, ceiling)
            for batch in _batches(ArchiveReader(path, trust_unsigned=trust_unsigned), size):
                load.batch(batch)
    except (DatabaseError, TypeError, ValueError) as exc:
        raise ArchiveError(f"loading {path} failed, nothing was restored: {exc}") from exc
    return result


def _ceiling(info: ArchiveInfo, alias: str) -> int:
    """The highest id the archive may hold: the high-water mark plus its rows."""
    high = high_water_mark(alias)
    ceiling = high + info.rows
    if info.max_id > ceiling:
        raise ArchiveError(
            f"{info.path} holds id {info.max_id}, which this table never issued: its "
            f"ids reach {high}, and {info.rows} archived rows allow ids up to {ceiling}. "
            "Loading it would move the id sequence to that id. If the archive comes "
            "from another database, restore it with --renumber (new ids)."
        )
    return ceiling


def high_water_mark(alias: str) -> int:
    """The highest id ``activity_logs`` has issued: its id sequence's
    position or its largest id, whichever is higher (0 for neither)."""
    from autoaudit.models import ActivityLog

    largest = ActivityLog.objects.using(alias).aggregate(largest=Max("pk"))["largest"] or 0
    connection = connections[alias]
    table = ActivityLog._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, %s)::regclass)",
                [connection.ops.quote_name(table), ActivityLog._meta.pk.column],
            )
        elif connection.vendor == "mysql":
            # The next AUTO_INCREMENT value (MySQL 8 may report it up to
            # information_schema_stats_expiry late; the largest id still counts).
            cursor.execute(
                "SELECT AUTO_INCREMENT - 1 FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                [table],
            )
        elif connection.vendor == "sqlite" and _has_sqlite_sequence(cursor):
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        else:
            return largest
        row = cursor.fetchone()
    return max(largest, int(row[0]) if row and row[0] is not None else 0)


def _has_sqlite_sequence(cursor: Any) -> bool:
    cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'")
    return cursor.fetchone() is not None


def _advance_sequence(alias: str, highest: int) -> None:
    """Move PostgreSQL's id sequence to ``highest`` unless it is past it
    already (never backwards: ids of deleted rows are not issued again)."""
    from autoaudit.models import ActivityLog

    connection = connections[alias]
    if connection.vendor != "postgresql":
        return
    sequence = "pg_get_serial_sequence(%s, %s)"
    args = [connection.ops.quote_name(ActivityLog._meta.db_table), ActivityLog._meta.pk.column]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval({sequence}, GREATEST(%s, COALESCE("
            f"pg_sequence_last_value({sequence}::regclass), 0)))",
            [*args, highest, *args],
        )
