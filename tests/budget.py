"""Query counts that depend on the database under test."""

from __future__ import annotations

from django.db import connection


def save_log_statements() -> int:
    """Statements the log of one save (or of the delete of a lone row whose
    values are known) adds to Django's own: none on PostgreSQL, where it
    goes in with Django's ``INSERT``, ``UPDATE`` or ``DELETE``."""
    return 0 if connection.vendor == "postgresql" else 1


def old_values_reads() -> int:
    """Reads of the old values before an update of an instance whose values
    autoaudit knows (loaded, or last saved, through the ORM): none on
    PostgreSQL, where its ``UPDATE`` is guarded by them instead."""
    return 0 if connection.vendor == "postgresql" else 1
