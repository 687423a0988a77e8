"""Kitchen timers: set, cancel, ask what is left; a timer that runs out is announced.
Reminders are timers that say what to do when they are due (cancelling or asking about
"the timer" leaves them alone).

Timers live on the event loop (`call_later`); when one fires, its announcement is handed to
`announce` (the turn runner's queue of things to say between turns).

The daemon keeps them in a file (`keep_in`, in systemd's state directory), so they survive
a restart of the service: at start, those still to come are set again, and those that came
due while it was off are said at once, with when ("While I was off, at 6 AM: ...").

A timer runs for its length on the monotonic clock; a reminder for a time of day ("at six")
is due at that time by the wall clock, and follows it when it is stepped: a board with no
battery clock (a Raspberry Pi) boots with the time it was shut down and is set by NTP
later, a laptop is suspended. The wall clock is read every `CLOCK_CHECK_S` while one is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from assistant.core.clock import Clock
from assistant.core.intents import say_duration, say_time, set_reply

log = logging.getLogger(__name__)


MISSED_FOR_AT_MOST = timedelta(hours=12)
"""At start, what came due longer ago than this is not said (only logged)."""
CLOCK_CHECK_S = 10.0
"""How often a reminder for a time of day is checked against the wall clock."""
CLOCK_STEP_S = 2.0
"""A difference between the wall clock and the monotonic one larger than this is a step
of the wall clock: the reminders for a time of day are set again."""


@dataclass
class _Timer:
    ends_ns: int
    due: datetime
    """The same moment by the wall clock (UTC): what is kept across a restart."""
    says: str
    """What is said when it is due."""
    reason: Literal["timer", "reminder"]
    at_time: bool = False
    """Due at a time of day ("at six"): follows the wall clock (a timer keeps its length)."""
    handle: asyncio.TimerHandle | None = None


class Timers:
    def __init__(
        self,
        clock: Clock,
        announce: Callable[[str, str], None],
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`announce(text, reason)` says a timer that is due; reason: "timer" or "reminder".
        `wall_clock` gives the time of day, timezone-aware."""
        self.clock = clock
        self.announce = announce
        self.wall_clock = wall_clock
        self._timers: list[_Timer] = []
        self._file: Path | None = None
        self._clock_check: asyncio.TimerHandle | None = None

    def start(self, seconds: int) -> str:
        self._add(seconds, f"Your timer for {say_duration(seconds)} is done.", "timer")
        return set_reply(seconds)

    def remind(self, seconds: float, says: str) -> None:
        """Say `says` in `seconds`."""
        self._add(seconds, says, "reminder")

    def remind_at(self, due: datetime, says: str) -> None:
        """Say `says` at `due` (timezone-aware) by the wall clock, even if that is stepped."""
        self._add((due - self.wall_clock()).total_seconds(), says, "reminder", due)

    def _add(
        self,
        seconds: float,
        says: str,
        reason: Literal["timer", "reminder"],
        at: datetime | None = None,
    ) -> None:
        due = (at or self.wall_clock() + timedelta(seconds=seconds)).astimezone(UTC)
        ends_ns = self.clock.now_ns() + int(seconds * 1e9)
        self._arm(_Timer(ends_ns, due, says, reason, at_time=at is not None), seconds)
        self._save()
        log.info("%s set for %s from now: %s", reason, say_duration(max(1, round(seconds))), says)

    def _arm(self, timer: _Timer, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        timer.handle = loop.call_later(max(0.0, seconds), self._fire, timer)
        self._timers.append(timer)
        if timer.at_time and self._clock_check is None:
            self._clock_check = loop.call_later(CLOCK_CHECK_S, self._follow_wall_clock)

    def _follow_wall_clock(self) -> None:
        """Set again the reminders for a time of day whose wall-clock time is no longer as
        far off as their monotonic end (the wall clock was stepped)."""
        self._clock_check = None
        wall, now_ns = self.wall_clock(), self.clock.now_ns()
        for t in [t for t in self._timers if t.at_time]:
            by_wall = (t.due - wall).total_seconds()
            step_s = (t.ends_ns - now_ns) / 1e9 - by_wall
            if abs(step_s) > CLOCK_STEP_S:
                log.info(
                    "the wall clock moved by %+.0f s: %s now in %.0f s", step_s, t.says, by_wall
                )
                if t.handle is not None:
                    t.handle.cancel()
                self._timers.remove(t)
                self._arm(replace(t, ends_ns=now_ns + int(by_wall * 1e9), handle=None), by_wall)
        if self._clock_check is None and any(t.at_time for t in self._timers):
            loop = asyncio.get_running_loop()
            self._clock_check = loop.call_later(CLOCK_CHECK_S, self._follow_wall_clock)

    def keep_in(self, path: Path) -> None:
        """Keep the timers in `path` from now on, and take up those it holds (a file that
        cannot be read is set aside as `*.bad`, with an error: the daemon goes on)."""
        self._file = path
        try:
            kept = _read(path)
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.error("timers in %s cannot be read (%s); set aside as .bad", path, e)  # noqa: TRY400
            with contextlib.suppress(OSError):
                path.replace(path.with_name(path.name + ".bad"))
            return
        now, now_ns = self.wall_clock(), self.clock.now_ns()
        for due, says, reason, at_time in kept:
            seconds = (due - now).total_seconds()
            if seconds > 0:
                timer = _Timer(now_ns + int(seconds * 1e9), due, says, reason, at_time)
                self._arm(timer, seconds)
                log.info(
                    "%s kept from before the restart, due in %.0f s: %s", reason, seconds, says
                )
            elif -seconds <= MISSED_FOR_AT_MOST.total_seconds():
                when = say_time(due.astimezone(), whole_hours=True)
                log.info("%s came due while the daemon was off (%s): %s", reason, when, says)
                self.announce(f"While I was off, at {when}: {says}", reason)
            else:
                log.info("%s came due too long ago to say (%s): %s", reason, due, says)
        self._save()

    def _save(self) -> None:
        if self._file is None:
            return
        kept = [
            {"due": t.due.isoformat(), "says": t.says, "reason": t.reason}
            | ({"at_time": True} if t.at_time else {})
            for t in sorted(self._timers, key=lambda t: t.due)
        ]
        temporary = self._file.with_name(self._file.name + ".new")
        try:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps({"timers": kept}, indent=1) + "\n")
            temporary.replace(self._file)
        except OSError as e:
            log.error("timers cannot be kept in %s: %s", self._file, e)  # noqa: TRY400

    @property
    def _kitchen(self) -> list[_Timer]:
        return [t for t in self._timers if t.reason == "timer"]

    def _fire(self, timer: _Timer) -> None:
        if timer in self._timers:
            self._timers.remove(timer)
            self._save()
        log.info("%s due: %s", timer.reason, timer.says)
        self.announce(timer.says, timer.reason)

    def preview_cancel(self) -> str:
        """What `cancel()` will say (said before it is done, see stages/intent.py)."""
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
        self._save()
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
        """Stop them (the daemon is stopping: the file keeps them)."""
        for t in self._timers:
            if t.handle is not None:
                t.handle.cancel()
        self._timers.clear()
        if self._clock_check is not None:
            self._clock_check.cancel()
            self._clock_check = None


def _read(path: Path) -> list[tuple[datetime, str, Literal["timer", "reminder"], bool]]:
    kept = []
    for entry in json.loads(path.read_text())["timers"]:
        due = datetime.fromisoformat(entry["due"])
        if due.tzinfo is None:
            raise ValueError(f"due {entry['due']!r} has no timezone")
        reason, at_time = entry["reason"], entry.get("at_time", False)
        if (
            reason not in ("timer", "reminder")
            or not isinstance(entry["says"], str)
            or not isinstance(at_time, bool)
        ):
            raise ValueError(f"not a timer: {entry!r}")
        kept.append((due, entry["says"], reason, at_time))
    return kept
