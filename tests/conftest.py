from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import models

from autoaudit.registry import registry


@pytest.fixture
def track() -> Iterator[Callable[..., type[models.Model]]]:
    """Register models for one test; everything is unregistered afterwards."""
    added: list[type[models.Model]] = []

    def _track(model: type[models.Model], **options: Any) -> type[models.Model]:
        registry.register(model, **options)
        added.append(model)
        return model

    yield _track
    for model in reversed(added):
        if registry.is_registered(model):
            registry.unregister(model)
