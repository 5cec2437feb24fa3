from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Unpack

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import models
from django.utils import timezone
from pytest_django import Settings

from autoaudit.tracking.registry import registry
from tests.typing_support import M, Track, TrackOptions


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # The timeline caches dashboard counts and the entity list.
    cache.clear()


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
