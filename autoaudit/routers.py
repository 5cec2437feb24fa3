"""``AuditRouter``: send activity-log reads to the replica and writes to the log database.

Install it first in ``DATABASE_ROUTERS`` when ``DATABASE`` or
``READ_DATABASE`` is set::

    DATABASE_ROUTERS = ["autoaudit.routers.AuditRouter", *your_routers]

It has an opinion on autoaudit's models only (and on a log's user, which
lives with the users, not with the logs); every other model goes on to the
next router. ``ActivityLog.objects`` already follows the two settings without
it; the router covers what Django routes by itself: a log loaded from the
replica and saved, ``user.activity_logs``, a log's ``user``, and ``migrate``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, models, router

from autoaudit.conf import get_settings

APP_LABEL = "autoaudit"


def _is_log(model: type[models.Model] | None) -> bool:
    return model is not None and model._meta.app_label == APP_LABEL


def _log_instance(hints: dict[str, Any]) -> bool:
    instance = hints.get("instance")
    return instance is not None and _is_log(type(instance))


def _write_alias() -> str | None:
    """``DATABASE``; with only ``READ_DATABASE`` set, the default database
    (a replica replicates one primary, and it is that one)."""
    settings = get_settings()
    if settings.DATABASE is not None:
        return settings.DATABASE
    return DEFAULT_DB_ALIAS if settings.READ_DATABASE is not None else None


class AuditRouter:
    """Routes ``activity_logs``: reads to ``READ_DATABASE`` (default
    ``DATABASE``), writes to ``DATABASE``, its migrations only to ``DATABASE``.

    With neither setting it has no opinion on anything, so installing it
    changes nothing until they are set.
    """

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str | None:
        """Logs: ``READ_DATABASE`` (else ``DATABASE``); a log's user: the users' database."""
        if _is_log(model):
            settings = get_settings()
            return settings.READ_DATABASE or settings.DATABASE
        if _log_instance(hints):
            # Django would look the user up where the log is; ask the
            # routers again without the log, as for any user query.
            return router.db_for_read(model)
        return None

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str | None:
        """Logs: ``DATABASE``; a log's user: the users' database."""
        if _is_log(model):
            return _write_alias()
        if _log_instance(hints):
            return router.db_for_write(model)
        return None

    def allow_relation(self, obj1: models.Model, obj2: models.Model, **hints: Any) -> bool | None:
        """A log and its user may live in different databases (the user FK
        has no database constraint)."""
        # ``obj._meta``, not ``type(obj)._meta``: a request's user is a
        # lazy object whose type is not the model's.
        pair = {obj1._meta.label_lower, obj2._meta.label_lower}
        user = get_user_model()._meta.label_lower
        if pair == {"autoaudit.activitylog", user}:
            return True
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        """autoaudit's tables only in ``DATABASE``, when it is set."""
        if app_label != APP_LABEL:
            return None
        database = get_settings().DATABASE
        return None if database is None else db == database
