"""Interleaved timing shared by ``anatomy.py``, ``floor.py``, ``indexes.py`` and
``roundtrips.py`` (stdlib only)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def interleaved_times(
    steps: dict[str, Callable[[], Any]], rounds: int, n: int
) -> dict[str, list[float]]:
    """µs per call of each step in each round: ``n`` calls per step per round,
    the steps in turn with the first one rotating from round to round, after
    one warm-up call each."""
    for step in steps.values():
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            for _ in range(n):
                steps[name]()
            times[name].append((time.perf_counter() - start) / n * 1e6)
    return times


def interleaved_medians(
    steps: dict[str, Callable[[], Any]], rounds: int, n: int
) -> dict[str, float]:
    """The median over the rounds of :func:`interleaved_times`."""
    times = interleaved_times(steps, rounds, n)
    return {name: statistics.median(values) for name, values in times.items()}


def spread(values: list[float]) -> float:
    """How noisy a step was: (max - min) / median over its rounds."""
    return (max(values) - min(values)) / statistics.median(values)
