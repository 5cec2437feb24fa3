"""Sinks shipped with autoaudit (``AUTOAUDIT["SINKS"]``).

A sink is any callable taking one committed log row as a JSON-safe dict:
every column by name (masked values stay masked), ``user_id`` for the user,
``created_at`` in ISO 8601, and ``write_id`` (set only in
``WRITE_MODE="task"``). It is called after the row commits; what it raises
is logged and never breaks a write.
"""

from __future__ import annotations

import json
import logging
from typing import Any

__all__ = ["json_logger"]

logger = logging.getLogger("autoaudit")


def json_logger(log: dict[str, Any]) -> None:
    """Write ``log`` as one JSON line (keys sorted) to the ``autoaudit``
    logger, at ``INFO``: route that logger to a file or a collector."""
    logger.info(json.dumps(log, sort_keys=True, ensure_ascii=False, default=str))
