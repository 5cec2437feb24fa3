"""``manage.py autoaudit_forget IDENTIFIER``: the right to be forgotten."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from autoaudit.enums import ActorType
from autoaudit.lifecycle.forget import forget
from autoaudit.lifecycle.selection import match_actor, positive_int


def _breakdown(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind}: {rows}" for kind, rows in sorted(counts.items()))


class Command(BaseCommand):
    help = (
        "Anonymise (default) or erase (--erase) every log of one person, found by a "
        "user's username or email or a guest identifier. Safe to run twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "identifier",
            metavar="IDENTIFIER",
            help="A user's username or email, or a guest identifier (email, phone, ...).",
        )
        parser.add_argument(
            "--erase",
            action="store_true",
            help="Delete the logs instead of anonymising them.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only report how many rows would change."
        )
        parser.add_argument(
            "--actor-type",
            choices=ActorType.values,
            help="Only logs of this actor type (when an identifier is both a user and a guest).",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            help="Rows per transaction (default: the PRUNE_BATCH_SIZE setting).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        identifier: str = options["identifier"]
        if not identifier.strip():
            raise CommandError("IDENTIFIER must not be empty.")
        result = forget(
            match_actor(identifier),
            erase=options["erase"],
            dry_run=options["dry_run"],
            actor_type=options["actor_type"],
            batch_size=options["batch_size"],
        )
        if result.matched == 0:
            self.stdout.write(f"No logs match {identifier!r}: 0 rows.")
            return
        if result.ambiguous and not options["actor_type"]:
            self.stdout.write(
                f"Note: {identifier!r} matches a user account and guest logs; both are "
                "included (use --actor-type to limit)."
            )
        verb = "erase" if options["erase"] else "anonymise"
        detail = _breakdown(result.by_actor_type)
        if options["dry_run"]:
            self.stdout.write(f"Dry run: would {verb} {result.matched} rows ({detail}).")
            return
        past = "Erased" if options["erase"] else "Anonymised"
        message = f"{past} {result.rows} rows of {identifier!r} ({detail})."
        if result.replacement:
            message += f" They now name the actor {result.replacement!r}."
        self.stdout.write(self.style.SUCCESS(message))
