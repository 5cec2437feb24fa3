"""``manage.py autoaudit_import --from SOURCE``: copy another package's history."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from autoaudit.lifecycle.importers import (
    DEFAULT_BATCH_SIZE,
    SOURCES,
    ImportResult,
    ImportSourceError,
    run,
    source,
)
from autoaudit.lifecycle.selection import SelectionError, parse_when, positive_int


class Progress:
    """A plain-text progress bar: one line redrawn on a terminal, a line per
    batch otherwise (logs of a cron job stay readable)."""

    def __init__(self, stream: OutputWrapper, name: str) -> None:
        self.stream = stream
        self.name = name
        self.tty = stream.isatty()

    def __call__(self, done: int, total: int, result: ImportResult) -> None:
        share = done / total if total else 1.0
        bar = "#" * int(share * 30)
        line = (
            f"{self.name}: [{bar:<30}] {done}/{total} read, "
            f"{result.imported} imported, {result.skipped} already there"
        )
        self.stream.write(f"\r{line}" if self.tty else line, ending="" if self.tty else "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


class Command(BaseCommand):
    help = (
        "Copy the history recorded by django-auditlog, django-simple-history, "
        "django-reversion or django-pghistory into activity_logs. Idempotent: "
        "rows imported before are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from", dest="source", required=True, choices=sorted(SOURCES), help="The package."
        )
        parser.add_argument(
            "--model",
            action="append",
            dest="models",
            metavar="APP_LABEL.MODEL",
            help="Only this model's history (repeatable).",
        )
        parser.add_argument(
            "--since", help="Only changes at or after this date or ISO 8601 datetime."
        )
        parser.add_argument("--dry-run", action="store_true", help="Read and count; write nothing.")
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Source rows per batch (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress on stderr.")

    def handle(self, *args: Any, **options: Any) -> None:
        models = None
        if options["models"]:
            models = []
            for label in options["models"]:
                try:
                    models.append(apps.get_model(label))
                except (LookupError, ValueError):
                    raise CommandError(
                        f"--model: {label!r} is not an installed model (app_label.ModelName)."
                    ) from None
        try:
            since = parse_when(options["since"], "--since") if options["since"] else None
            importer = source(options["source"])
        except (SelectionError, ImportSourceError) as exc:
            raise CommandError(str(exc)) from None
        progress = None
        if not options["no_progress"]:
            progress = Progress(self.stderr, importer.name)
        result = run(
            importer,
            models=models,
            since=since,
            dry_run=options["dry_run"],
            batch_size=options["batch_size"],
            progress=progress,
        )
        if progress is not None:
            progress.close()
        counts = ", ".join(f"{n} {action}" for action, n in sorted(result.by_action.items()))
        verb = "would import" if options["dry_run"] else "imported"
        self.stdout.write(
            f"{result.source}: read {result.read} rows, {verb} {result.imported} logs"
            f"{f' ({counts})' if counts else ''}, skipped {result.skipped} imported before."
        )
