"""``manage.py autoaudit_seal``: seal log rows older than ``SEAL_DELAY``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from autoaudit.lifecycle.maintenance import ChainLockError
from autoaudit.lifecycle.sealing import DEFAULT_BATCH, seal
from autoaudit.lifecycle.selection import non_negative_int, positive_int


class Command(BaseCommand):
    help = (
        "Seal, in id order, every log row older than SEAL_DELAY seconds that is not "
        "sealed yet: each seal holds the keyed MAC of its rows and chains to the seal "
        "before it. Safe to run from cron, also two at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=DEFAULT_BATCH,
            help=f"Rows per seal (default {DEFAULT_BATCH}).",
        )
        parser.add_argument(
            "--delay",
            type=non_negative_int,
            metavar="SECONDS",
            help="Seal rows older than this (default: the SEAL_DELAY setting).",
        )
        parser.add_argument(
            "--limit", type=positive_int, help="Make at most this many seals, then stop."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            made = seal(
                delay=options["delay"], batch_size=options["batch_size"], limit=options["limit"]
            )
        except (ChainLockError, DatabaseError) as exc:
            raise CommandError(f"sealing failed: {exc}") from exc
        rows = sum(s.row_count for s in made)
        if made:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Sealed {rows} rows in {len(made)} seals (ids {made[0].first_id}-"
                    f"{made[-1].last_id}); head digest {made[-1].digest}."
                )
            )
        else:
            self.stdout.write("Nothing to seal.")
