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

from assistant.clock import Clock
from assistant.intents import say_duration

log = logging.getLogger(__name__)


@dataclass
class _Timer:
    seconds: int
    ends_ns: int
    handle: asyncio.TimerHandle | None = None
    says: str | None = None
    """A reminder's words when due; None for a kitchen timer."""


def set_reply(seconds: int) -> str:
    """What setting a timer says (before it is set: see turn.py)."""
    return f"Timer set for {say_duration(seconds)}."


class Timers:
    def __init__(self, clock: Clock, announce: Callable[[str, str], None]) -> None:
        """`announce(text, reason)`: reason is "timer" or "reminder"."""
        self.clock = clock
        self.announce = announce
        self._timers: list[_Timer] = []

    def start(self, seconds: int) -> str:
        self._add(_Timer(seconds, self.clock.now_ns() + seconds * 1_000_000_000))
        log.info("timer set for %s", say_duration(seconds))
        return set_reply(seconds)

    def remind(self, seconds: float, says: str) -> None:
        """Say `says` in `seconds`."""
        self._add(_Timer(round(seconds), self.clock.now_ns() + int(seconds * 1e9), says=says))
        log.info("reminder set in %s: %s", say_duration(max(1, round(seconds))), says)

    def _add(self, timer: _Timer) -> None:
        delay_s = (timer.ends_ns - self.clock.now_ns()) / 1e9
        timer.handle = asyncio.get_running_loop().call_later(delay_s, self._fire, timer)
        self._timers.append(timer)

    @property
    def _kitchen(self) -> list[_Timer]:
        return [t for t in self._timers if t.says is None]

    def _fire(self, timer: _Timer) -> None:
        if timer in self._timers:
            self._timers.remove(timer)
        if timer.says is not None:
            log.info("reminder due: %s", timer.says)
            self.announce(timer.says, "reminder")
            return
        log.info("timer done: %s", say_duration(timer.seconds))
        self.announce(f"Your timer for {say_duration(timer.seconds)} is done.", "timer")

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
