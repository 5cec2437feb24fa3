"""django-pghistory needs PostgreSQL: its tests are collected only there."""

from __future__ import annotations

from tests.importers.settings import POSTGRES

collect_ignore = [] if POSTGRES else ["test_pghistory.py"]
