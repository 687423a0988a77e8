"""The home as the assistant knows it: the devices it may name, where each came from, and
the last state each reported. Sources (the broker's Zigbee2MQTT and Home Assistant discovery
configs, the user's `[[devices]]`) each give their whole set at once and may give it again
(a rename, a new device, a reconnect); the turn reads `devices` and `readings` as they are
at that moment. Pure: the integrations feed it, on the event loop.

`[[devices]]` entries override a found device of the same name (its room, extra aliases)
or add one. The bundled example household (the defaults, when the user wrote no
`[[devices]]`) stands only until some source finds a real device."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from assistant.core.intents.base import Device, Reading, normalize

__all__ = ["CONFIG", "Home", "Reading"]

CONFIG = "config"
"""The source name of the user's `[[devices]]`."""


@dataclass(slots=True)
class Home:
    configured: Sequence[Device] = ()
    examples: bool = False
    """`configured` is the bundled example household, not the user's own."""
    _found: dict[str, tuple[Device, ...]] = field(default_factory=dict)
    _readings: dict[str, Reading] = field(default_factory=dict)
    _sources: dict[str, str] = field(default_factory=dict)
    _devices: tuple[Device, ...] = ()
    changes: int = 0
    """How many times the devices it knows have changed (a rename, a device found)."""

    def __post_init__(self) -> None:
        self._merge()

    @property
    def devices(self) -> tuple[Device, ...]:
        return self._devices

    @property
    def readings(self) -> Mapping[str, Reading]:
        """By device name: what each last reported (not every device reports)."""
        return self._readings

    def source(self, name: str) -> str:
        """Where the device of this name came from ("zigbee2mqtt", "mqtt discovery",
        "config", or "zigbee2mqtt + config" when `[[devices]]` overrides it)."""
        return self._sources.get(name, "")

    def found_by(self, name: str, source: str) -> bool:
        """The device of this name came from `source` (with `[[devices]]` over it or not):
        where its commands go."""
        return self.source(name).startswith(source)

    def found(self, source: str, devices: Sequence[Device]) -> bool:
        """A source's whole set, replacing what it gave before. True if the devices the
        assistant knows changed."""
        before = self._devices
        self._found[source] = tuple(devices)
        self._merge()
        if self._devices == before:
            return False
        self.changes += 1
        return True

    def read(self, name: str, reading: Reading, replace: bool = False) -> None:
        """What a device reported: in part (merged with what it said before), or whole
        (`replace`: a state that says nothing, unavailable, forgets what it said)."""
        if name in self._sources:
            before = Reading() if replace else self._readings.get(name, Reading())
            self._readings[name] = before.merged(reading)

    def _merge(self) -> None:
        by_name: dict[str, Device] = {}
        sources: dict[str, str] = {}
        for source, devices in self._found.items():
            for d in devices:
                key = normalize(d.name)
                if key not in by_name:  # the first source to name it keeps it
                    by_name[key], sources[key] = d, source
        real = bool(by_name)
        for d in self.configured if not (self.examples and real) else ():
            key = normalize(d.name)
            if (had := by_name.get(key)) is None:
                by_name[key], sources[key] = d, CONFIG
                continue
            aliases = tuple(dict.fromkeys((*had.aliases, *d.aliases)))
            by_name[key] = replace(had, room=d.room or had.room, aliases=aliases)
            sources[key] = f"{sources[key]} + {CONFIG}"
        self._devices = tuple(by_name.values())
        self._sources = {by_name[k].name: s for k, s in sources.items()}
        self._readings = {n: r for n, r in self._readings.items() if n in self._sources}
