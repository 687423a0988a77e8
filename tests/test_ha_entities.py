"""Home Assistant's entities as devices (`integrations/homeassistant/entities.py`), from
what its WebSocket API returns: only those exposed to Assist, named and placed as Home
Assistant shows them; states in the assistant's words; commands as service calls."""

from __future__ import annotations

from typing import Any

from assistant.core.intents import Device, DeviceAction, Reading
from assistant.integrations.homeassistant.entities import (
    Entity,
    can,
    entities,
    exposed_ids,
    reading,
    service_call,
)

AREAS = [{"area_id": "kitchen", "name": "Kitchen"}, {"area_id": "garage", "name": "Garage"},
         {"area_id": "living_room", "name": "Living Room"}]  # fmt: skip
DEVICES = [{"id": "d1", "area_id": "garage", "name": "Door opener"}]
REGISTRY: list[dict[str, Any]] = [
    {"entity_id": "light.ceiling", "area_id": "kitchen", "device_id": None,
     "aliases": ["Big Light"], "name": None, "original_name": "Ceiling"},
    {"entity_id": "cover.garage_door", "area_id": None, "device_id": "d1", "aliases": []},
    {"entity_id": "sensor.living_room_temperature", "area_id": "living_room",
     "device_class": None, "original_device_class": "temperature"},
]  # fmt: skip


def state(eid: str, value: str, **attributes: Any) -> dict[str, Any]:
    return {"entity_id": eid, "state": value, "attributes": attributes}


STATES = [
    state("light.ceiling", "on", friendly_name="Kitchen Ceiling"),
    state("cover.garage_door", "open", friendly_name="Garage Door"),
    state("sensor.living_room_temperature", "21.3", friendly_name="Living Room Temperature",
          unit_of_measurement="°C"),
    state("climate.hall", "heat", friendly_name="Hall Thermostat", current_temperature=68,
          max_temp=95),
    state("binary_sensor.front_door", "off", friendly_name="Front Door", device_class="door"),
    state("light.attic", "off", friendly_name="Attic Light"),  # not exposed
    state("media_player.tv", "on", friendly_name="TV"),  # exposed, but not a kind it knows
]  # fmt: skip
EXPOSED = {
    "exposed_entities": {
        "light.ceiling": {"conversation": True, "cloud.alexa": False},
        "cover.garage_door": {"conversation": True},
        "sensor.living_room_temperature": {"conversation": True},
        "climate.hall": {"conversation": True},
        "binary_sensor.front_door": {"conversation": True},
        "light.attic": {"conversation": False},
        "media_player.tv": {"conversation": True},
    }
}


def found(fahrenheit: bool = True) -> dict[str, Entity]:
    """(The test's Home Assistant is on a Fahrenheit system, as `get_config` says.)"""
    listed = entities(AREAS, DEVICES, REGISTRY, exposed_ids(EXPOSED), STATES, fahrenheit)
    return {e.entity_id: e for e in listed}


def test_only_what_is_exposed_to_assist_and_of_a_kind_it_knows() -> None:
    assert sorted(found()) == [
        "binary_sensor.front_door", "climate.hall", "cover.garage_door", "light.ceiling",
        "sensor.living_room_temperature",
    ]  # fmt: skip


def test_named_and_placed_as_home_assistant_shows_them() -> None:
    f = found()
    assert f["light.ceiling"].device == Device(
        "kitchen ceiling", "light", "kitchen", ("big light",)
    )
    assert f["cover.garage_door"].device.room == "garage"  # its device's area
    assert f["sensor.living_room_temperature"].device.kind == "sensor"  # from the registry
    assert f["binary_sensor.front_door"].device.kind == "sensor"  # from its state
    assert f["climate.hall"].device.room == ""


def test_states_in_the_assistants_words() -> None:
    f = found()
    assert reading(f["light.ceiling"], STATES[0]) == Reading(state="on")
    assert reading(f["cover.garage_door"], state("cover.garage_door", "closed")) == Reading(
        "closed"
    )
    assert reading(f["cover.garage_door"], state("cover.garage_door", "opening")) == Reading("open")
    assert reading(f["sensor.living_room_temperature"], STATES[2]) == Reading(temperature=21.3)
    hall = reading(f["climate.hall"], STATES[3])  # a Fahrenheit system: 68 °F
    assert hall.state == "on" and hall.temperature == 20.0
    assert reading(found(fahrenheit=False)["climate.hall"], STATES[3]).temperature == 68
    assert reading(f["binary_sensor.front_door"], STATES[4]) == Reading(state="closed")
    assert reading(f["light.ceiling"], state("light.ceiling", "unavailable")) == Reading()
    assert reading(f["sensor.living_room_temperature"], state("s", "nan-ish")) == Reading()


def test_commands_are_service_calls() -> None:
    f = found()

    def call(eid: str, command: str, value: float | None = None) -> Any:
        e = f[eid]
        return service_call(e, DeviceAction(e.device.name, e.device.kind, command, value))  # type: ignore[arg-type]

    assert call("light.ceiling", "off") == ("light", "turn_off", {})
    assert call("light.ceiling", "set", 30) == ("light", "turn_on", {"brightness_pct": 30})
    assert call("cover.garage_door", "open") == ("cover", "open_cover", {})
    assert call("cover.garage_door", "set", 50) == ("cover", "set_cover_position", {"position": 50})
    # Said in °C, set in the system's °F (to the half degree).
    assert call("climate.hall", "set", 21) == ("climate", "set_temperature", {"temperature": 70})
    assert call("climate.hall", "set", 20) == ("climate", "set_temperature", {"temperature": 68})
    assert call("binary_sensor.front_door", "on") is None
    assert can(f["binary_sensor.front_door"]) == ()
    assert can(f["cover.garage_door"]) == ("open", "close", "set")
