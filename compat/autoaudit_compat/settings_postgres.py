"""Django's test-suite settings for PostgreSQL (see ``_server``; defaults
``127.0.0.1:5432``, user ``postgres``)."""

from __future__ import annotations

from autoaudit_compat._server import PASSWORD_HASHERS, SECRET_KEY, USE_TZ, databases

DATABASES = databases("django.db.backends.postgresql", port="5432", user="postgres")

__all__ = ["DATABASES", "PASSWORD_HASHERS", "SECRET_KEY", "USE_TZ"]
