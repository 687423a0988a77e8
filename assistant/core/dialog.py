"""What the conversation carries from one turn to the next, outside the language model's
memory: the question the assistant just asked, the device command it just carried out, the
path the last turn took and the routing mode. Plain state with the time passed in, so its
windows are tested with numbers; `route_turn` is the routing decision that reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeVar, get_args

from assistant.core.intents import (
    ANSWER_WINDOW_S,
    IT_WINDOW_S,
    Device,
    DeviceCommand,
    Intent,
    Question,
)
from assistant.core.router import Path, Route, route

Mode = Literal["auto", "fast", "large"]
"""auto: the router decides; fast: never escalates; large: every turn that is not an intent
goes to the large model (MQTT `model/set`)."""
MODES: tuple[Mode, ...] = get_args(Mode)

_T = TypeVar("_T")


class Dialog:
    """The state one turn leaves for the next."""

    def __init__(self) -> None:
        self.mode: Mode = "auto"
        self.previous_path: Path | None = None
        """The path the last turn said to its end took ("why is that?" follows it)."""
        self._asked: tuple[Question, int] | None = None
        """The question the last turn asked, and when it finished asking (clock ns)."""
        self._commanded: tuple[DeviceCommand, int] | None = None
        """The last device command carried out, and when (clock ns): "turn it off"."""

    def forget(self) -> None:
        """A new conversation: no open question, no "it", no previous path (the mode stays)."""
        self.previous_path, self._asked, self._commanded = None, None, None

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown routing mode {mode!r} (known: {', '.join(MODES)})")
        self.mode = mode

    def open_question(self, now_ns: int) -> Question | None:
        """The question the assistant asked, if it was asked lately enough to be answered."""
        return _lately(self._asked, ANSWER_WINDOW_S, now_ns)

    def last_command(self, now_ns: int) -> DeviceCommand | None:
        """The device command carried out lately enough for "it" to mean its device."""
        return _lately(self._commanded, IT_WINDOW_S, now_ns)

    def acted(self, intent: Intent, now_ns: int) -> None:
        """An intent was carried out (its answer handed to the speaker)."""
        if isinstance(intent, DeviceCommand):  # done, heard to its end or not
            self._commanded = (intent, now_ns)

    def said(self, path: Path | None, asks: Question | None, now_ns: int) -> None:
        """A turn was said to its end: it answers (or passes over) the open question, and
        leaves its own, if its reply asked one."""
        self.previous_path = path
        self._asked = (asks, now_ns) if asks is not None else None

    def route_turn(
        self,
        transcript: str,
        devices: Sequence[Device],
        *,
        intents: bool,
        has_large: bool,
        asked: Question | None,
        now_ns: int,
    ) -> Route:
        """The path for this transcript, given what was said before and the mode. `asked`:
        the open question as it was when the turn began (its transcript was heard with it)."""
        r = route(
            transcript,
            devices,
            has_large=has_large and self.mode != "fast",
            previous=self.previous_path,
            intents=intents,
            asked=asked,
            last=self.last_command(now_ns),
        )
        if self.mode == "large" and has_large and r.path == "fast":
            return Route("large", "mode_large")
        return r


def _lately(kept: tuple[_T, int] | None, window_s: float, now_ns: int) -> _T | None:
    """What was kept (with its clock ns), if that was within the window."""
    if kept is None:
        return None
    thing, kept_ns = kept
    return thing if now_ns - kept_ns <= window_s * 1e9 else None
