"""Shared by the compatibility tests (tests/test_compat_*.py).

Each compatibility test runs twice: ``untracked`` (nothing registered: what
Django itself does) and ``tracked`` (the model registered), and asserts the
same outcome in both. The untracked run documents Django's behaviour; the
tracked run proves that registering a model does not change it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

#: ``@TRACKING`` parametrizes a test over ``tracked`` (True) / ``untracked`` (False).
TRACKING = pytest.mark.parametrize("tracked", [True, False], ids=["tracked", "untracked"])


def outcome(operation: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", result)`` or ``(exception class name, message)``."""
    try:
        return "ok", operation()
    except Exception as exc:
        return type(exc).__name__, str(exc)
