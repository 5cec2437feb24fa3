"""Settings Django lets tests change: a swapped user model (cause 6) and an
empty ``SECRET_KEY`` (cause 7).

Every test runs ``untracked`` (Django's own behaviour) and ``tracked`` and
asserts the same outcome.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.test.utils import override_settings
from pytest_django import Settings

from autoaudit.models import ActivityLog
from tests.compat_support import TRACKING
from tests.testapp.models import Member, Product
from tests.typing_support import Track

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


# -- cause 6: AUTH_USER_MODEL swapped with override_settings ---------------------
@pytest.fixture
def member() -> Iterator[Member]:
    with override_settings(AUTH_USER_MODEL="testapp.Member"):
        assert get_user_model() is Member  # type: ignore[comparison-overlap]  # swapped at run time
        yield _member()


def _member() -> Member:
    user = Member(email="mia@example.com", full_name="Mia Member")
    user.set_password("x")
    user.save()
    return user


@pytest.mark.parametrize("auth_events", [True, False], ids=["auth-events", "no-auth-events"])
def test_login_with_a_swapped_user_model(
    member: Member, settings: Settings, auth_events: bool
) -> None:
    # With AUTH_EVENTS off autoaudit stays out of the login: Django's behaviour.
    settings.AUTOAUDIT = {} if auth_events else {"AUTH_EVENTS": []}
    client = Client()
    assert client.login(email="mia@example.com", password="x")
    assert client.get("/actors/whoami/").status_code == 200
    logins = ActivityLog.objects.filter(action="login")
    if auth_events:
        [log] = logins
        assert (log.actor_type, log.actor_identifier, log.entity_pk) == (
            "user",
            "mia@example.com",
            str(member.pk),
        )
        assert log.computed_entity == "testapp.Member"
    else:
        assert not logins.exists()


@TRACKING
def test_tracked_write_by_a_swapped_user_model(
    track: Track, member: Member, settings: Settings, tracked: bool
) -> None:
    settings.AUTOAUDIT = {"AUTH_EVENTS": []}  # the login itself is the other test's
    if tracked:
        track(Product)
    client = Client()
    client.force_login(member)  # type: ignore[arg-type]  # the swapped user model
    response = client.post("/actors/sync-create/", {"name": "by-mia"})
    assert response.status_code == 200
    product = Product.objects.get(pk=response.json()["pk"])
    assert product.name == "by-mia"
    logs = ActivityLog.objects.filter(computed_entity="testapp.Product")
    if tracked:
        [log] = logs
        # The user column points at auth.User; the actor is still named.
        assert (log.action, log.actor_type, log.actor_identifier, log.actor_name) == (
            "create",
            "user",
            "mia@example.com",
            "Mia Member",
        )
    else:
        assert not logs.exists()


# -- cause 7: SECRET_KEY is only needed when it is used ------------------------------
# Not parametrized over tracked/untracked: with autoaudit installed the
# override fails whether or not a model is registered. Django's own
# behaviour (autoaudit not installed) is pinned by the subprocess test below.
def test_empty_secret_key_until_it_is_used(track: Track) -> None:
    track(Product)
    with override_settings(SECRET_KEY=""):
        product = Product.objects.create(name="keyless")
        product.stock = 2
        product.save()
        Product.objects.update(stock=3)
        # Django complains only when the key is read.
        with pytest.raises(ImproperlyConfigured, match="The SECRET_KEY setting must not be empty"):
            django_settings.SECRET_KEY  # noqa: B018
    assert Product.objects.get().stock == 3
    actions = list(
        ActivityLog.objects.filter(computed_entity="testapp.Product")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["create", "update", "update"]


_WITHOUT_SECRET_KEY = """
from django.conf import settings
from django.test.utils import override_settings

import tests.settings as base

options = {{k: getattr(base, k) for k in dir(base) if k.isupper() and k != "SECRET_KEY"}}
if not {with_autoaudit}:
    options["INSTALLED_APPS"] = [
        app for app in options["INSTALLED_APPS"] if app not in ("autoaudit", "tests.testapp")
    ]
    options["MIDDLEWARE"] = [m for m in options["MIDDLEWARE"] if not m.startswith("autoaudit")]
settings.configure(**options)

import django
from tests.typing_support import Track

django.setup()
print("set up")
settings.SECRET_KEY = "now-configured"  # plain assignment: no setting_changed
with override_settings(SECRET_KEY=""):
    print("overridden")
"""


@pytest.mark.parametrize("with_autoaudit", [True, False], ids=["installed", "not-installed"])
def test_no_secret_key_until_it_is_used(with_autoaudit: bool) -> None:
    """``django.setup()`` works without ``SECRET_KEY``, and so does
    ``override_settings(SECRET_KEY="")``: Django reads the key lazily."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_SECRET_KEY.format(with_autoaudit=with_autoaudit)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout.split()) == (
        0,
        ["set", "up", "overridden"],
    ), result.stderr[-2000:]
