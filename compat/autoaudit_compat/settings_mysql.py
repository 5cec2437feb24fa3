"""Django's test-suite settings for MySQL / MariaDB (see ``_server``; defaults
``127.0.0.1:3306``, user ``root`` with an empty password)."""

from __future__ import annotations

from autoaudit_compat._server import PASSWORD_HASHERS, SECRET_KEY, USE_TZ, databases

DATABASES = databases(
    "django.db.backends.mysql",
    port="3306",
    user="root",
    OPTIONS={"charset": "utf8mb4"},
    TEST={"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_general_ci"},
)

__all__ = ["DATABASES", "PASSWORD_HASHERS", "SECRET_KEY", "USE_TZ"]
