"""``manage.py autoaudit_prune``: delete logs past their retention period."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from autoaudit.conf import get_settings
from autoaudit.lifecycle.retention import prune
from autoaudit.lifecycle.selection import positive_int


class Command(BaseCommand):
    help = (
        "Delete logs older than RETENTION_DAYS for their actor type (user, guest, "
        "system), in batches; on a partitioned table (autoaudit_partition), drop "
        "whole expired months first. Safe to run from cron while the site writes logs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count the rows that would be deleted."
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            help="Rows deleted per transaction (default: the PRUNE_BATCH_SIZE setting).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        retention = get_settings().RETENTION_DAYS
        result = prune(dry_run=dry_run, batch_size=options["batch_size"])
        verb = "would delete" if dry_run else "deleted"
        for actor_type, rows in result.rows.items():
            cutoff = result.cutoffs[actor_type].isoformat(timespec="seconds")
            self.stdout.write(
                f"{actor_type}: {verb} {rows} rows older than {retention[actor_type]} days "
                f"(before {cutoff})."
            )
            dropped = result.dropped.get(actor_type)
            if dropped:
                self.stdout.write(
                    f"{actor_type}: {'would drop' if dry_run else 'dropped'} "
                    f"{len(dropped)} month partition(s): {', '.join(dropped)}."
                )
        for actor_type in result.kept_forever:
            self.stdout.write(f"{actor_type}: kept forever (RETENTION_DAYS is None).")
        if dry_run:
            self.stdout.write(f"Dry run: {result.total} rows would be deleted.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Pruned {result.total} rows."))
