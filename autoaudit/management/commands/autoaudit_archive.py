"""``manage.py autoaudit_archive --older-than DAYS``: move old logs to a file."""

from __future__ import annotations

import datetime as dt
from array import array
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from autoaudit.conf import get_settings
from autoaudit.lifecycle.archive import ArchiveError, write_archive
from autoaudit.lifecycle.export import FIELDS
from autoaudit.lifecycle.selection import (
    DEFAULT_CHUNK_SIZE,
    delete_ids,
    effective_batch_size,
    iter_pages,
    log_alias,
    non_negative_int,
    plain_style,
    positive_int,
    read_alias,
)
from autoaudit.tracking import selfaudit


class Command(BaseCommand):
    help = (
        "Write logs older than DAYS to a gzip JSON Lines file named by their date "
        "range, verify it, print its path, then delete those rows in batches. If the "
        "file cannot be written and verified, nothing is deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            metavar="DAYS",
            type=non_negative_int,
            required=True,
            help="Archive logs created more than DAYS days ago.",
        )
        parser.add_argument(
            "--output-dir",
            metavar="DIR",
            help="Directory for the archive (default: the ARCHIVE_DIR setting, "
            "else the current directory). It must exist.",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            help="Rows deleted per transaction (default: the PRUNE_BATCH_SIZE setting).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from autoaudit.models import ActivityLog

        self.verbosity: int = options["verbosity"]
        settings = get_settings()
        directory = Path(options["output_dir"] or settings.ARCHIVE_DIR or Path.cwd())
        days: int = options["older_than"]
        cutoff = timezone.now() - dt.timedelta(days=days)
        # Chosen on the replica (rows this old are there whatever its lag),
        # deleted on the log database by id.
        queryset = ActivityLog.objects.using(read_alias()).filter(created_at__lt=cutoff)
        if not queryset.exists():
            self._say(f"Nothing to archive: no logs older than {days} days.")
            return
        ids: array[int] = array("q")
        try:
            info = write_archive(iter_pages(queryset, FIELDS, DEFAULT_CHUNK_SIZE), directory, ids)
        except ArchiveError as exc:
            raise CommandError(f"{exc} Nothing was deleted.") from None
        self.stdout.write(str(info.path))
        self._say(
            f"Archived {info.rows} rows ({info.first} .. {info.last}); "
            f"verified {info.rows} rows, sha256 {info.sha256}."
        )
        deleted = self._delete(queryset, ids, options["batch_size"] or settings.PRUNE_BATCH_SIZE)
        self._say(f"Deleted {deleted} archived rows.")
        # The audit of the audit log: the rows were read (and moved) here.
        selfaudit.log_read(
            "archive",
            name=info.path.name,
            extra={"rows": info.rows, "first": info.first, "last": info.last},
            rate_limited=False,
            using=log_alias(),
        )

    def _delete(self, queryset: Any, ids: array[int], batch_size: int) -> int:
        from autoaudit.models import SealEvent

        alias = log_alias()
        size = effective_batch_size(batch_size, alias)
        deleted = 0
        for start in range(0, len(ids), size):
            deleted += delete_ids(
                queryset, ids[start : start + size].tolist(), alias, kind=SealEvent.Kind.ARCHIVED
            )
        return deleted

    def _say(self, message: str) -> None:
        # The path alone goes to stdout (for scripts); the rest to stderr.
        if self.verbosity > 0:
            self.stderr.write(message, style_func=plain_style)
