"""Helpers shared by the privacy, export, forget, prune and archive tests.

Holds no tests itself; the name keeps it with the tests it serves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.utils import timezone

from autoaudit.models import ActivityLog


def make_log(*, days_ago: float = 0, **fields: Any) -> ActivityLog:
    """Insert one log row as the writer would, ``days_ago`` days old."""
    values: dict[str, Any] = {
        "actor_type": "guest",
        "actor_identifier": "guest@example.com",
        "actor_name": "Jane Guest",
        "action": "create",
        "entity": "product",
        "computed_entity": "testapp.Product",
        "entity_id": 1,
        "entity_pk": "1",
        "entity_name": "Laptop",
        "new_values": {"name": "Laptop", "price": "10.00"},
        "ip_address": "203.0.113.5",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0",
    }
    values.update(fields)
    log = ActivityLog.objects.create(**values)
    if days_ago:
        when = timezone.now() - dt.timedelta(days=days_ago)
        ActivityLog.objects.filter(pk=log.pk).update(created_at=when)
        log.created_at = when
    return log


@contextmanager
def log_queries() -> Iterator[list[str]]:
    """SQL sent on the default connection that touches ``activity_logs``."""
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "activity_logs" in sql:
            seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


def selects(queries: list[str]) -> list[str]:
    return [sql for sql in queries if sql.lstrip().upper().startswith("SELECT")]


def deletes(queries: list[str]) -> list[str]:
    return [sql for sql in queries if sql.lstrip().upper().startswith("DELETE")]
