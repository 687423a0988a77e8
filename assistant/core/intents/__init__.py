"""Commands answered without a language model, matched from the transcript by a small grammar:
the time and the date (here and in other cities), timers, reminders, home control over the
configured devices, the assistant's own questions answered in a word or two, and saying
plainly what it cannot do (weather, music).

One module per intent family, each with its dataclasses, patterns and reply wording;
`grammar.match_intent` reads a transcript, the turn calls an intent's `reply`, `act` and
`record` (base.py) without knowing which one it has.
"""

from assistant.core.intents.base import (
    Command,
    Device,
    DeviceAction,
    DeviceKind,
    IntentContext,
    Reading,
    normalize,
)
from assistant.core.intents.cannot import ASKS_WHY, CANNOT_SAY, CannotDo
from assistant.core.intents.device_names import (
    ends_in_part_of_a_name,
    find_device,
    find_devices,
)
from assistant.core.intents.devices import (
    DeviceCommand,
    NoSuchAction,
    UnknownDevice,
    WhichDevice,
    all_confirmations,
    confirmation,
    no_such_action_reply,
    unknown_device_reply,
    which_device_reply,
)
from assistant.core.intents.followups import (
    ANSWER_WINDOW_S,
    IT_WINDOW_S,
    NEVER_MIND_SAY,
    NeverMind,
    Question,
)
from assistant.core.intents.grammar import Intent, answer, fixed_replies, match_intent, question
from assistant.core.intents.numbers import parse_duration, parse_number, say_duration
from assistant.core.intents.reminders import (
    NO_TIME_SAY,
    Reminder,
    reminder_due,
    reminder_due_say,
    reminder_reply,
)
from assistant.core.intents.states import StateQuestion, TemperatureQuestion
from assistant.core.intents.time_of_day import DateQuery, TimeQuery, say_date, say_time
from assistant.core.intents.timers import CancelTimer, SetTimer, TimerLeft, set_reply
from assistant.core.intents.world_time import WorldTime

__all__ = [
    "ANSWER_WINDOW_S",
    "ASKS_WHY",
    "CANNOT_SAY",
    "IT_WINDOW_S",
    "NEVER_MIND_SAY",
    "NO_TIME_SAY",
    "CancelTimer",
    "CannotDo",
    "Command",
    "DateQuery",
    "Device",
    "DeviceAction",
    "DeviceCommand",
    "DeviceKind",
    "Intent",
    "IntentContext",
    "NeverMind",
    "NoSuchAction",
    "Question",
    "Reading",
    "Reminder",
    "SetTimer",
    "StateQuestion",
    "TemperatureQuestion",
    "TimeQuery",
    "TimerLeft",
    "UnknownDevice",
    "WhichDevice",
    "WorldTime",
    "all_confirmations",
    "answer",
    "confirmation",
    "ends_in_part_of_a_name",
    "find_device",
    "find_devices",
    "fixed_replies",
    "match_intent",
    "no_such_action_reply",
    "normalize",
    "parse_duration",
    "parse_number",
    "question",
    "reminder_due",
    "reminder_due_say",
    "reminder_reply",
    "say_date",
    "say_duration",
    "say_time",
    "set_reply",
    "unknown_device_reply",
    "which_device_reply",
]
