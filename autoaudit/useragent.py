"""Device and browser from a User-Agent header."""

from __future__ import annotations

from typing import Any


def describe_user_agent(agent: Any) -> dict[str, str]:
    """``{"device": ..., "browser": ...}`` for a User-Agent string (may be empty)."""
    return {}
