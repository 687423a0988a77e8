"""Commands to the home's devices and what is said back: done ("Okay, kitchen lights
off."), which one ("Which one: the bedroom lights or the bedroom fan?"), unknown, or not
something the device can do. Which devices a phrase names is device_names.py; the command
grammar is home_control.py."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any, ClassVar

from assistant.core.intents.base import (
    Command,
    Device,
    DeviceAction,
    DeviceKind,
    IntentBase,
    IntentContext,
)


@dataclass(frozen=True, slots=True)
class DeviceCommand(IntentBase):
    """A command to one device or several: "turn off the kitchen and hallway lights", "close
    all the blinds"."""

    actions: tuple[DeviceAction, ...]
    """One per device, in the order they were named."""
    all_of: str = ""
    """What "all" named, as said ("lights", "bedroom lights"), when the command named
    devices so: confirmed as "all the lights" rather than a list of names."""
    name: ClassVar[str] = "device"

    def reply(self, ctx: IntentContext) -> str:
        if away := self._unreachable(ctx):
            return f"Sorry, I can't reach {' or '.join(away)} right now: nothing was changed."
        return confirmation(self)

    def act(self, ctx: IntentContext) -> None:
        if self._unreachable(ctx):
            return  # said so (the sink answers as it did then): none of it, not some
        for action in self.actions:
            ctx.actions.send(action)

    def _unreachable(self, ctx: IntentContext) -> list[str]:
        away = (ctx.actions.unreachable(a.device) for a in self.actions)
        return sorted({a for a in away if a})

    def record(self) -> dict[str, Any]:
        return {
            "actions": [
                {"device": a.device, "command": a.command}
                | ({} if a.value is None else {"value": a.value})
                for a in self.actions
            ]
        }


@dataclass(frozen=True, slots=True)
class UnknownDevice(IntentBase):
    """A home-control command for a device nobody configured: say so, do nothing."""

    spoken: str
    name: ClassVar[str] = "unknown_device"

    @property
    def whole(self) -> bool:
        return False

    def reply(self, ctx: IntentContext) -> str:
        return unknown_device_reply(self.spoken)


@dataclass(frozen=True, slots=True)
class WhichDevice(IntentBase):
    """A command that names no one device: only a room in which it means several or none
    ("turn off the bedroom": its lights or its fan? "turn on the garage": not its door), or
    a kind of which there are several ("turn on the light"): ask, do nothing."""

    devices: tuple[str, ...]
    said: str
    """The room or kind as it was said ("bedroom", "light"): the answer's device takes its
    place in the command."""
    name: ClassVar[str] = "which_device"

    @property
    def whole(self) -> bool:
        return False

    def reply(self, ctx: IntentContext) -> str:
        return which_device_reply(self, ctx.devices)


@dataclass(frozen=True, slots=True)
class NoSuchAction(IntentBase):
    """A command to a device that has no action here ("turn up the heating", "dim the
    kitchen lights", "turn the lights blue", "lock the front door"): say what can be done,
    rather than let a small model answer ("To turn up the heating, you need to turn the heat
    up.")."""

    device: str
    """The device it named, or "" (then `said` is the kind as said: "lights")."""
    kind: DeviceKind
    said: str = ""
    name: ClassVar[str] = "no_such_action"

    @property
    def whole(self) -> bool:
        return False

    def reply(self, ctx: IntentContext) -> str:
        return no_such_action_reply(self)


KIND_WORDS: dict[DeviceKind, tuple[str, ...]] = {
    "light": ("light", "lights", "lamp", "lamps"),
    "fan": ("fan", "fans"),
    "switch": ("switch", "switches", "plug", "plugs"),
    "cover": ("door", "doors", "blinds", "shutters", "curtains"),
    "climate": ("thermostat", "thermostats", "heating", "heat", "temperature"),
    "sensor": ("sensor", "sensors"),
}


def kind_of(word: str) -> DeviceKind | None:
    """The kind a word names ("lamps": light), if it names one."""
    return next((k for k, words in KIND_WORDS.items() if word in words), None)


def of_kind(word: str, devices: Sequence[Device]) -> list[Device]:
    """The devices a word for a kind names: all of the kind ("lamps": the lights), but a
    cover only by its own word ("blinds" are not the garage door)."""
    kind = kind_of(word)
    return [
        d
        for d in devices
        if d.kind == kind
        and (kind != "cover" or word.removesuffix("s") in d.name.replace("-", " ").split())
    ]


def plural(word: str) -> str:
    return (
        word
        if word.endswith("s") or word in ("heating", "heat", "temperature")
        else (word + ("es" if word.endswith(("ch", "sh")) else "s"))
    )


PRONOUN = re.compile(r"^(?:it|them|they|that|those|this|these|that one|this one)$")


def confirmation(cmd: DeviceCommand) -> str:
    """The short confirmation spoken for a device command: "Okay, kitchen lights off.",
    "Okay, all the lights off.", "Okay, bedroom lights and bedroom fan off.", "Okay,
    kitchen lights on, opening the garage door." (those of one device, and all the lights,
    are rendered once at start-up; a `set`'s value varies)."""
    said: list[str] = []
    for (command, value, unit), group in groupby(
        cmd.actions, key=lambda a: (a.command, a.value, a.unit)
    ):
        names = [a.device for a in group]
        the = command in ("open", "close")
        subject = (
            f"all the {cmd.all_of}"
            if cmd.all_of
            else _and([f"the {n}" if the else n for n in names])
        )
        match command:
            case "on" | "off":
                said.append(f"{subject} {command}")
            case "open" | "close":
                said.append(f"{'opening' if command == 'open' else 'closing'} {subject}")
            case "set":
                shown = f"{value if value is not None else 0:g}"
                said.append(f"{subject} to {shown} {unit or ''}".rstrip())
    return f"Okay, {', '.join(said)}."


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def which_device_reply(which: WhichDevice, devices: Sequence[Device]) -> str:
    """The question for a command that named no one device (`WhichDevice`): by their
    names, or, for a kind in several rooms ("turn off the lights"), by room."""
    offered = [d for d in devices if d.name in which.devices]
    rooms = [d.room for d in offered]
    if kind_of(which.said) and len(offered) > 2 and all(rooms) and len(set(rooms)) == len(rooms):
        return f"Which {plural(which.said)}: {_or(rooms)}? Or all of them?"
    names = [f"the {name}" for name in which.devices]
    if len(names) == 1:
        return f"Do you mean {names[0]}?"
    return f"Which one: {_or(names)}?"


def unknown_device_reply(spoken: str) -> str:
    if PRONOUN.match(spoken):  # "turn it off" with no device command said lately
        return "Which device? Say it by name."
    if spoken in ("everything", "all"):
        return "Say which devices, for example: turn off all the lights."
    return f"I don't know a device called {spoken}."


def no_such_action_reply(no: NoSuchAction) -> str:
    """What can be done instead, said plainly."""
    it = f"the {no.device}" if no.device else no.said
    match no.kind:
        case "climate":
            return f"Sorry, I can only set {it} to a temperature, for example 21 degrees."
        case "cover":
            return f"Sorry, I can only open or close {it}, or set a position in percent."
        case "light" | "fan":
            return f"Sorry, I can only switch {it} on or off, or set a level in percent."
        case "sensor":
            return f"Sorry, {it} is a sensor: I can only tell you what it reads."
        case _:
            return f"Sorry, I can only switch {it} on or off."


def _or(items: Sequence[str]) -> str:
    return f"{', '.join(items[:-1])} or {items[-1]}"


def all_confirmations(devices: Sequence[Device]) -> list[str]:
    """The confirmations worth rendering at start-up: on and off (a door's open and close)
    for each device, and for all the lights."""
    commands: dict[DeviceKind, tuple[Command, Command]] = {"cover": ("open", "close")}
    out = [
        confirmation(DeviceCommand((DeviceAction(d.name, d.kind, c),)))
        for d in devices
        if d.kind != "sensor"
        for c in commands.get(d.kind, ("on", "off"))
    ]
    lights = [d for d in devices if d.kind == "light"]
    if len(lights) > 1:
        for c in ("on", "off"):
            every = tuple(DeviceAction(d.name, d.kind, c) for d in lights)
            out.append(confirmation(DeviceCommand(every, "lights")))
    return out
