"""Settings for the test suite.

The database comes from ``AUTOAUDIT_TEST_DB``: ``sqlite`` (default, no
server), ``postgres`` or ``mysql`` (MariaDB). Host, port and user can be
overridden with ``AUTOAUDIT_TEST_DB_HOST`` / ``_PORT`` / ``_USER`` /
``_PASSWORD``, and the database name with ``AUTOAUDIT_TEST_DB_NAME``.

A second alias, ``"other"``, is on the same backend (another SQLite file,
or the database ``<name>_other`` on the same server). Only the routing and
multi-database tests use it (``databases={"default", "other"}``).
"""

from __future__ import annotations

import copy
import os
from importlib.util import find_spec
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "autoaudit-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("id", "Indonesian")]
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MEDIA_ROOT = BASE_DIR / "_media"
STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "autoaudit",
    "tests.testapp",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "autoaudit.middleware.AuditMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

_BACKEND = os.environ.get("AUTOAUDIT_TEST_DB", "sqlite").lower()
_HOST = os.environ.get("AUTOAUDIT_TEST_DB_HOST", "127.0.0.1")
# Lets two runs share a machine without sharing a test database.
_NAME = os.environ.get("AUTOAUDIT_TEST_DB_NAME", "autoaudit")

if _BACKEND == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / f"{_NAME}-tests.sqlite3",
            "TEST": {"NAME": BASE_DIR / f"{_NAME}-tests.sqlite3"},
        },
        "other": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / f"{_NAME}-other-tests.sqlite3",
            "TEST": {"NAME": BASE_DIR / f"{_NAME}-other-tests.sqlite3"},
        },
    }
elif _BACKEND in ("postgres", "postgresql"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _NAME,
            "HOST": _HOST,
            "PORT": os.environ.get("AUTOAUDIT_TEST_DB_PORT", "5432"),
            "USER": os.environ.get("AUTOAUDIT_TEST_DB_USER", "postgres"),
            "PASSWORD": os.environ.get("AUTOAUDIT_TEST_DB_PASSWORD", ""),
        }
    }
elif _BACKEND in ("mysql", "mariadb"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": _NAME,
            "HOST": _HOST,
            "PORT": os.environ.get("AUTOAUDIT_TEST_DB_PORT", "3306"),
            "USER": os.environ.get("AUTOAUDIT_TEST_DB_USER", "root"),
            "PASSWORD": os.environ.get("AUTOAUDIT_TEST_DB_PASSWORD", ""),
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
        }
    }
else:  # pragma: no cover - configuration error
    raise RuntimeError(f"AUTOAUDIT_TEST_DB={_BACKEND!r}: use sqlite, postgres or mysql.")

# A worker process started by a test (tests/worker_support.py) uses the test
# database the test runs against, named exactly, and no second alias (its
# start-up checks would connect to it, and it may not exist).
if os.environ.get("AUTOAUDIT_TEST_DB_EXACT_NAME"):
    DATABASES["default"]["NAME"] = os.environ["AUTOAUDIT_TEST_DB_EXACT_NAME"]

if "other" not in DATABASES and not os.environ.get("AUTOAUDIT_TEST_DB_EXACT_NAME"):
    # A second database on the same server (routing and multi-database
    # tests ask for it with ``databases={"default", "other"}``; pytest-django
    # creates it only when a collected test does).
    DATABASES["other"] = {**copy.deepcopy(DATABASES["default"]), "NAME": f"{_NAME}_other"}

# The log database of the DATABASE-setting tests (AUTOAUDIT["DATABASE"] =
# "audit"): a separate database on the same backend, asked for with
# ``databases={"default", "audit"}``.
# (Not in a test's worker process, as "other" above.)
if not os.environ.get("AUTOAUDIT_TEST_DB_EXACT_NAME"):
    DATABASES["audit"] = {
        **copy.deepcopy(DATABASES["default"]),
        "NAME": BASE_DIR / f"{_NAME}-audit-tests.sqlite3"
        if _BACKEND == "sqlite"
        else f"{_NAME}_audit",
    }
    if _BACKEND == "sqlite":
        DATABASES["audit"]["TEST"] = {"NAME": DATABASES["audit"]["NAME"]}

# Task backends for WRITE_MODE="task" tests (tests/test_write_modes.py):
# Django's default (runs a task at once), one that only records what was
# enqueued, and django-tasks-db's database backend, whose worker a test runs
# (django-tasks, the backport, is the framework on Django 5.2).
_TASKS_PACKAGE = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
TASKS: dict[str, dict[str, object]] = {
    "default": {"BACKEND": f"{_TASKS_PACKAGE}.backends.immediate.ImmediateBackend"},
    "dummy": {"BACKEND": f"{_TASKS_PACKAGE}.backends.dummy.DummyBackend"},
}
if find_spec("django_tasks_db") is not None:
    if django.VERSION < (6, 0):
        INSTALLED_APPS.append("django_tasks")
    INSTALLED_APPS.append("django_tasks_db")
    TASKS["db"] = {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
if _BACKEND in ("postgres", "postgresql") and not os.environ.get("AUTOAUDIT_TEST_DB_EXACT_NAME"):
    # READ_DATABASE tests (tests/test_read_database.py): "replica" is a test
    # mirror of "default", as a streaming replica would be; no database of
    # its own is created. Only transactional tests see through it.
    DATABASES["replica"] = {**copy.deepcopy(DATABASES["default"]), "TEST": {"MIRROR": "default"}}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Two entries of the audit of the audit log are off for the suite, and on
# where tests/test_selfaudit.py tests them: the settings entry (written
# after every migrate, and every flush of a transactional test: a row no
# test expects) and the entry of each disabled() block (the suite's many
# disabled() tests are about what happens inside the block).
AUTOAUDIT: dict[str, object] = {"LOG_SETTINGS_CHANGES": False, "LOG_DISABLED_BLOCKS": False}
