"""``manage.py autoaudit_partition``: monthly partitions per actor type (PostgreSQL)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from autoaudit.lifecycle.partitions import PartitionError, partition
from autoaudit.lifecycle.selection import log_alias, non_negative_int, plain_style, positive_int


def _seconds(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds.") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 600, not {value}.")
    return value


class Command(BaseCommand):
    help = (
        "PostgreSQL: turn activity_logs into a table partitioned by actor type, then by "
        "month of created_at, and create the months ahead. Idempotent; safe while the "
        "site writes (a plain table is copied in batches, then swapped under a short lock)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--ahead",
            type=non_negative_int,
            default=3,
            help="Months after the current one to create partitions for (default 3).",
        )
        parser.add_argument(
            "--database",
            help="Database alias holding activity_logs (default: the DATABASE setting, "
            "else the routers' choice for writes).",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=50_000,
            help="Ids per copy transaction when converting a plain table (default 50000).",
        )
        parser.add_argument(
            "--lock-timeout",
            type=_seconds,
            default=2.0,
            help="Seconds a DDL step waits for its lock before it is retried (default 2).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from django.db import connections

        alias: str = options["database"] or log_alias()
        if alias not in connections:
            raise CommandError(f"--database: {alias!r} is not a key of DATABASES.")
        verbosity: int = options["verbosity"]

        def progress(message: str) -> None:
            if verbosity > 1:
                self.stderr.write(message, style_func=plain_style)

        try:
            result = partition(
                alias,
                ahead=options["ahead"],
                batch_size=options["batch_size"],
                lock_timeout=options["lock_timeout"],
                progress=progress,
            )
        except PartitionError as exc:
            raise CommandError(str(exc)) from None
        if result.converted:
            self.stdout.write(
                f"Converted activity_logs to a partitioned table ({result.rows_copied} rows)."
            )
        for name, rows in result.moved.items():
            self.stdout.write(f"{name}: moved {rows} rows in from the default partition.")
        created = len(result.created)
        self.stdout.write(
            self.style.SUCCESS(f"Created {created} partition(s).")
            if created
            else "Every partition exists already."
        )
