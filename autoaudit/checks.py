"""System checks (ids ``autoaudit.E0xx`` / ``autoaudit.W0xx``).

Bad ``AUTOAUDIT`` values already fail ``django.setup()`` (see ``conf``); the
checks here cover the wiring a project can get wrong without a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

MIDDLEWARE_PATH = "autoaudit.middleware.AuditMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"


def check_middleware(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        return [
            checks.Warning(
                f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: changes made in requests "
                "will be attributed to the system, not to users or guests.",
                hint=f"Add {MIDDLEWARE_PATH!r} after {AUTH_MIDDLEWARE_PATH!r}.",
                id="autoaudit.W001",
            )
        ]
    return []


def register() -> None:
    checks.register(check_middleware, checks.Tags.security)
