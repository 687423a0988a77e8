"""The one clock: integer nanoseconds from `time.monotonic_ns()`, injectable for tests."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Monotonic time in nanoseconds."""
        ...


class MonotonicClock:
    def now_ns(self) -> int:
        return time.monotonic_ns()


class FakeClock:
    """A clock that only moves when told to (unit tests)."""

    def __init__(self, start_ns: int = 0) -> None:
        self.t_ns = start_ns

    def now_ns(self) -> int:
        return self.t_ns

    def advance_ms(self, ms: float) -> None:
        self.t_ns += round(ms * 1_000_000)


MONOTONIC = MonotonicClock()


def ns_to_ms(ns: int) -> float:
    return round(ns / 1_000_000, 1)
