"""``manage.py autoaudit_export``: stream logs as JSON Lines or CSV."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from autoaudit.enums import ActorType
from autoaudit.lifecycle.export import FIELDS, FORMATS, render_pages
from autoaudit.lifecycle.selection import (
    DEFAULT_CHUNK_SIZE,
    SelectionError,
    counts_by_actor_type,
    filter_logs,
    iter_pages,
    log_alias,
    match_actor,
    parse_when,
    plain_style,
    positive_int,
    read_alias,
)
from autoaudit.tracking import selfaudit
from autoaudit.values.labels import model_for_label, model_label


class Command(BaseCommand):
    help = (
        "Export activity logs as JSON Lines (default) or CSV to stdout or a file, "
        "streaming in pages. With --actor this is one person's data export (GDPR)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format", choices=FORMATS, default="jsonl", help="Output format (default: jsonl)."
        )
        parser.add_argument(
            "--output", "-o", metavar="FILE", help="Write to FILE instead of stdout."
        )
        parser.add_argument(
            "--actor",
            metavar="IDENTIFIER",
            help="Only this person's logs: a user's username or email, or a guest identifier.",
        )
        parser.add_argument(
            "--actor-type", choices=ActorType.values, help="Only logs of this actor type."
        )
        parser.add_argument(
            "--entity", help="Only this entity: 'product' or 'app_label.ModelName'."
        )
        parser.add_argument(
            "--since", metavar="DATE", help="From this date/datetime on (inclusive)."
        )
        parser.add_argument(
            "--until",
            metavar="DATE",
            help="Before this datetime; a bare date includes that whole day.",
        )
        parser.add_argument(
            "--chunk-size",
            type=positive_int,
            default=DEFAULT_CHUNK_SIZE,
            help=f"Rows read per query (default: {DEFAULT_CHUNK_SIZE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from autoaudit.models import ActivityLog

        try:
            since = parse_when(options["since"], "--since") if options["since"] else None
            until = (
                parse_when(options["until"], "--until", end_of_day=True)
                if options["until"]
                else None
            )
        except SelectionError as exc:
            raise CommandError(str(exc)) from None
        actor = None
        if options["actor"] is not None:
            if not options["actor"].strip():
                raise CommandError("--actor needs a non-empty identifier.")
            actor = match_actor(options["actor"])
        logs = ActivityLog.objects.using(read_alias())
        entity = self._known_entity(options["entity"], logs) if options["entity"] else None
        queryset = filter_logs(
            logs,
            actor=actor,
            entity=entity,
            since=since,
            until=until,
            actor_type=options["actor_type"],
        )
        if actor is not None:
            self._note_ambiguity(actor.identifier, bool(actor.user_ids), queryset)
        pages = iter_pages(queryset, FIELDS, options["chunk_size"])
        output = options["output"]
        if output:
            rows = self._to_file(Path(output), pages, options)
            self.stdout.write(f"Exported {rows} rows to {output}.")
        else:
            rows = self._write(lambda text: self.stdout.write(text, ending=""), pages, options)
            self.stderr.write(f"Exported {rows} rows.", style_func=plain_style)
        # The audit of the audit log: who exported what (every run).
        filters = {
            key: str(options[key])
            for key in ("actor", "entity", "since", "until", "actor_type", "format")
            if options.get(key) is not None
        }
        selfaudit.log_read(
            "export",
            extra={"rows": rows, **({"filters": filters} if filters else {})},
            rate_limited=False,
            using=log_alias(),
        )

    def _known_entity(self, entity: str, logs: Any) -> str:
        """``entity`` as the logs store it, or a ``CommandError`` naming it
        when neither an installed model nor any log has that name (a typo
        would otherwise export nothing, silently). The entity of a model
        removed since stays exportable while its logs exist."""
        entity = entity.strip()
        if "." in entity:
            model = model_for_label(entity)
            if model is not None:
                return model_label(model)  # the stored case: "core.Product"
            if logs.filter(computed_entity=entity).exists():
                return entity
        else:
            short = entity.lower()
            if any(model._meta.model_name == short for model in apps.get_models()):
                return short
            if logs.filter(entity=short).exists():
                return short
        raise CommandError(
            f"Unknown entity {entity!r}: no installed model has that name and no log "
            "names it. Use 'app_label.ModelName' (e.g. 'core.Product') or a short "
            "entity name (e.g. 'product')."
        )

    def _note_ambiguity(self, identifier: str, has_account: bool, queryset: Any) -> None:
        counts = counts_by_actor_type(queryset)
        if (has_account or counts.get(ActorType.USER)) and counts.get(ActorType.GUEST):
            self.stderr.write(
                f"Note: {identifier!r} matches a user account and guest logs; both are "
                "exported (use --actor-type to limit).",
                style_func=plain_style,
            )

    def _write(self, write: Callable[[str], Any], pages: Any, options: dict[str, Any]) -> int:
        rows = 0
        for text, count in render_pages(pages, options["format"]):
            write(text)
            rows += count
        return rows

    def _to_file(self, path: Path, pages: Any, options: dict[str, Any]) -> int:
        # An export holds personal data: a new file is readable by its owner
        # only (the mode is set on creation, so there is no moment when it
        # is not). An existing file is truncated and keeps its permissions,
        # as with a shell's ">": the operator chose them.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            handle: TextIO = open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}.") from None
        try:
            with handle:
                return self._write(handle.write, pages, options)
        except BaseException as exc:
            # A half-written export must not pass for a complete one.
            with contextlib.suppress(OSError):
                path.unlink()
            if isinstance(exc, OSError):
                raise CommandError(
                    f"writing {path} failed: {exc.strerror or exc}; the file was removed."
                ) from None
            raise
