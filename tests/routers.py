"""Database routers for the routing and multi-database tests.

Used with ``override_settings(DATABASE_ROUTERS=[...])``; each one routes only
the test app's models and leaves everything else (users, sessions, the
activity log) to the default database.
"""

from __future__ import annotations

from typing import Any

from django.db import models

APP = "testapp"


def _ours(model: type[models.Model]) -> bool:
    return model._meta.app_label == APP


class ReadReplicaRouter:
    """Reads of the test app's models go to "other" (a stale replica),
    writes to "default" (the primary)."""

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str | None:
        return "other" if _ours(model) else None

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str | None:
        return "default" if _ours(model) else None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True


class OtherDatabaseRouter:
    """Every read and write of the test app's models goes to "other"."""

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str | None:
        return "other" if _ours(model) else None

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str | None:
        return "other" if _ours(model) else None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True
