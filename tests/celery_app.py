"""The Celery app of tests/test_celery.py (its worker runs ``-A tests.celery_app``).

Broker and result backend: the machine's Redis (``AUTOAUDIT_TEST_REDIS``,
default ``redis://127.0.0.1:6379/0``). Each test run uses its own queue
(``AUTOAUDIT_TEST_CELERY_QUEUE``), so runs sharing the Redis never take
each other's tasks.
"""

from __future__ import annotations

import os

from celery import Celery

REDIS = os.environ.get("AUTOAUDIT_TEST_REDIS", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("AUTOAUDIT_TEST_CELERY_QUEUE", "autoaudit-tests")

app = Celery("autoaudit_tests", broker=REDIS, backend=REDIS, include=["tests.celery_tasks"])
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    result_expires=600,
)
