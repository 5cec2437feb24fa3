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


def _database_on_delete(field: Any) -> str | None:
    """The name of a database-level ``on_delete`` (Django 6.1+), else ``None``."""
    remote = getattr(field, "remote_field", None)
    on_delete = getattr(remote, "on_delete", None)
    try:
        from django.db.models.deletion import DatabaseOnDelete  # Django 6.1+
    except ImportError:  # pragma: no cover - Django < 6.1 has no such option
        return None
    return str(on_delete) if isinstance(on_delete, DatabaseOnDelete) else None


def check_database_on_delete(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``on_delete=DB_CASCADE``/``DB_SET_NULL``/``DB_SET_DEFAULT`` on a tracked
    model: the database changes those rows itself, without any signal, so
    their deletes and updates cannot be logged."""
    from autoaudit.tracking.registry import registry

    found: list[checks.CheckMessage] = []
    for model, tracker in registry.routes().items():
        if model is not tracker.model:
            continue  # a proxy: its concrete model is reported
        for field in model._meta.concrete_fields:
            name = _database_on_delete(field)
            if name is None:
                continue
            what = "deleted" if name == "DB_CASCADE" else "changed"
            target = field.related_model._meta.label  # type: ignore[union-attr]
            found.append(
                checks.Warning(
                    f"{model._meta.label}.{field.name} uses on_delete={name}: rows of "
                    f"{model._meta.label} that the database {what} when a {target} is "
                    "deleted are not logged (the database sends no signal).",
                    hint="Use the Python-side equivalent (CASCADE, SET_NULL, SET_DEFAULT) "
                    "for a complete log, or accept the gap.",
                    obj=field,
                    id="autoaudit.W002",
                )
            )
    return found


def check_login_url(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The timeline (``autoaudit.urls``) is mounted but ``LOGIN_URL`` leads
    nowhere: signed-out visitors cannot be sent to a login page."""
    from django.urls import NoReverseMatch, reverse

    from autoaudit.web.login import login_url_resolves

    try:
        reverse("autoaudit:timeline")
    except NoReverseMatch:
        return []  # the timeline is not mounted
    if login_url_resolves(settings.LOGIN_URL):
        return []
    return [
        checks.Warning(
            f"LOGIN_URL ({settings.LOGIN_URL!r}) does not resolve: signed-out visitors "
            "of the activity timeline get a 403 page saying that they must sign in, "
            "and no way to do it.",
            hint="Set LOGIN_URL to your login view (a URL name or path); "
            "LOGIN_URL = 'admin:login' suits a timeline for staff only.",
            id="autoaudit.W003",
        )
    ]


def check_database_aliases(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``DATABASE`` / ``READ_DATABASE`` name an alias that ``DATABASES`` lacks."""
    from autoaudit.conf import get_settings

    current = get_settings()
    known = list(getattr(settings, "DATABASES", {}) or {})
    found: list[checks.CheckMessage] = []
    for key in ("DATABASE", "READ_DATABASE"):
        alias = getattr(current, key)
        if alias is not None and alias not in known:
            found.append(
                checks.Error(
                    f"AUTOAUDIT[{key!r}] is {alias!r}, which is not a key of DATABASES "
                    f"({', '.join(map(repr, known)) or 'none'}): activity logs could not "
                    "be read or written there.",
                    hint=f"Name one of the aliases in DATABASES, or remove {key}.",
                    id="autoaudit.E001",
                )
            )
    return found


def register() -> None:
    checks.register(check_middleware, checks.Tags.security)
    checks.register(check_database_on_delete, checks.Tags.models)
    checks.register(check_login_url, checks.Tags.urls)
    # No tag: a database-tagged check runs only when a command names databases.
    checks.register(check_database_aliases)
