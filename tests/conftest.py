from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any, Unpack

import crum
import pytest
from deepdiff import DeepDiff
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import models
from django.utils import timezone, translation
from pytest_django import Settings

from autoaudit.actors import scopes
from autoaudit.actors.request import current_request
from autoaudit.tracking.registry import registry
from autoaudit.values import diff
from tests.typing_support import M, Track, TrackOptions


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """``tests/importers`` runs on its own settings (it installs the packages
    it imports from): ``pytest --ds=tests.importers.settings tests/importers``."""
    if collection_path == Path(__file__).parent / "importers":
        return os.environ.get("DJANGO_SETTINGS_MODULE") != "tests.importers.settings" or None
    return None


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # The timeline caches dashboard counts and the entity list.
    cache.clear()


def _shared_state() -> dict[str, object]:
    """What one test could leave behind for the next (in this thread)."""
    return {
        "registered models": sorted(model._meta.label for model in registry.registered()),
        "autoaudit.actor()": scopes.current_actor(),
        "autoaudit.context()": dict(scopes.current_extra()),
        "autoaudit.disabled()": scopes.is_disabled(),
        "current request": current_request(),
        "crum's current user": crum.get_current_user(),
        "active language": translation.get_language(),
        "active time zone": timezone.get_current_timezone_name(),
    }


@pytest.fixture(autouse=True)
def _no_leaked_state() -> Iterator[None]:
    """Fail the test that leaves shared state changed once its own fixtures
    have cleaned up: a leak then shows in the test that causes it, not in
    whichever test pytest-randomly happens to run next."""
    before = _shared_state()
    yield
    after = _shared_state()
    leaked = {key: (before[key], after[key]) for key in before if after[key] != before[key]}
    assert not leaked, f"this test left shared state changed (before, after): {leaked}"


@pytest.fixture
def track() -> Iterator[Track]:
    """Register models for one test; everything is unregistered afterwards."""
    added: list[type[models.Model]] = []

    def _track(model: type[M], /, **options: Unpack[TrackOptions]) -> type[M]:
        registry.register(model, **options)
        added.append(model)
        return model

    yield _track
    for model in reversed(added):
        if registry.is_registered(model):
            registry.unregister(model)


@pytest.fixture
def deepdiff_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The arguments of every deepdiff run (``autoaudit.values.diff``'s) in the test."""
    calls: list[Any] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return DeepDiff(*args, **kwargs)

    monkeypatch.setattr(diff, "DeepDiff", counting)
    return calls


@pytest.fixture
def midday(settings: Settings) -> None:
    """Make it about noon where the test runs (``TIME_ZONE`` an ``Etc/GMT``
    zone picked for it): "today" then reaches hours back and stays clear of
    midnight, whatever time the suite runs at."""
    offset = 12 - timezone.now().astimezone(UTC).hour  # -11 .. 12 hours east of UTC
    settings.TIME_ZONE = f"Etc/GMT{-offset:+d}"  # (the Etc/GMT signs are inverted)


# -- users the UI tests share (a test module may override one) ----------------
@pytest.fixture
def root() -> User:
    return User.objects.create_superuser("root", "root@example.com", "x")


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice", "alice@example.com", "x")


@pytest.fixture
def bob() -> User:
    return User.objects.create_user("bob", "bob@example.com", "x")


@pytest.fixture(scope="session")
def django_db_setup(
    django_db_setup: None, django_db_blocker: Any, request: pytest.FixtureRequest
) -> None:
    """``AUTOAUDIT_TEST_PARTITIONED=1`` (PostgreSQL): run the suite against a
    partitioned ``activity_logs`` (``autoaudit_partition`` right after the
    test database is made)."""
    import os

    if os.environ.get("AUTOAUDIT_TEST_PARTITIONED") != "1":
        return
    from django.db import connections

    from autoaudit.lifecycle import partitions

    if connections["default"].vendor != "postgresql":
        raise pytest.UsageError("AUTOAUDIT_TEST_PARTITIONED=1 needs AUTOAUDIT_TEST_DB=postgres")
    with django_db_blocker.unblock():
        partitions.partition("default", ahead=2)
        if not partitions.is_partitioned("default"):
            raise RuntimeError("activity_logs is not partitioned after autoaudit_partition")
