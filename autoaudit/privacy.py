"""Guest privacy: who has opted out of being identified."""

from __future__ import annotations

from typing import Any

from autoaudit.conf import get_settings


def guest_opted_out(request: Any) -> bool:
    """True when a guest's identifying data must not be stored."""
    return not get_settings().GUEST_TRACKING
