"""Settings of the benchmark project (``benchmarks/run.py`` sets them up).

The database comes from ``AUTOAUDIT_BENCH_DB`` (``sqlite``, ``postgres`` or
``mysql``); host, port, user and password from ``AUTOAUDIT_BENCH_DB_HOST``,
``_PORT``, ``_USER`` and ``_PASSWORD``; the database name from
``AUTOAUDIT_BENCH_DB_NAME`` (default ``autoaudit_bench``), so a benchmark
never touches a test database. The single-row and bulk ops make no request:
every package logs them as "no user" (autoaudit's system actor). The
``request`` op and the scale phase go through Django's test client, so the
project has the admin, sessions, the auth middleware, each package's own
middleware and ``benchmarks/urls.py``; a request's user is the logged-in
bench user.

django-pghistory records its events with PostgreSQL triggers (django-pgtrigger),
so its apps and its variant's app (``benchmarks.pghbench``) are installed only
when the bench database is PostgreSQL; on SQLite and MariaDB the project is the
one the other four variants have always used.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "autoaudit-benchmarks-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
ALLOWED_HOSTS = ["testserver"]  # Django's test client
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

BACKEND = os.environ.get("AUTOAUDIT_BENCH_DB", "sqlite").lower()
NAME = os.environ.get("AUTOAUDIT_BENCH_DB_NAME", "autoaudit_bench")
HOST = os.environ.get("AUTOAUDIT_BENCH_DB_HOST", "127.0.0.1")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "autoaudit",
    "auditlog",
    "simple_history",
    "benchmarks.benchapp",
]
if BACKEND == "postgres":
    # Triggers exist on PostgreSQL alone: elsewhere pgtrigger would skip them and
    # the event table would stay empty (and both packages import psycopg on load).
    INSTALLED_APPS += ["pgtrigger", "pghistory", "benchmarks.pghbench"]
# autoaudit's WRITE_MODE (run.py --write-mode); "task" enqueues on django-tasks'
# database backend (django-tasks-db), whose worker is not running in the bench.
WRITE_MODE = os.environ.get("AUTOAUDIT_BENCH_WRITE_MODE", "transaction")
AUTOAUDIT = {"WRITE_MODE": WRITE_MODE}
if WRITE_MODE == "task":
    INSTALLED_APPS += ["django_tasks_db"]
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Every variant's request passes through all of them (the same stack for each):
# each package's middleware is what gives its logs the request's user.
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "autoaudit.middleware.AuditMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]
ROOT_URLCONF = "benchmarks.urls"
STATIC_URL = "/static/"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
# A fast hasher: the bench user is created on every run.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if BACKEND == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            # A file (not :memory:), default journal mode and synchronous level.
            "NAME": BASE_DIR / ".data" / f"{NAME}.sqlite3",
        }
    }
elif BACKEND == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": NAME,
            "HOST": HOST,
            "PORT": os.environ.get("AUTOAUDIT_BENCH_DB_PORT", "5432"),
            "USER": os.environ.get("AUTOAUDIT_BENCH_DB_USER", "postgres"),
            "PASSWORD": os.environ.get("AUTOAUDIT_BENCH_DB_PASSWORD", ""),
        }
    }
elif BACKEND == "mysql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": NAME,
            "HOST": HOST,
            "PORT": os.environ.get("AUTOAUDIT_BENCH_DB_PORT", "3306"),
            "USER": os.environ.get("AUTOAUDIT_BENCH_DB_USER", "root"),
            "PASSWORD": os.environ.get("AUTOAUDIT_BENCH_DB_PASSWORD", ""),
            "OPTIONS": {"charset": "utf8mb4"},
        }
    }
else:  # pragma: no cover - configuration error
    raise RuntimeError(f"AUTOAUDIT_BENCH_DB={BACKEND!r}: use sqlite, postgres or mysql.")
