"""The task that writes logs in ``WRITE_MODE="task"``: ``write_logs``.

It is a Django task (``django.tasks`` on Django 6, the ``django-tasks``
backport on 5.2), enqueued on the backend ``AUTOAUDIT["TASK_BACKEND"]``
(default ``"default"``) once the transaction of the changes commits, with
the rows of that transaction as JSON (masked already; the user as its key,
``created_at`` as the time of the change). Each row carries a ``write_id``,
unique in ``activity_logs``: a task that runs twice (a retry, a worker that
died after its insert) inserts each row once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the django-tasks backport
    from django_tasks import task  # type: ignore[no-redef,import-not-found,unused-ignore]

from autoaudit.conf import get_settings
from autoaudit.tracking import store

__all__ = ["write_logs"]


# Bound to the configured backend (the framework checks it exists); each
# enqueue asks for the backend configured at that moment.
@task(backend=get_settings().TASK_BACKEND)
def write_logs(logs: Sequence[dict[str, Any]], using: str) -> int:
    """Insert ``logs`` (rows as :meth:`LogDraft.as_json` gives them) on the
    database alias ``using``, skipping rows already there; returns how many
    rows the task was given."""
    return store.write_once(logs, using)
