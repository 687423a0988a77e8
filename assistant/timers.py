"""Kitchen timers: set, cancel, ask what is left; a timer that runs out is announced.

Timers live on the event loop (`call_later`); when one fires, its announcement is handed to
`announce` (the turn runner's queue of things to say between turns).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from assistant.clock import Clock
from assistant.intents import say_duration

log = logging.getLogger(__name__)


@dataclass
class _Timer:
    seconds: int
    ends_ns: int
    handle: asyncio.TimerHandle | None = None


def set_reply(seconds: int) -> str:
    """What setting a timer says (before it is set: see turn.py)."""
    return f"Timer set for {say_duration(seconds)}."


class Timers:
    def __init__(self, clock: Clock, announce: Callable[[str], None]) -> None:
        self.clock = clock
        self.announce = announce
        self._timers: list[_Timer] = []

    def start(self, seconds: int) -> str:
        loop = asyncio.get_running_loop()
        timer = _Timer(seconds, self.clock.now_ns() + seconds * 1_000_000_000)
        timer.handle = loop.call_later(seconds, self._fire, timer)
        self._timers.append(timer)
        log.info("timer set for %s", say_duration(seconds))
        return set_reply(seconds)

    def _fire(self, timer: _Timer) -> None:
        if timer in self._timers:
            self._timers.remove(timer)
        log.info("timer done: %s", say_duration(timer.seconds))
        self.announce(f"Your timer for {say_duration(timer.seconds)} is done.")

    def preview_cancel(self) -> str:
        """What `cancel()` will say (said before it is done, see turn.py)."""
        n = len(self._timers)
        if n == 0:
            return "There is no timer running."
        return "Timer cancelled." if n == 1 else f"{n} timers cancelled."

    def cancel(self) -> str:
        said = self.preview_cancel()
        self.close()
        return said

    def left(self) -> str:
        if not self._timers:
            return "There is no timer running."
        now = self.clock.now_ns()
        parts = [
            say_duration(max(1, round((t.ends_ns - now) / 1e9)))
            for t in sorted(self._timers, key=lambda t: t.ends_ns)
        ]
        if len(parts) == 1:
            return f"{parts[0]} left."
        return "Left: " + ", ".join(parts) + "."

    def close(self) -> None:
        for t in self._timers:
            if t.handle is not None:
                t.handle.cancel()
        self._timers.clear()
