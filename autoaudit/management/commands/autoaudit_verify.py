"""``manage.py autoaudit_verify``: check every seal and every sealed row."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from autoaudit.lifecycle.sealing import Report, id_ranges, verify


class Command(BaseCommand):
    help = (
        "Recompute every seal and the MAC of every sealed row. Lists changed, deleted "
        "and inserted rows and broken or missing seals, and exits with status 1 if "
        "there is any; rows autoaudit itself anonymised, erased, pruned or archived "
        "are listed as such. Late rows (see the docs) fail only with --strict."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--strict", action="store_true", help="Exit with status 1 on late rows too."
        )
        parser.add_argument(
            "--head",
            metavar="DIGEST",
            help="The head digest you kept from an earlier run (autoaudit_seal or "
            "autoaudit_verify prints it): fail unless that seal is still in the chain.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify()
        failed = report.tampered or (options["strict"] and bool(report.late))
        head = options["head"]
        if head and not self._has_seal(head):
            report.missing_seals.append(f"the seal with digest {head} is not in the chain")
            failed = True
        self._print(report)
        if failed:
            self.stderr.write("Verification FAILED: the log was changed outside autoaudit.")
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("Verification passed."))

    def _has_seal(self, digest: str) -> bool:
        from autoaudit.lifecycle.selection import log_alias
        from autoaudit.models import Seal

        return Seal.objects.using(log_alias()).filter(digest=digest).exists()

    def _print(self, report: Report) -> None:
        write = self.stdout.write
        write(
            f"{report.seals} seals, {report.rows} sealed rows checked, "
            f"{report.unsealed} rows not sealed yet."
        )
        if report.head:
            write(f"Head digest: {report.head}")
        for label, ids in (
            ("Changed rows", report.changed),
            ("Deleted rows", report.deleted),
            (
                "Inserted rows (an id inside a sealed range, created after its seal)",
                report.inserted,
            ),
            ("Late rows (committed after their seal; see docs/security.md)", report.late),
            ("Forged or edited seal events (ids)", report.forged_events),
        ):
            if ids:
                write(f"{label}: {len(ids)}: {id_ranges(ids)}")
        for label, items in (
            ("Broken seals", report.broken_seals),
            ("Missing seals", report.missing_seals),
        ):
            for item in items:
                write(f"{label[:-1]}: {item}")
        for kind, ids in sorted(report.accounted.items()):
            write(f"Rows {kind} by autoaudit (not tampering): {len(ids)}: {id_ranges(ids)}")
        if report.user_unlinked:
            ids = report.user_unlinked
            write(
                f"Rows whose user was deleted (user_id set to NULL; every other column "
                f"intact): {len(ids)}: {id_ranges(ids)}"
            )
