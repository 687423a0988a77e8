"""Reminders: "remind me to call mom at six", "in ten minutes"; said back when due."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from assistant.core.intents.base import IntentBase, IntentContext
from assistant.core.intents.numbers import NUMBER, parse_duration, parse_number, say_duration
from assistant.core.intents.time_of_day import say_time

NO_TIME_SAY = "When should I remind you? Say, for example: at six, or in ten minutes."


@dataclass(frozen=True, slots=True)
class Reminder(IntentBase):
    """ "Remind me to call mom at six" / "in ten minutes": said back when it is due. Either
    `seconds` from now, or a clock time: `hour` 0-23 when the user said AM or PM (or a
    24-hour time), else 1-12, and the next one to come."""

    task: str
    """What to do, as said back: "call your mom" (my -> your)."""
    about: str = "to"
    """How the task follows "remind you": "to", "about" or "that"."""
    seconds: int | None = None
    hour: int | None = None
    minute: int = 0
    meridiem_given: bool = False
    name: ClassVar[str] = "reminder"

    @property
    def when_known(self) -> bool:
        return self.seconds is not None or self.hour is not None

    @property
    def whole(self) -> bool:
        """Without a time it asks when ("remind me to call mom" may go on "at six")."""
        return self.when_known

    def reply(self, ctx: IntentContext) -> str:
        if not self.when_known:
            return NO_TIME_SAY
        return reminder_reply(self, reminder_due(self, ctx.now), ctx.now)

    def act(self, ctx: IntentContext) -> None:
        if not self.when_known:
            return
        due = reminder_due(self, ctx.now)
        if self.seconds is None:  # at a time of day: by the wall clock
            ctx.timers.remind_at(due.astimezone(), reminder_due_say(self))
        else:
            ctx.timers.remind((due - ctx.now).total_seconds(), reminder_due_say(self))


REMIND = re.compile(
    r"^(?:remind me|(?:set|create) a reminder)\b(?: (?P<about>to|that|about))?(?: (?P<rest>.+))?$"
)
_WHEN_FIRST = re.compile(r"^(at|for|in) (.+?) (to|that|about) (.+)$")
_WHEN_LAST = re.compile(r" (at|for|in) ")
_CLOCK = re.compile(
    rf"^(?P<h>{NUMBER})(?: (?P<m>o'clock|oclock|\d\d|{NUMBER}))?"
    r"(?: (?P<ap>a ?m|p ?m|in the morning|in the afternoon|in the evening|at night|tonight))?$"
)
_EVENING = ("p m", "pm", "in the afternoon", "in the evening", "at night", "tonight")
_PERSON = {"my": "your", "me": "you", "i": "you", "myself": "yourself", "i'm": "you're"}


def parse_reminder(text: str) -> Reminder | None:
    """ "remind me to X at 6", "remind me at 6 30 pm to X", "remind me in 10 minutes to X",
    "remind me to put the cake in the oven at 6". With no time it can read, a reminder that
    asks for one; None when it is not a reminder at all ("remind me what the capital of
    France is": the LLM answers)."""
    m = REMIND.match(text)
    assert m is not None
    rest, about = m.group("rest") or "", m.group("about") or "to"
    # The time last, tried from the last "at / in / for" back; or the time first.
    splits = [(rest[: w.start()], w.group(1), rest[w.end() :]) for w in _WHEN_LAST.finditer(rest)]
    if first := _WHEN_FIRST.match(rest):
        splits.insert(0, (first.group(4), first.group(1), first.group(2)))
        about = first.group(3)
    for task, preposition, when in reversed(splits):
        task = " ".join(_PERSON.get(word, word) for word in task.split())
        if preposition == "in":
            if (seconds := parse_duration(when)) is not None:
                return Reminder(task, about, seconds=seconds)
        elif (clock := _parse_clock(when)) is not None:
            hour, minute, given = clock
            return Reminder(task, about, hour=hour, minute=minute, meridiem_given=given)
    if m.group("about") is None or not rest:
        return None
    return Reminder(" ".join(_PERSON.get(word, word) for word in rest.split()), about)


def _parse_clock(text: str) -> tuple[int, int, bool] | None:
    """ "6", "six", "6 30", "six thirty pm", "18 15", "noon" -> (hour, minute, AM/PM known)."""
    if text in ("noon", "midday", "midnight"):
        return (0 if text == "midnight" else 12), 0, True
    m = _CLOCK.match(text)
    if m is None or (hour := parse_number(m.group("h"))) is None or not 0 <= hour <= 23:
        return None
    minute = 0.0
    if m.group("m") and "clock" not in m.group("m"):
        if (found := parse_number(m.group("m"))) is None or not 0 <= found < 60:
            return None
        minute = found
    if hour != int(hour) or minute != int(minute):
        return None
    if (ap := m.group("ap")) is None or hour > 12 or hour == 0:
        return int(hour), int(minute), hour > 12 or hour == 0
    return int(hour) % 12 + (12 if ap in _EVENING else 0), int(minute), True


def reminder_due(r: Reminder, now: datetime) -> datetime:
    """When the reminder is due: a clock time without AM or PM is the next one to come."""
    if r.seconds is not None:
        return now + timedelta(seconds=r.seconds)
    assert r.hour is not None
    today = now.replace(hour=r.hour, minute=r.minute, second=0, microsecond=0)
    times = [today] if r.meridiem_given else [today, today + timedelta(hours=12)]
    return min(t + timedelta(days=d) for t in times for d in (0, 1) if t + timedelta(days=d) > now)


def reminder_reply(r: Reminder, due: datetime, now: datetime) -> str:
    if r.seconds is not None:
        return f"I'll remind you {r.about} {r.task} in {say_duration(r.seconds)}."
    day = "" if due.date() == now.date() else " tomorrow"
    return f"I'll remind you {r.about} {r.task} at {say_time(due, whole_hours=True)}{day}."


def reminder_due_say(r: Reminder) -> str:
    """What is said when it is due."""
    return f"A reminder: {r.task}." if r.about == "that" else f"A reminder {r.about} {r.task}."
