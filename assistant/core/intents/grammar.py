"""Reading a transcript: `match_intent` turns it into an `Intent` (what was asked, with its
slots) or None (a language model answers). Pure: carrying an intent out is the turn's
business, so `assistant route` can show a decision without anything happening.

The rules are tried in order; a new intent is a module of this package with its dataclass
(a `name`, `reply`, maybe `act`), its pattern, and its place in `match_intent` and `Intent`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.core.intents.base import Device, core, normalize
from assistant.core.intents.cannot import ASKS_WHY, CANNOT_SAY, LIVE, MEDIA, WEATHER, CannotDo
from assistant.core.intents.devices import (
    DeviceCommand,
    NoSuchAction,
    UnknownDevice,
    WhichDevice,
    all_confirmations,
    kind_of,
    plural,
)
from assistant.core.intents.followups import (
    ALL_ANSWER,
    NEVER_MIND,
    NeverMind,
    Question,
    offered_device,
)
from assistant.core.intents.home_control import home_control
from assistant.core.intents.numbers import parse_duration
from assistant.core.intents.reminders import NO_TIME_SAY, REMIND, Reminder, parse_reminder
from assistant.core.intents.states import StateQuestion, TemperatureQuestion, state_question
from assistant.core.intents.time_of_day import DATE, TIME, DateQuery, TimeQuery
from assistant.core.intents.timers import (
    TIMER_CANCEL,
    TIMER_LEFT,
    TIMER_SET,
    CancelTimer,
    SetTimer,
    TimerLeft,
)
from assistant.core.intents.world_time import WorldTime, world_time

# `name` (a class constant, not a field) is the intent's reason in the turn record.
Intent = (
    TimeQuery
    | DateQuery
    | SetTimer
    | CancelTimer
    | TimerLeft
    | Reminder
    | CannotDo
    | DeviceCommand
    | UnknownDevice
    | WhichDevice
    | NoSuchAction
    | NeverMind
    | WorldTime
    | StateQuestion
    | TemperatureQuestion
)


def match_intent(
    transcript: str, devices: Sequence[Device] = (), *, last: DeviceCommand | None = None
) -> Intent | None:
    """`last`: the device command said last (lately), which "it" and "them" mean."""
    text = core(normalize(transcript))
    if not text:
        return None
    rooms = [normalize(d.room) for d in devices if d.room]
    if (elsewhere := world_time(text, rooms)) is not None:  # before the time here
        return elsewhere
    if DATE.search(text):
        return DateQuery()
    if TIME.search(text) and "timer" not in text:
        return TimeQuery()
    if "timer" in text or "alarm" in text:
        if TIMER_CANCEL.search(text):
            return CancelTimer()
        if TIMER_LEFT.search(text):
            return TimerLeft()
        if TIMER_SET.search(text) and (seconds := parse_duration(text)) is not None:
            return SetTimer(seconds)
    elif TIMER_LEFT.search(text) and re.search(r"\b(time|long)\b", text) and "until" not in text:
        return TimerLeft()  # "how much time is left?"
    if REMIND.match(text):
        return parse_reminder(text)
    if (asked := state_question(text, devices)) is not None:  # before the weather
        return asked
    if WEATHER.search(text) and not ASKS_WHY.search(text):
        return CannotDo("weather")
    if MEDIA.match(text):
        return CannotDo("media")
    if LIVE.search(text) and not ASKS_WHY.search(text):
        return CannotDo("live")
    return home_control(text, devices, last)


def question(intent: Intent, transcript: str, reply: str) -> Question | None:
    """The question this intent's reply (said to the command in `transcript`) asks, if it
    asks one."""
    if isinstance(intent, WhichDevice) or (isinstance(intent, Reminder) and not intent.when_known):
        return Question(intent, core(normalize(transcript)), reply)
    return None


def answer(q: Question, transcript: str, devices: Sequence[Device] = ()) -> Intent | None:
    """The intent a reply to the question makes of its command ("turn off the bedroom" +
    "the fan" = "turn off the bedroom fan"), or `NeverMind`; None when it does not answer
    it (it is then a turn of its own)."""
    text = core(normalize(transcript))
    if NEVER_MIND.match(text):
        return NeverMind()
    match q.asked:
        case WhichDevice(devices=names, said=said):
            if ALL_ANSWER.match(text):  # "both": the bedroom lights and the bedroom fan
                chosen = " and ".join(names)
                if kind_of(said):  # "which light?" "all of them": all the lights
                    chosen = f"all the {plural(said)}"
            elif device := offered_device(text, [d for d in devices if d.name in names]):
                chosen = device.name
            else:
                return None
            command = re.sub(rf"\b{re.escape(said)}\b", chosen, q.command, count=1)
            intent = match_intent(command, devices)
            return intent if isinstance(intent, DeviceCommand) else None
        case Reminder():
            if len(text.split()) > 6:
                return None  # a sentence of its own, not a time
            for when in (text, f"at {text}"):
                intent = match_intent(f"{q.command} {when}", devices)
                if isinstance(intent, Reminder) and intent.when_known:
                    return intent
    return None


def fixed_replies(devices: Sequence[Device]) -> list[str]:
    """The replies worth rendering at start-up: each device's confirmations, and the
    answers that never change."""
    return [*all_confirmations(devices), *CANNOT_SAY.values(), NO_TIME_SAY]
