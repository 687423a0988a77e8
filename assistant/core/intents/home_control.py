"""The grammar of device commands: "turn off the kitchen lights", "open the garage door",
"set the living room to 21 degrees", "turn the lights off everywhere", two commands in one,
and a command with no action here ("dim the kitchen lights")."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.core.intents.base import Command, Device, DeviceAction, DeviceKind
from assistant.core.intents.device_names import Named, find_devices, longest_name_in
from assistant.core.intents.devices import (
    DeviceCommand,
    NoSuchAction,
    UnknownDevice,
    WhichDevice,
    kind_of,
    of_kind,
    plural,
)
from assistant.core.intents.numbers import NUMBER, parse_number

HomeIntent = DeviceCommand | UnknownDevice | WhichDevice | NoSuchAction
"""What a device command makes of a phrase: done, which one, unknown, or no such action."""

_SWITCH = "turn|switch|put|shut"
"""The verbs of "turn (the lights) on", wherever a command is parsed."""
_ON_OFF = re.compile(
    rf"^(?:{_SWITCH}) (?:back )?(on|off) (?:the |my )?(.+)$|"
    rf"^(?:{_SWITCH}) (?:the |my )?(.+?)(?: back)? (on|off)$|"
    r"^(?:the )?(.+?) (on|off)$"
)
_OPEN_CLOSE = re.compile(
    r"^(open|close|shut|raise|lower|lift) (?:up |down )?(?:the |my )?(.+?)(?: (?:up|down))?$"
)
_SET = re.compile(
    r"^(?:set|put|change|turn|make|dim|brighten|adjust) (?:the |my )?(.+?) "
    r"(?:to|at|up to|down to) "
    rf"({NUMBER})(?: ?(degrees?|percent|celsius|fahrenheit))?(?: (?:degrees?|celsius))?$"
)
_OPEN_WORDS = {
    "open": "open", "raise": "open", "lift": "open", "close": "close", "shut": "close",
    "lower": "close",
}  # fmt: skip


_QUESTION = re.compile(r"^(?:is|are|was|were|did|does|do|can|could|should|why|what|how|when|who)\b")


_THEN = re.compile(
    rf",? and (?:then )?(?=(?:{_SWITCH}|open|close|raise|lower|lift|set|change|make|"
    r"dim|brighten|adjust) )"
)
"""Where a second command starts: "turn off the lights and open the garage door"."""


def home_control(
    text: str, devices: Sequence[Device], last: DeviceCommand | None
) -> HomeIntent | None:
    if _QUESTION.match(text):
        return None  # "is the kitchen light on?" asks, it does not command
    if len(commands := _THEN.split(text)) > 1:
        # Each its own command; all of them device commands, or the first that is not.
        intents = [_device_command(c, devices, last) for c in commands]
        done = [i for i in intents if isinstance(i, DeviceCommand)]
        if len(done) == len(intents):
            return DeviceCommand(tuple(a for i in done for a in i.actions))
        return next(i for i in intents if not isinstance(i, DeviceCommand))
    return _device_command(text, devices, last) or _no_such_action(text, devices)


_COMMANDING = re.compile(
    rf"^(?:{_SWITCH}|set|make|dim|brighten|open|close|raise|lower|lock|unlock|"
    r"start|stop|change|adjust|increase|decrease|reduce|boost|lift)\b"
)
_WARMTH = re.compile(r"\b(?:warmer|cooler|colder|hotter|heat up|cool down)\b")


def _no_such_action(text: str, devices: Sequence[Device]) -> NoSuchAction | UnknownDevice | None:
    """A command ("turn up", "dim", "lock", "make ... warmer") that names a device, a kind
    of device or the warmth, for which no rule above has an action."""
    if not _COMMANDING.match(text):
        return None
    if (device := longest_name_in(text, devices)) is not None:
        return NoSuchAction(device.name, device.kind)
    word = next((w for w in text.split() if kind_of(w)), None)
    if word is None and _WARMTH.search(text):
        word = "heating"
    if word is None:
        return None
    alike = of_kind(word, devices)
    if not alike:
        return UnknownDevice(word)  # "raise the blinds": there are none
    if alike[0].kind == "climate" and len(alike) == 1:
        return NoSuchAction(alike[0].name, "climate")  # "make it warmer": there is one
    return NoSuchAction("", alike[0].kind, plural(word))


def _device_command(
    text: str, devices: Sequence[Device], last: DeviceCommand | None
) -> HomeIntent | None:
    # "(turn the) lights on in the hallway" -> "turn on hallway lights"
    text = re.sub(
        rf"^(?:(?:{_SWITCH}) )?(?:the )?(.+?) (on|off) in (?:the )?"
        r"(?!every|all |whole |house$)(.+)$",
        r"turn \2 \3 \1",
        text,
    )
    # "(turn the) lights off everywhere" -> "turn off lights everywhere"
    text = re.sub(
        rf"^(?:(?:{_SWITCH}) )?(?:the )?(.+?) (on|off) ((?:in|all over) .+|everywhere)$",
        r"turn \2 \1 \3",
        text,
    )
    if m := _SET.match(text):
        target, number, unit = m.group(1), parse_number(m.group(2)), m.group(3)
        named = commandable(find_devices(target, devices, "set", last))
        if not isinstance(named, Named):
            return named
        return DeviceCommand(
            tuple(
                DeviceAction(
                    d.name,
                    d.kind,
                    "set",
                    number,
                    "percent" if unit == "percent" or d.kind != "climate" else "degrees",
                )
                for d in named.devices
            ),
            named.all_of,
        )
    if m := _ON_OFF.match(text):
        on = (m.group(1) or m.group(4) or m.group(6)) == "on"
        said = m.group(2) or m.group(3) or m.group(5)
        named = commandable(find_devices(said, devices, "on_off", last))
        if isinstance(named, UnknownDevice) and m.group(5) is not None:
            return None  # "<anything> on" is too loose to claim without a known device.
        if not isinstance(named, Named):
            return named
        return DeviceCommand(
            tuple(DeviceAction(d.name, d.kind, _on_off(on, d.kind)) for d in named.devices),
            named.all_of,
        )
    if m := _OPEN_CLOSE.match(text):
        named = commandable(find_devices(m.group(2), devices, "open_close", last))
        if isinstance(named, UnknownDevice) and m.group(1) not in ("open", "close"):
            return None
        if not isinstance(named, Named):
            return named
        opening = _OPEN_WORDS[m.group(1)] == "open"
        return DeviceCommand(
            tuple(
                DeviceAction(d.name, d.kind, "open" if opening else "close") for d in named.devices
            ),
            named.all_of,
        )
    return None


def commandable(
    named: Named | WhichDevice | UnknownDevice,
) -> Named | WhichDevice | UnknownDevice | NoSuchAction:
    """The devices named, if every one takes commands (a sensor is only asked about)."""
    sensors = [d for d in named.devices if d.kind == "sensor"] if isinstance(named, Named) else []
    return NoSuchAction(sensors[0].name, "sensor") if sensors else named


def _on_off(on: bool, kind: DeviceKind) -> Command:
    if kind == "cover":
        return "open" if on else "close"
    return "on" if on else "off"
