"""Answers a language model cannot know, matched from the transcript: the time and the date.

Pure code: the wall-clock time is passed in. (The escalation issue grows this into the
intent grammar for timers and home control.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_TIME = re.compile(
    r"\b(what(?:'s| is)? (?:the )?time(?: is it)?|what time|tell me the time|time is it|"
    r"current time|got the time)\b"
)
_DATE = re.compile(
    r"\b(what(?:'s| is)? (?:the |today'?s )?date|what day(?: is)?(?: it| today)|"
    r"which day is (?:it|today)|today'?s date|what(?:'s| is) today)\b"
)


@dataclass(frozen=True, slots=True)
class IntentMatch:
    name: str
    reply: str


def normalize(text: str) -> str:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("\u2019", "'")).strip()


def match_intent(transcript: str, now: datetime) -> IntentMatch | None:
    text = normalize(transcript)
    if _DATE.search(text):
        return IntentMatch("date", f"Today is {now:%A}, {now:%B} {now.day}, {now.year}.")
    if _TIME.search(text):
        return IntentMatch("time", f"It is {say_time(now)}.")
    return None


def say_time(now: datetime) -> str:
    """12-hour clock as people say it: "4:05 PM", "noon", "midnight"."""
    if now.minute == 0 and now.hour in (0, 12):
        return "midnight" if now.hour == 0 else "noon"
    hour = now.hour % 12 or 12
    return f"{hour}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}"
