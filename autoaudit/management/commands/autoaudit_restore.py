"""``manage.py autoaudit_restore FILE``: load an archive back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from autoaudit.lifecycle.archive import ArchiveError
from autoaudit.lifecycle.restore import restore_archive


class Command(BaseCommand):
    help = (
        "Load an archive written by autoaudit_archive back into the log table, in one "
        "transaction. The archive's signature and every row are checked first; a "
        "corrupt, forged or invalid archive loads nothing. Rows whose id is already "
        "present are skipped, so running it twice is harmless."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="The .jsonl.gz archive.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Verify the archive and report what would be loaded; write nothing.",
        )
        parser.add_argument(
            "--renumber",
            action="store_true",
            help="Give every row a new id (for an archive of another database). "
            "Restoring the same archive twice then loads its rows twice.",
        )
        parser.add_argument(
            "--trust-unsigned",
            action="store_true",
            help="Accept an archive written before archives were signed. Nothing "
            "proves where its rows come from: pass this only for a file you know. "
            "Every row is still checked; a signed archive is always verified.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            result = restore_archive(
                path,
                dry_run=options["dry_run"],
                renumber=options["renumber"],
                trust_unsigned=options["trust_unsigned"],
            )
        except ArchiveError as exc:
            raise CommandError(str(exc)) from None
        if not result.signed:
            self.stderr.write(
                f"Note: {path} is not signed; its rows were checked, but only your "
                "word (--trust-unsigned) says where they come from."
            )
        if result.conflicts:
            self.stderr.write(
                f"Warning: {result.conflicts} ids are used by other rows (a different "
                "created_at); those archived rows were not restored."
            )
        if result.users_missing:
            self.stdout.write(
                f"{result.users_missing} rows name a user that no longer exists; "
                "they are restored with no user."
            )
        if options["dry_run"]:
            self.stdout.write(
                f"Dry run: {path} is valid ({result.rows} rows); would restore "
                f"{result.inserted}, {result.present} already present."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {result.inserted} rows from {path} ({result.present} already present)."
            )
        )
