"""What the PostgreSQL and MySQL settings of Django's test suite share.

As Django's "Using another settings module" documentation describes: two
databases of the same backend with different names (``default`` and
``other``); the test databases are ``test_<NAME>`` (and ``test_<NAME>_<n>``
clones for ``--parallel``). Connection details: ``AUTOAUDIT_TEST_DB_HOST`` /
``_PORT`` / ``_USER`` / ``_PASSWORD`` as for autoaudit's own tests;
``AUTOAUDIT_COMPAT_DB_NAME`` names the databases (``run.py`` uses one name
per mode, so a baseline and an autoaudit run never share a test database).
"""

from __future__ import annotations

import os
from typing import Any


def databases(engine: str, port: str, user: str, **extra: Any) -> dict[str, dict[str, Any]]:
    name = os.environ.get("AUTOAUDIT_COMPAT_DB_NAME", "django_compat")
    common = {
        "ENGINE": engine,
        "HOST": os.environ.get("AUTOAUDIT_TEST_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("AUTOAUDIT_TEST_DB_PORT", port),
        "USER": os.environ.get("AUTOAUDIT_TEST_DB_USER", user),
        "PASSWORD": os.environ.get("AUTOAUDIT_TEST_DB_PASSWORD", ""),
        **extra,
    }
    return {
        "default": {**common, "NAME": name},
        "other": {**common, "NAME": f"{name}_other"},
    }


# The rest as in the suite's own tests/test_sqlite.py.
SECRET_KEY = "django_tests_secret_key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_TZ = False
