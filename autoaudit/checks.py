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


def check_audit_read_cache(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``LOG_AUDIT_READS`` rate-limits page reads through the ``default``
    cache; a dummy cache keeps nothing, so every page read is logged."""
    from autoaudit.conf import get_settings

    conf = get_settings()
    backend = str((getattr(settings, "CACHES", None) or {}).get("default", {}).get("BACKEND", ""))
    if not (conf.LOG_AUDIT_READS and conf.AUDIT_READS_INTERVAL) or not backend.endswith(
        ".DummyCache"
    ):
        return []
    return [
        checks.Warning(
            "AUTOAUDIT['LOG_AUDIT_READS'] rate-limits its entries through the default "
            "cache, which is a DummyCache: every page read of the audit log is logged.",
            hint="Configure a real cache (Redis, Memcached, the database cache), set "
            "AUDIT_READS_INTERVAL to 0 to log every read on purpose, or turn "
            "LOG_AUDIT_READS off.",
            id="autoaudit.W004",
        )
    ]


#: Below this many seconds, transactions that run longer are likely to commit
#: rows inside ranges already sealed (late rows).
SHORT_SEAL_DELAY = 60


def check_seal_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``SEAL_KEY`` reused for another purpose, or a very short ``SEAL_DELAY``."""
    from autoaudit.conf import get_settings

    conf = get_settings()
    found: list[checks.CheckMessage] = []
    if conf.SEAL_KEY is not None:
        secret = settings.SECRET_KEY
        others = {
            "SECRET_KEY": secret.encode() if isinstance(secret, str) else secret,
            "MASK_HASH_KEY": conf.MASK_HASH_KEY,
            "ARCHIVE_KEY": conf.ARCHIVE_KEY,
        }
        reused = [name for name, value in others.items() if value == conf.SEAL_KEY]
        if reused:
            found.append(
                checks.Warning(
                    f"AUTOAUDIT['SEAL_KEY'] is the same secret as {', '.join(reused)}: "
                    "whoever holds that secret for its own purpose can also forge seals.",
                    hint="Give SEAL_KEY a secret of its own (32 random bytes or more), "
                    "kept away from the web servers if you can.",
                    id="autoaudit.W005",
                )
            )
    if conf.SEAL_DELAY < SHORT_SEAL_DELAY:
        found.append(
            checks.Warning(
                f"AUTOAUDIT['SEAL_DELAY'] is {conf.SEAL_DELAY} seconds: a transaction "
                "that writes logs and runs longer than that commits them after their ids "
                "were sealed, and autoaudit_verify reports them as late rows.",
                hint=f"Use at least {SHORT_SEAL_DELAY} seconds, longer than your longest "
                "transaction (the default is 300).",
                id="autoaudit.W006",
            )
        )
    return found


def check_sinks(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every ``SINKS`` path imports as a callable (``autoaudit.E001``)."""
    from django.utils.module_loading import import_string

    from autoaudit.conf import get_settings

    found: list[checks.CheckMessage] = []
    for path in get_settings().SINKS:
        try:
            sink = import_string(path)
        except ImportError as exc:
            problem = f"cannot be imported ({exc})"
        else:
            if callable(sink):
                continue
            problem = f"is a {type(sink).__name__}, not a callable"
        found.append(
            checks.Error(
                f"AUTOAUDIT['SINKS'] entry {path!r} {problem}: its logs would not reach it.",
                hint="Give the dotted path of a function taking one dict, such as "
                "'autoaudit.sinks.json_logger'.",
                id="autoaudit.E001",
            )
        )
    return found


def check_log_databases(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``DATABASE`` and ``READ_DATABASE`` name databases (``autoaudit.E002``);
    with ``DATABASE`` set, changes on any other database lose the
    change-and-log atomicity (``autoaudit.W007``)."""
    from autoaudit.conf import get_settings

    current = get_settings()
    known = list(getattr(settings, "DATABASES", {}) or {})
    unknown: list[checks.CheckMessage] = [
        checks.Error(
            f"AUTOAUDIT[{key!r}] is {alias!r}, which is not a key of DATABASES "
            f"({', '.join(map(repr, known)) or 'none'}): activity logs could not "
            "be read or written there.",
            hint=f"Name one of the aliases in DATABASES, or remove {key}.",
            id="autoaudit.E002",
        )
        for key in ("DATABASE", "READ_DATABASE")
        if (alias := getattr(current, key)) is not None and alias not in known
    ]
    alias = current.DATABASE
    if unknown or alias is None:
        return unknown
    others = [other for other in known if other != alias]
    if not others:
        return []
    return [
        checks.Warning(
            f"AUTOAUDIT['DATABASE'] is {alias!r}: the logs of changes on "
            f"{', '.join(map(repr, others))} are written there after each change commits, "
            "not in its transaction. A change can commit without its log (the process "
            "dies, or the log database is down, between the two commits).",
            hint="Accept it (docs/scaling.md measures the window), or keep activity_logs "
            "in the database of the changes. Silence with SILENCED_SYSTEM_CHECKS.",
            id="autoaudit.W007",
        )
    ]


def check_task_backend(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``WRITE_MODE="task"`` needs the tasks framework and the backend
    ``TASK_BACKEND`` (``autoaudit.E003``)."""
    from autoaudit.conf import get_settings

    config = get_settings()
    if config.WRITE_MODE != "task":
        return []
    try:
        from django.tasks import task_backends
    except ImportError:
        try:
            from django_tasks import (  # type: ignore[assignment,no-redef,import-not-found,unused-ignore]
                task_backends,
            )
        except ImportError:
            return [
                checks.Error(
                    "AUTOAUDIT['WRITE_MODE'] is 'task', but no tasks framework is installed.",
                    hint="Use Django 6 (django.tasks), or install the django-tasks backport.",
                    id="autoaudit.E003",
                )
            ]
    try:
        task_backends[config.TASK_BACKEND]
    except Exception as exc:
        return [
            checks.Error(
                f"AUTOAUDIT['TASK_BACKEND'] is {config.TASK_BACKEND!r}, which is not a usable "
                f"task backend ({exc}).",
                hint="Name a backend of the TASKS setting.",
                id="autoaudit.E003",
            )
        ]
    return []


def register() -> None:
    checks.register(check_middleware, checks.Tags.security)
    checks.register(check_database_on_delete, checks.Tags.models)
    checks.register(check_login_url, checks.Tags.urls)
    checks.register(check_audit_read_cache, checks.Tags.caches)
    checks.register(check_seal_settings, checks.Tags.security)
    checks.register(check_sinks)
    # No tag: a database-tagged check runs only when a command names databases.
    checks.register(check_log_databases)
    checks.register(check_task_backend)
