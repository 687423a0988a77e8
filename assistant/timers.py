"""Kitchen timers: set, cancel, ask what is left; a timer that runs out is announced.
Reminders are timers that say what to do when they are due (cancelling or asking about
"the timer" leaves them alone).

Timers live on the event loop (`call_later`); when one fires, its announcement is handed to
`announce` (the turn runner's queue of things to say between turns).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from assistant.clock import Clock
from assistant.intents import say_duration

log = logging.getLogger(__name__)


@dataclass
class _Timer:
    ends_ns: int
    says: str
    """What is said when it is due."""
    reason: Literal["timer", "reminder"]
    handle: asyncio.TimerHandle | None = None


def set_reply(seconds: int) -> str:
    """What setting a timer says (before it is set: see turn.py)."""
    return f"Timer set for {say_duration(seconds)}."


class Timers:
    def __init__(self, clock: Clock, announce: Callable[[str, str], None]) -> None:
        """`announce(text, reason)` says a timer that is due; reason: "timer" or "reminder"."""
        self.clock = clock
        self.announce = announce
        self._timers: list[_Timer] = []

    def start(self, seconds: int) -> str:
        self._add(seconds, f"Your timer for {say_duration(seconds)} is done.", "timer")
        return set_reply(seconds)

    def remind(self, seconds: float, says: str) -> None:
        """Say `says` in `seconds`."""
        self._add(seconds, says, "reminder")

    def _add(self, seconds: float, says: str, reason: Literal["timer", "reminder"]) -> None:
        timer = _Timer(self.clock.now_ns() + int(seconds * 1e9), says, reason)
        timer.handle = asyncio.get_running_loop().call_later(seconds, self._fire, timer)
        self._timers.append(timer)
        log.info("%s set for %s from now: %s", reason, say_duration(max(1, round(seconds))), says)

    @property
    def _kitchen(self) -> list[_Timer]:
        return [t for t in self._timers if t.reason == "timer"]

    def _fire(self, timer: _Timer) -> None:
        if timer in self._timers:
            self._timers.remove(timer)
        log.info("%s due: %s", timer.reason, timer.says)
        self.announce(timer.says, timer.reason)

    def preview_cancel(self) -> str:
        """What `cancel()` will say (said before it is done, see turn.py)."""
        n = len(self._kitchen)
        if n == 0:
            return "There is no timer running."
        return "Timer cancelled." if n == 1 else f"{n} timers cancelled."

    def cancel(self) -> str:
        said = self.preview_cancel()
        for t in self._kitchen:
            if t.handle is not None:
                t.handle.cancel()
            self._timers.remove(t)
        return said

    def left(self) -> str:
        if not self._kitchen:
            return "There is no timer running."
        now = self.clock.now_ns()
        parts = [
            say_duration(max(1, round((t.ends_ns - now) / 1e9)))
            for t in sorted(self._kitchen, key=lambda t: t.ends_ns)
        ]
        if len(parts) == 1:
            return f"{parts[0]} left."
        return "Left: " + ", ".join(parts) + "."

    def close(self) -> None:
        for t in self._timers:
            if t.handle is not None:
                t.handle.cancel()
        self._timers.clear()
