"""Load an archive back into ``activity_logs`` (``autoaudit_restore``).

The file is read twice: first it is verified from end to end (gzip
integrity, every line, row count and checksum), then it is loaded in one
transaction, so a corrupt file loads nothing and a database error rolls
everything back. Rows whose ``id`` is already present are skipped, which
makes restoring the same archive twice harmless.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import DatabaseError, connections, transaction
from django.db.models.sql.subqueries import InsertQuery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from autoaudit.lifecycle.archive import ArchiveError, ArchiveReader, verify_archive
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


def _batches(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and not settings.USE_TZ and timezone.is_aware(parsed):
        parsed = timezone.make_naive(parsed)
    elif parsed is not None and settings.USE_TZ and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _to_log(record: dict[str, Any], users: set[str]) -> ActivityLog:
    from autoaudit.models import ActivityLog

    values = dict(record)
    created = _when(values.pop("created_at", None))
    if created is None:
        raise ArchiveError(f"row {record['id']}: 'created_at' is not an ISO 8601 datetime.")
    user_id = values.get("user_id")
    if user_id is not None and str(user_id) not in users:
        values["user_id"] = None
    log = ActivityLog(**values)
    log.created_at = created
    return log


def _existing_users(records: list[dict[str, Any]], alias: str) -> set[str]:
    wanted = {r["user_id"] for r in records if r.get("user_id") is not None}
    if not wanted:
        return set()
    manager = get_user_model()._default_manager.using(alias)
    return {str(pk) for pk in manager.filter(pk__in=wanted).values_list("pk", flat=True)}


def _load_batch(batch: list[dict[str, Any]], result: RestoreResult, alias: str, dry: bool) -> None:
    from autoaudit.models import ActivityLog

    manager = ActivityLog.objects.using(alias)
    ids = [record["id"] for record in batch]
    stored = dict(manager.filter(id__in=ids).order_by().values_list("id", "created_at"))
    new = []
    for record in batch:
        if record["id"] in stored:
            result.present += 1
            if stored[record["id"]] != _when(record.get("created_at")):
                result.conflicts += 1
        else:
            new.append(record)
    users = _existing_users(new, alias)
    logs = [_to_log(record, users) for record in new]
    result.users_missing += sum(
        1 for log, record in zip(logs, new, strict=True) if log.user_id != record.get("user_id")
    )
    if not dry and logs:
        _insert_raw(logs, alias)
    result.inserted += len(logs)


def _insert_raw(logs: list[ActivityLog], alias: str) -> None:
    """Multi-row ``INSERT``s of the rows exactly as archived.

    ``bulk_create()`` would stamp ``created_at`` (``auto_now_add``) with the
    current time; a *raw* insert, the kind ``loaddata`` does, stores the
    values as given, ids included.
    """
    from autoaudit.models import ActivityLog

    fields = list(ActivityLog._meta.concrete_fields)
    size = connections[alias].ops.bulk_batch_size(fields, logs) or len(logs)
    for start in range(0, len(logs), size):
        query = InsertQuery(ActivityLog)
        query.insert_values(fields, list(logs[start : start + size]), raw=True)
        query.get_compiler(using=alias).execute_sql()


def restore_archive(
    path: Path, *, dry_run: bool = False, batch_size: int = RESTORE_BATCH_SIZE
) -> RestoreResult:
    """Verify ``path`` and load its rows (those whose id is not present yet).

    Raises :class:`~autoaudit.lifecycle.archive.ArchiveError` for a corrupt file or a
    failed load; either way nothing is written.
    """
    info = verify_archive(path)
    alias = log_alias()
    size = effective_batch_size(batch_size, alias)
    result = RestoreResult(path=path, rows=info.rows)
    try:
        with transaction.atomic(using=alias):
            for batch in _batches(ArchiveReader(path), size):
                _load_batch(batch, result, alias, dry_run)
            if result.inserted and not dry_run:
                _reset_sequence(alias)
    except (DatabaseError, TypeError, ValueError) as exc:
        raise ArchiveError(f"loading {path} failed, nothing was restored: {exc}") from exc
    return result


def _reset_sequence(alias: str) -> None:
    """Move the id sequence past the restored ids (PostgreSQL needs this)."""
    from autoaudit.models import ActivityLog

    connection = connections[alias]
    statements = connection.ops.sequence_reset_sql(no_style(), [ActivityLog])
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
