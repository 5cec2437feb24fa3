"""What the browser tests share: Debian's Chromium, its flags, where
screenshots go, and the skip rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# A closed network: no background connections, no component updates.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"

# Skipped on a developer machine without Chromium; never in CI (CI=true),
# where a missing browser must fail the run instead.
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason=f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)",
)
