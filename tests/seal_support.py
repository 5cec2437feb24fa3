"""Helpers of the sealing tests: rows to seal, and the commands' output."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.core.management import call_command
from django.utils import timezone

from autoaudit.models import ActivityLog

#: How old the rows made here are (well past the default SEAL_DELAY).
AGE = dt.timedelta(hours=2)


def make_rows(count: int, *, age: dt.timedelta | None = AGE, **fields: Any) -> list[ActivityLog]:
    """``count`` varied log rows created ``age`` ago (``None``: now), in id order."""
    fields.setdefault("actor_type", "guest")
    logs = [
        ActivityLog(
            actor_identifier=f"guest{n}@example.com",
            actor_name="Guest",
            actor_metadata={"session_id": f"sess_{n}", "browser": "Firefox"},
            action="update",
            entity="product",
            computed_entity="testapp.Product",
            entity_id=n,
            entity_pk=str(n),
            entity_name=f"Product {n} — ünïcode",
            old_values={"price": 1.0 + n, "specs": {"ram": 8, "cpu": "x"}, "ok": True},
            new_values={"price": 0.1 * n, "specs": {"cpu": "y", "ram": 16}, "big": 1e20},
            changed_fields=["price", "specs"],
            ip_address="2001:db8::1" if n % 2 else "10.0.0.1",
            user_agent="Mozilla/5.0",
            extra_data={"batch": n, "tags": ["a", "b"]},
            tags=["import"],
            request_id=f"req-{n}",
            **fields,
        )
        for n in range(count)
    ]
    created = ActivityLog.objects.bulk_create(logs)
    ids = [log.pk for log in created]
    if age is not None:
        ActivityLog.objects.filter(id__in=ids).update(created_at=timezone.now() - age)
    return list(ActivityLog.objects.filter(id__in=ids).order_by("id"))


def run(command: str, *args: str) -> tuple[int, str]:
    """``(exit status, stdout)`` of a command."""
    out = io.StringIO()
    try:
        call_command(command, *args, stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def seal(*args: str) -> str:
    status, out = run("autoaudit_seal", *args)
    assert status == 0, out
    return out


def verify(*args: str) -> tuple[int, str]:
    return run("autoaudit_verify", *args)
