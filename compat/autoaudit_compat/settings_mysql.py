"""Django's test-suite settings for MySQL / MariaDB (``default`` and ``other``).

See ``settings_postgres`` for the environment variables; the defaults here
are ``127.0.0.1:3306``, user ``root`` with an empty password.
"""

from __future__ import annotations

import os

_NAME = os.environ.get("AUTOAUDIT_COMPAT_DB_NAME", "django_compat")
_COMMON = {
    "ENGINE": "django.db.backends.mysql",
    "HOST": os.environ.get("AUTOAUDIT_TEST_DB_HOST", "127.0.0.1"),
    "PORT": os.environ.get("AUTOAUDIT_TEST_DB_PORT", "3306"),
    "USER": os.environ.get("AUTOAUDIT_TEST_DB_USER", "root"),
    "PASSWORD": os.environ.get("AUTOAUDIT_TEST_DB_PASSWORD", ""),
    "OPTIONS": {"charset": "utf8mb4"},
    "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_general_ci"},
}

DATABASES = {
    "default": {**_COMMON, "NAME": _NAME},
    "other": {**_COMMON, "NAME": f"{_NAME}_other"},
}

SECRET_KEY = "django_tests_secret_key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_TZ = False
