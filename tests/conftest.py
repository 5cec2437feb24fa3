from __future__ import annotations

from collections.abc import Iterator
from typing import Unpack

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import models

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
