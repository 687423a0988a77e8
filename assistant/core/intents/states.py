"""Questions about the home's state, answered from what its devices last reported (`Home`):
"is the garage door open?", "are the kitchen lights on?", "what's the temperature in the
living room?", "how warm is the bedroom?". A device that has reported nothing is said to be
unknown, never guessed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from assistant.core.intents.base import Device, IntentBase, IntentContext, normalize
from assistant.core.intents.device_names import find_device
from assistant.core.intents.devices import WhichDevice

_IS = re.compile(
    r"^(?:is|are) (?:the |my |our )?(.+?) (?:still |currently |now )?"
    r"(on|off|open|opened|closed|shut)(?: right now| now| at the moment)?$"
)
_TEMPERATURE = (
    re.compile(
        r"^(?:what(?:'s| is| s)|how) (?:the )?(?:temperature|warm|hot|cold|cool)(?: is it)? "
        r"(?:in|of|at|inside) (?:the |my |our )?(.+)$"
    ),
    re.compile(r"^how (?:warm|hot|cold|cool) is (?:it )?(?:in )?(?:the |my |our )?(.+)$"),
    re.compile(r"^what(?:'s| is| s) (?:the |my |our )?(.+?) temperature$"),
)
_ASKED = {"on": "on", "off": "off", "open": "open", "opened": "open", "closed": "closed",
          "shut": "closed"}  # fmt: skip


def _is(name: str) -> str:
    return "are" if name.endswith("s") else "is"


@dataclass(frozen=True, slots=True)
class StateQuestion(IntentBase):
    """ "Is the garage door open?": yes or no from the device's last report."""

    device: str
    asked: str
    """"on", "off", "open" or "closed"."""
    name: ClassVar[str] = "device_state"

    def reply(self, ctx: IntentContext) -> str:
        reading = ctx.readings.get(self.device)
        the = f"the {self.device}"
        if reading is None or reading.state is None:
            return f"I don't know: {the} hasn't reported whether it's {self.asked}."
        yes = "Yes" if reading.state == self.asked else "No"
        return f"{yes}, {the} {_is(self.device)} {reading.state}."

    def record(self) -> dict[str, Any]:
        return {"asked": {"device": self.device, "state": self.asked}}


@dataclass(frozen=True, slots=True)
class TemperatureQuestion(IntentBase):
    """ "What's the temperature in the living room?": from its sensors, else its thermostat."""

    place: str
    """As said: "living room"."""
    devices: tuple[str, ...]
    """Those that may know, the sensors first."""
    name: ClassVar[str] = "temperature"

    def reply(self, ctx: IntentContext) -> str:
        for name in self.devices:
            reading = ctx.readings.get(name)
            if reading is not None and reading.temperature is not None:
                return f"It's {_degrees(reading.temperature)} degrees in the {self.place}."
        return f"I don't know: nothing in the {self.place} has reported a temperature."

    def record(self) -> dict[str, Any]:
        return {"asked": {"place": self.place, "devices": list(self.devices)}}


def _degrees(t: float) -> str:
    return f"{round(t * 2) / 2:g}"  # to the half degree, as a thermostat shows it


def state_question(
    text: str, devices: Sequence[Device]
) -> StateQuestion | TemperatureQuestion | WhichDevice | None:
    """The question, if the text asks one about a device or a room it knows."""
    if m := _IS.match(text):
        asked = _ASKED[m.group(2)]
        found = find_device(
            m.group(1), devices, "open_close" if asked in ("open", "closed") else "on_off"
        )
        if isinstance(found, Device):
            return StateQuestion(found.name, asked)
        return found  # which one? (or None: not a device it knows)
    for pattern in _TEMPERATURE:
        if m := pattern.match(text):
            return _temperature(m.group(1), devices)
    return None


def _temperature(place: str, devices: Sequence[Device]) -> TemperatureQuestion | None:
    place = place.removesuffix(" right now").removesuffix(" now")
    here = [
        d
        for d in devices
        if d.kind in ("sensor", "climate")
        and (normalize(d.room) == place or any(place in n for n in d.spoken_names()))
    ]
    if not here:
        return None  # not a room or device of this home ("in Paris" is the weather)
    here.sort(key=lambda d: d.kind != "sensor")
    return TemperatureQuestion(place, tuple(d.name for d in here))
