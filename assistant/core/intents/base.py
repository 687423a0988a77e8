"""What every intent shares: the words of a transcript as the grammar reads them, the devices
of the home, and the context an intent is answered and carried out in.

An intent is a frozen dataclass with a `name` (its reason in the turn record) and three
methods the turn calls without knowing which intent it has: `reply(ctx)` (the one line
said), `act(ctx)` (what it does once that line is handed to the speaker: a speculative turn
the user talks over does nothing) and `record()` (fields for the turn record).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

DeviceKind = Literal["light", "switch", "fan", "cover", "climate", "sensor"]
"""A sensor takes no command: it is only asked about (its temperature, a door open or shut)."""
Command = Literal["on", "off", "open", "close", "set"]


@dataclass(frozen=True, slots=True)
class Device:
    name: str
    """As spoken and as confirmed: "kitchen lights"."""
    kind: DeviceKind
    room: str = ""
    aliases: tuple[str, ...] = ()

    def spoken_names(self) -> list[str]:
        """Every way to say it, longest first: name, aliases, singular/plural, and for a
        thermostat the room's heating or temperature."""
        names = {self.name, *self.aliases}
        for n in list(names):
            if n.endswith("lights"):
                names.add(n[:-1])
            elif n.endswith("light"):
                names.add(n + "s")
        if self.kind == "climate" and self.room:
            names |= {f"{self.room} heating", f"{self.room} temperature"}
        return sorted((normalize(n) for n in names), key=len, reverse=True)


@dataclass(frozen=True, slots=True)
class Reading:
    """What a device last reported: its state ("on", "off", "open", "closed") and, for a
    thermostat or a sensor, the temperature it measures (degrees Celsius)."""

    state: str | None = None
    temperature: float | None = None

    def merged(self, newer: Reading) -> Reading:
        """A partial report (Zigbee2MQTT sends what changed) keeps what it does not say."""
        return Reading(
            newer.state if newer.state is not None else self.state,
            newer.temperature if newer.temperature is not None else self.temperature,
        )


@dataclass(frozen=True, slots=True)
class DeviceAction:
    """What the action sink receives (and MQTT publishes)."""

    device: str
    kind: DeviceKind
    command: Command
    value: float | None = None
    unit: str | None = None


class Timers(Protocol):
    """The running timers and reminders (assistant/pipeline/timers.py), as intents use them."""

    def start(self, seconds: int) -> object: ...
    def cancel(self) -> object: ...
    def preview_cancel(self) -> str: ...
    def left(self) -> str: ...
    def remind(self, seconds: float, says: str) -> None: ...
    def remind_at(self, due: datetime, says: str) -> None: ...


class Actions(Protocol):
    """Where device commands go (assistant/core/actions.py)."""

    def send(self, action: DeviceAction) -> None: ...
    def unreachable(self, device: str) -> str | None:
        """What the device's commands cannot reach now ("Home Assistant"), if anything."""
        ...


@dataclass(frozen=True, slots=True)
class IntentContext:
    """What an intent is answered with and carried out on."""

    now: datetime
    """The wall-clock time of the turn, local (naive) or timezone-aware: the answer and the
    action read the same one, so a reminder goes off when its answer said."""
    devices: Sequence[Device]
    timers: Timers
    actions: Actions
    readings: Mapping[str, Reading] = field(default_factory=dict)
    """What each device last reported, by name (`core/home.py`)."""


class IntentBase:
    """What the turn asks of every intent."""

    __slots__ = ()
    name: ClassVar[str]

    @property
    def whole(self) -> bool:
        """The request was understood whole (evidence that the user has finished:
        `turn_end`); False for the intents that ask back (which device, when to remind), or
        say that a device is not known or cannot do it, or a place is not known."""
        return True

    def reply(self, ctx: IntentContext) -> str:
        raise NotImplementedError

    def act(self, ctx: IntentContext) -> None:
        """Carry it out; most intents only answer."""

    def record(self) -> dict[str, Any]:
        """Fields the turn record carries for it."""
        return {}


def normalize(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("%", " percent")
    # Accents off rather than the letter ("São Paulo" is "sao paulo", not "s o paulo"); any
    # other character is left to become a space below ("1½" must not read "12").
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    text = re.sub(r"(\d)\.(\d)", r"\1_\2", text)  # keep 21.5 whole
    text = re.sub(r"[^a-z0-9_' ]+", " ", text).replace("_", ".")
    return re.sub(r"\s+", " ", text).strip()


_POLITE = re.compile(
    r"^(?:(?:hey|okay|ok|so|um|uh|please|assistant|can you|could you|would you|will you|"
    r"i want you to|i'd like you to|go ahead and|just)\s+)+"
)
_TRAILING = re.compile(r"(?:\s+(?:please|for me|now|right now|thanks|thank you))+$")


def core(text: str) -> str:
    return _TRAILING.sub("", _POLITE.sub("", text)).strip()
