"""``manage.py autoaudit_protect``: make ``activity_logs`` append-only (PostgreSQL)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from autoaudit.lifecycle.protect import ProtectError, install, installed, remove
from autoaudit.lifecycle.selection import log_alias


class Command(BaseCommand):
    help = (
        "Install database triggers (PostgreSQL) that reject UPDATE, DELETE and TRUNCATE "
        "on activity_logs, except inside autoaudit's own forget, prune and archive. "
        "--remove takes them away; --status says whether they are installed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--remove", action="store_true", help="Remove the triggers.")
        group.add_argument("--status", action="store_true", help="Only report the state.")

    def handle(self, *args: Any, **options: Any) -> None:
        alias = log_alias()
        if options["status"]:
            state = "installed" if installed(alias) else "not installed"
            self.stdout.write(f"Protection on {alias!r}: {state}.")
            return
        try:
            if options["remove"]:
                remove(alias)
            else:
                install(alias)
        except ProtectError as exc:
            raise CommandError(str(exc)) from None
        if options["remove"]:
            self.stdout.write(self.style.SUCCESS(f"Protection removed from {alias!r}."))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Protection installed on {alias!r}: UPDATE, DELETE and TRUNCATE on "
                    "activity_logs now fail outside autoaudit's own commands."
                )
            )
