"""Kitchen timers: set, cancel, and how long is left. The timers themselves run in
assistant/pipeline/timers.py; this says what a command asks and what is said back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from assistant.core.intents.base import IntentBase, IntentContext
from assistant.core.intents.numbers import say_duration

TIMER_SET = re.compile(
    r"\b(?:set|start|make|create|put on|give me)?\s*(?:a |an |the |my )?"
    r"(?:timer (?:for|of|to)\b|(.+?) timer\b)"
)
TIMER_CANCEL = re.compile(
    r"\b(?:cancel|stop|delete|clear|remove|turn off|kill) (?:the |my |all )?timers?\b"
)
TIMER_LEFT = re.compile(
    r"\b(?:how (?:much|long)|what(?:'s| is)).*\b(?:left|remaining|to go)\b|"
    r"\bhow long (?:until|till|before) (?:the |my )?timer\b|\btimer status\b"
)


@dataclass(frozen=True, slots=True)
class SetTimer(IntentBase):
    seconds: int
    name: ClassVar[str] = "timer_set"

    def reply(self, ctx: IntentContext) -> str:
        return set_reply(self.seconds)

    def act(self, ctx: IntentContext) -> None:
        ctx.timers.start(self.seconds)


@dataclass(frozen=True, slots=True)
class CancelTimer(IntentBase):
    name: ClassVar[str] = "timer_cancel"

    def reply(self, ctx: IntentContext) -> str:
        return ctx.timers.preview_cancel()  # said before it is done

    def act(self, ctx: IntentContext) -> None:
        ctx.timers.cancel()


@dataclass(frozen=True, slots=True)
class TimerLeft(IntentBase):
    name: ClassVar[str] = "timer_left"

    def reply(self, ctx: IntentContext) -> str:
        return ctx.timers.left()


def set_reply(seconds: int) -> str:
    """What setting a timer says (before it is set)."""
    return f"Timer set for {say_duration(seconds)}."
