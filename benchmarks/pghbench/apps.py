from __future__ import annotations

from django.apps import AppConfig


class PghbenchConfig(AppConfig):
    """The django-pghistory variant; installed only on PostgreSQL (see settings.py)."""

    name = "benchmarks.pghbench"
    label = "pghbench"
    default_auto_field = "django.db.models.BigAutoField"
