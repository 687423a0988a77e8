"""The time and the date: "what time is it?", "what's the date?"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from assistant.core.intents.base import IntentBase, IntentContext

TIME = re.compile(
    r"\b(what(?:'s| is) the time|what time is it|what time it is|tell me the time|"
    r"current time|got the time|^time$)\b"
)
DATE = re.compile(
    r"\b(what(?:'s| is)? (?:the |today'?s )?date|what day(?: is)?(?: it| today)|"
    r"which day is (?:it|today)|today'?s date|what(?:'s| is) today)\b"
)


@dataclass(frozen=True, slots=True)
class TimeQuery(IntentBase):
    name: ClassVar[str] = "time"

    def reply(self, ctx: IntentContext) -> str:
        return f"It is {say_time(ctx.now)}."


@dataclass(frozen=True, slots=True)
class DateQuery(IntentBase):
    name: ClassVar[str] = "date"

    def reply(self, ctx: IntentContext) -> str:
        return say_date(ctx.now)


def say_time(now: datetime, *, whole_hours: bool = False) -> str:
    """12-hour clock as people say it: "4:05 PM", "noon", "midnight"; with `whole_hours`,
    "6 PM" rather than "6:00 PM" (a time set, not a time read off the clock)."""
    if now.minute == 0 and now.hour in (0, 12):
        return "midnight" if now.hour == 0 else "noon"
    hour = now.hour % 12 or 12
    minutes = "" if whole_hours and now.minute == 0 else f":{now.minute:02d}"
    return f"{hour}{minutes} {'AM' if now.hour < 12 else 'PM'}"


def say_date(now: datetime) -> str:
    return f"Today is {now:%A}, {now:%B} {now.day}, {now.year}."
