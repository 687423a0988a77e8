"""Home Assistant's entities as the assistant's devices, parsed from what its WebSocket API
returns (no connection here): which are exposed to Assist, their names, aliases and areas,
their kinds, what a state says, and the service call for a command.

Only the entities Home Assistant exposes to its own voice assistant ("conversation") are
devices here: the user decided there what a voice may reach. Of those, the kinds the intents
know: lights, switches, fans, covers, thermostats, temperature sensors and door or window
sensors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from assistant.core.intents.base import Command, Device, DeviceAction, Reading
from assistant.integrations.ha_kinds import ha_kind

HOME_ASSISTANT = "home assistant"
"""The source name, as `Home.found` keeps sources apart."""


@dataclass(frozen=True, slots=True)
class Entity:
    device: Device
    entity_id: str
    fahrenheit: bool = False
    """Home Assistant's unit system is in °F: a thermostat's temperatures, read and set,
    are in it (a sensor says its own unit)."""

    @property
    def domain(self) -> str:
        return self.entity_id.split(".", 1)[0]


def exposed_ids(listing: Mapping[str, Any]) -> set[str]:
    """From `homeassistant/expose_entity/list`: the entities exposed to Assist."""
    entities = listing.get("exposed_entities", {})
    return {eid for eid, to in entities.items() if isinstance(to, dict) and to.get("conversation")}


def entities(
    areas: Iterable[Mapping[str, Any]],
    devices: Iterable[Mapping[str, Any]],
    registry: Iterable[Mapping[str, Any]],
    exposed: set[str],
    states: Iterable[Mapping[str, Any]],
    fahrenheit: bool = False,
) -> list[Entity]:
    """The exposed entities of the kinds the intents know, as devices: named as Home
    Assistant shows them (their friendly name), with the registry's aliases, in their own
    area or their device's."""
    area_name = {a["area_id"]: a["name"] for a in areas}
    device_area = {d["id"]: d.get("area_id") for d in devices}
    entries = {e["entity_id"]: e for e in registry}
    out = []
    for state in states:
        eid = state.get("entity_id", "")
        if eid not in exposed:
            continue
        entry = entries.get(eid, {})
        attributes = state.get("attributes", {})
        device_class = attributes.get("device_class") or entry.get("device_class")
        domain = eid.split(".", 1)[0]
        if (kind := ha_kind(domain, device_class or entry.get("original_device_class"))) is None:
            continue
        name = attributes.get("friendly_name") or entry.get("name") or entry.get("original_name")
        if not name:
            name = eid.split(".", 1)[1].replace("_", " ")
        area_id = entry.get("area_id") or device_area.get(entry.get("device_id") or "")
        room = area_name.get(area_id, "") if area_id else ""
        aliases = tuple(a.lower() for a in entry.get("aliases") or () if isinstance(a, str))
        out.append(Entity(Device(name.lower(), kind, room.lower(), aliases), eid, fahrenheit))
    return out


def reading(entity: Entity, state: Mapping[str, Any]) -> Reading:
    """What the state says, in the assistant's words. Unavailable or unknown: nothing."""
    value = str(state.get("state", ""))
    attributes = state.get("attributes", {})
    if value in ("unavailable", "unknown", ""):
        return Reading()
    match entity.domain:
        case "light" | "switch" | "fan":
            return Reading(state=value if value in ("on", "off") else None)
        case "cover":
            return Reading(state="closed" if value == "closed" else "open")
        case "binary_sensor":
            return Reading(state={"on": "open", "off": "closed"}.get(value))
        case "climate":
            unit = "°F" if entity.fahrenheit else "°C"
            t = _celsius(attributes.get("current_temperature"), unit)
            return Reading(state="off" if value == "off" else "on", temperature=t)
        case "sensor":
            return Reading(temperature=_celsius(value, attributes.get("unit_of_measurement")))
    return Reading()


def _celsius(value: Any, unit: str | None) -> float | None:
    try:
        t = float(value)
    except (TypeError, ValueError):
        return None
    return (t - 32) * 5 / 9 if unit == "°F" else t


def service_call(entity: Entity, action: DeviceAction) -> tuple[str, str, dict[str, Any]] | None:
    """(domain, service, data) for a command, or None if the entity takes no such command."""
    domain, command, value = entity.domain, action.command, action.value
    match domain, command:
        case (("light" | "switch" | "fan" | "climate"), ("on" | "off")):
            return domain, f"turn_{command}", {}
        case "light", "set":
            return domain, "turn_on", {"brightness_pct": value}
        case "fan", "set":
            return domain, "set_percentage", {"percentage": value}
        case "cover", ("open" | "close"):
            return domain, f"{command}_cover", {}
        case "cover", "set":
            return domain, "set_cover_position", {"position": value}
        case "climate", "set":  # (said in °C)
            if entity.fahrenheit and value is not None:
                value = round((value * 9 / 5 + 32) * 2) / 2
            return domain, "set_temperature", {"temperature": value}
    return None


def can(entity: Entity) -> tuple[str, ...]:
    """The commands it takes, for a listing."""
    commands: tuple[Command, ...] = ("on", "off", "open", "close", "set")
    d = entity.device
    return tuple(c for c in commands if service_call(entity, DeviceAction(d.name, d.kind, c, 1)))
