"""Helpers of the importer tests."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

from django.core.management import call_command

from autoaudit.models import ActivityLog

#: The times the tests give source rows: one day apart from this one.
T0 = dt.datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=dt.UTC)


def at(day: int) -> dt.datetime:
    """``T0`` plus ``day`` days."""
    return T0 + dt.timedelta(days=day)


def run_import(source: str, *args: str) -> tuple[str, str]:
    """``autoaudit_import --from SOURCE ARGS``: its stdout and stderr."""
    out, err = StringIO(), StringIO()
    call_command("autoaudit_import", "--from", source, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def imported(source: str) -> list[ActivityLog]:
    """The logs imported from ``source``, oldest first."""
    return list(
        ActivityLog.objects.filter(extra_data__imported_from__source=source).order_by(
            "created_at", "id"
        )
    )


def source_id(log: ActivityLog) -> Any:
    return (log.extra_data or {})["imported_from"]["id"]
