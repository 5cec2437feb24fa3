"""Settings for the importer tests: the main test settings plus the four
packages autoaudit imports from, each recording real history of its own
model (``tests/importers/source``). django-pghistory needs PostgreSQL, so
its app is installed only there.

Run as its own pytest invocation (the main suite does not migrate these
apps): ``pytest --ds=tests.importers.settings tests/importers``.
"""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, INSTALLED_APPS

POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "auditlog",
    "simple_history",
    "reversion",
    "tests.importers.source",
]
if POSTGRES:
    INSTALLED_APPS += ["pgtrigger", "pghistory", "tests.importers.pgsource"]
