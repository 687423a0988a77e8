"""What the broker says about the home, parsed: Zigbee2MQTT's bridge/devices list and Home
Assistant discovery configs as real installations publish them, and the state payloads that
follow."""

from __future__ import annotations

import json
from typing import Any

from assistant.core.intents.base import Device, DeviceAction, Reading
from assistant.integrations.mqtt.found import (
    Found,
    StateKeys,
    from_bridge_devices,
    from_discovery,
    reading,
)


def _state(name: str, value_on: Any = "ON", value_off: Any = "OFF", prop: str = "state") -> Any:
    return {"type": "binary", "name": name, "property": prop, "access": 7,
            "value_on": value_on, "value_off": value_off}  # fmt: skip


def _z2m(ieee: str, name: str, exposes: list[Any], **more: Any) -> dict[str, Any]:
    return {"ieee_address": ieee, "friendly_name": name, "type": "Router", "disabled": False,
            "interview_completed": True, "definition": {"exposes": exposes}} | more  # fmt: skip


BRIDGE = json.dumps([
    {"ieee_address": "0x00124b0001", "friendly_name": "Coordinator", "type": "Coordinator",
     "definition": None, "disabled": False},
    _z2m("0x001788010b", "kitchen/ceiling_light", [
        {"type": "light", "features": [
            _state("state"),
            {"type": "numeric", "name": "brightness", "property": "brightness",
             "value_min": 0, "value_max": 254, "access": 7}]},
        {"type": "numeric", "name": "linkquality", "property": "linkquality", "access": 1}]),
    _z2m("0x54ef4410", "Coffee Plug", [
        {"type": "switch", "features": [_state("state")]},
        {"type": "numeric", "name": "power", "property": "power", "unit": "W", "access": 5}]),
    _z2m("0xa4c13831", "living room/blinds", [
        {"type": "cover", "features": [
            {"type": "enum", "name": "state", "property": "state",
             "values": ["OPEN", "CLOSE", "STOP"], "access": 3},
            {"type": "numeric", "name": "position", "property": "position",
             "value_min": 0, "value_max": 100, "access": 7}]}]),
    _z2m("0x84fd27ff", "bedroom/radiator", [
        {"type": "climate", "features": [
            {"type": "numeric", "name": "local_temperature", "property": "local_temperature",
             "access": 5},
            {"type": "numeric", "name": "current_heating_setpoint",
             "property": "current_heating_setpoint", "access": 7},
            {"type": "enum", "name": "system_mode", "property": "system_mode",
             "values": ["off", "heat", "auto"], "access": 7}]},
        {"type": "numeric", "name": "battery", "property": "battery", "access": 1}],
        type="EndDevice"),
    _z2m("0x00158d0004", "bathroom/climate_sensor", [
        {"type": "numeric", "name": "temperature", "property": "temperature", "unit": "°C",
         "access": 1},
        {"type": "numeric", "name": "humidity", "property": "humidity", "access": 1}],
        type="EndDevice"),
    _z2m("0x00158d0005", "hall/front door", [
        _state("contact", value_on=False, value_off=True, prop="contact"),
        {"type": "numeric", "name": "battery", "property": "battery", "access": 1}],
        type="EndDevice"),
    _z2m("0x00158d0006", "garage/old lamp", [{"type": "light", "features": [_state("state")]}],
         disabled=True),
    _z2m("0x00158d0007", "front door lock", [
        {"type": "lock", "features": [_state("state", "LOCK", "UNLOCK")]}]),
    {"ieee_address": "0x00158d0008", "friendly_name": "new device", "type": "EndDevice",
     "definition": None, "disabled": False, "interview_completed": False},
])  # fmt: skip


def _bridge() -> dict[str, Found]:
    return {f.key: f for f in from_bridge_devices(BRIDGE.encode())}


def test_zigbee2mqtt_devices_are_named_as_spoken_with_their_rooms() -> None:
    found = _bridge()
    assert [(f.device.name, f.device.kind, f.device.room) for f in found.values()] == [
        ("kitchen ceiling light", "light", "kitchen"),
        ("coffee plug", "switch", ""),
        ("living room blinds", "cover", "living room"),
        ("bedroom radiator", "climate", "bedroom"),
        ("bathroom climate sensor", "sensor", "bathroom"),
        ("hall front door", "sensor", "hall"),
    ]


def test_zigbee2mqtt_light_topics_and_payloads() -> None:
    light = _bridge()["0x001788010b"]
    assert light.state_topic == "zigbee2mqtt/kitchen/ceiling_light"
    assert light.can() == ("on", "off", "set")
    on = light.payload(DeviceAction("kitchen ceiling light", "light", "on"))
    assert on == ("zigbee2mqtt/kitchen/ceiling_light/set", '{"state": "ON"}')
    dim = light.payload(DeviceAction("kitchen ceiling light", "light", "set", 40, "%"))
    assert dim == ("zigbee2mqtt/kitchen/ceiling_light/set", '{"brightness_percent": 40}')
    assert light.payload(DeviceAction("kitchen ceiling light", "light", "open")) is None
    assert light.payload(DeviceAction("kitchen ceiling light", "light", "set")) is None


def test_zigbee2mqtt_base_topic_is_the_one_given() -> None:
    (plug,) = [f for f in from_bridge_devices(BRIDGE, base="z2m") if f.device.kind == "switch"]
    assert plug.can() == ("on", "off")
    assert plug.payload(DeviceAction("coffee plug", "switch", "off")) == (
        "z2m/Coffee Plug/set",
        '{"state": "OFF"}',
    )


def test_zigbee2mqtt_cover_and_thermostat_commands() -> None:
    found = _bridge()
    blinds, radiator = found["0xa4c13831"], found["0x84fd27ff"]
    assert blinds.can() == ("open", "close", "set")
    assert blinds.payload(DeviceAction("living room blinds", "cover", "close")) == (
        "zigbee2mqtt/living room/blinds/set",
        '{"state": "CLOSE"}',
    )
    half = blinds.payload(DeviceAction("living room blinds", "cover", "set", 50))
    assert half == ("zigbee2mqtt/living room/blinds/set", '{"position": 50}')
    assert radiator.can() == ("set",)
    warm = radiator.payload(DeviceAction("bedroom radiator", "climate", "set", 21.5, "°C"))
    assert warm == ("zigbee2mqtt/bedroom/radiator/set", '{"current_heating_setpoint": 21.5}')


def test_zigbee2mqtt_thermostat_with_an_occupied_setpoint() -> None:
    trv = _z2m("0x1", "study/trv", [{"type": "climate", "features": [
        {"type": "numeric", "name": "occupied_heating_setpoint",
         "property": "occupied_heating_setpoint"}]}])  # fmt: skip
    (found,) = from_bridge_devices(json.dumps([trv]))
    assert found.payload(DeviceAction("study trv", "climate", "set", 19)) == (
        "zigbee2mqtt/study/trv/set",
        '{"occupied_heating_setpoint": 19}',
    )
    assert reading(found, '{"occupied_heating_setpoint": 19}') is None


def test_zigbee2mqtt_sensors_take_no_commands() -> None:
    found = _bridge()
    for key in ("0x00158d0004", "0x00158d0005"):
        assert found[key].can() == ()
        assert found[key].command_topic is None
        assert found[key].payload(DeviceAction("x", "sensor", "on")) is None


def test_zigbee2mqtt_readings() -> None:
    found = _bridge()
    light, blinds = found["0x001788010b"], found["0xa4c13831"]
    radiator, sensor, door = (found[k] for k in ("0x84fd27ff", "0x00158d0004", "0x00158d0005"))
    assert reading(light, b'{"state": "ON", "brightness": 120, "linkquality": 90}') == Reading("on")
    assert reading(light, b'{"brightness": 120}') is None
    assert reading(blinds, b'{"state": "CLOSE", "position": 0}') == Reading("closed")
    assert reading(blinds, b'{"state": "OPEN"}') == Reading("open")
    assert reading(blinds, b'{"state": "CLOSED"}') == Reading("closed")
    assert reading(blinds, b'{"state": "STOP", "position": 30}') == Reading("open")
    assert reading(blinds, b'{"position": 0}') == Reading("closed")
    assert reading(radiator, b'{"local_temperature": 19.5, "battery": 80}') == Reading(
        temperature=19.5
    )
    assert reading(sensor, b'{"temperature": 22.31, "humidity": 41}') == Reading(temperature=22.31)
    assert reading(door, b'{"contact": true, "battery": 97}') == Reading("closed")
    assert reading(door, b'{"contact": false}') == Reading("open")


def test_zigbee2mqtt_contact_sensor_with_a_thermometer_reads_both() -> None:
    exposes = [_state("contact", False, True, "contact"),
               {"type": "numeric", "name": "temperature", "property": "temperature"}]  # fmt: skip
    (door,) = from_bridge_devices(json.dumps([_z2m("0x2", "shed door", exposes)]))
    assert reading(door, '{"contact": false, "temperature": 8}') == Reading("open", 8.0)


def test_zigbee2mqtt_fan_uses_its_state_property() -> None:
    fan = {"type": "fan", "features": [_state("state", prop="fan_state")]}
    (found,) = from_bridge_devices(json.dumps([_z2m("0x3", "office/fan", [fan])]))
    assert found.device == Device("office fan", "fan", "office")
    assert found.payload(DeviceAction("office fan", "fan", "on")) == (
        "zigbee2mqtt/office/fan/set",
        '{"fan_state": "ON"}',
    )
    assert reading(found, '{"fan_state": "OFF"}') == Reading("off")


def test_zigbee2mqtt_room_is_not_said_twice() -> None:
    lamp = _z2m("0x4", "Kitchen/Kitchen_Lamp", [{"type": "light", "features": [_state("state")]}])
    (found,) = from_bridge_devices(json.dumps([lamp]))
    assert (found.device.name, found.device.room) == ("kitchen lamp", "kitchen")
    assert found.can() == ("on", "off")  # no brightness


def test_zigbee2mqtt_malformed_lists_give_nothing() -> None:
    assert from_bridge_devices(b"") == []
    assert from_bridge_devices(b"not json") == []
    assert from_bridge_devices(b'{"devices": []}') == []
    assert from_bridge_devices(b"\xff\xfe") == []
    unnamed = _z2m("0x9", "/", [{"type": "switch", "features": [_state("state")]}])
    half = json.dumps([None, 3, {"friendly_name": "x"}, unnamed, json.loads(BRIDGE)[1]])
    assert [f.device.name for f in from_bridge_devices(half)] == ["kitchen ceiling light"]


# Home Assistant MQTT discovery


def _one(topic: str, config: Any) -> Found:
    found = from_discovery(topic, json.dumps(config))
    assert len(found) == 1, found
    return found[0]


def test_abbreviated_switch_with_a_device_and_an_area() -> None:
    plug = _one("homeassistant/switch/tasmota_1A2B3C/relay_0/config", {
        "name": "Relay", "uniq_id": "1A2B3C_RL_1", "stat_t": "stat/tasmota_1A2B3C/POWER",
        "cmd_t": "cmnd/tasmota_1A2B3C/POWER", "pl_on": "ON", "pl_off": "OFF",
        "stat_on": "ON", "stat_off": "OFF",
        "dev": {"ids": ["1A2B3C"], "name": "Aquarium", "sa": "Living Room"}})  # fmt: skip
    assert plug.device == Device("aquarium relay", "switch", "living room")
    assert plug.key == "1A2B3C_RL_1"
    assert plug.can() == ("on", "off")
    assert plug.payload(DeviceAction("aquarium relay", "switch", "on")) == (
        "cmnd/tasmota_1A2B3C/POWER",
        "ON",
    )
    assert reading(plug, b"OFF") == Reading("off")
    assert reading(plug, b"garbage") is None


def test_switch_states_apart_from_its_commands() -> None:
    relay = _one("homeassistant/switch/relay/config", {
        "name": "Heater", "cmd_t": "relay/cmd", "stat_t": "relay/state", "pl_on": "turn_on",
        "pl_off": "turn_off", "stat_on": "on", "stat_off": "off"})  # fmt: skip
    assert relay.payload(DeviceAction("heater", "switch", "on")) == ("relay/cmd", "turn_on")
    assert (reading(relay, "on"), reading(relay, "off")) == (Reading("on"), Reading("off"))
    assert reading(relay, "turn_on") is None


def test_a_command_without_a_topic_is_not_offered() -> None:
    keys = StateKeys()
    watched = Found(Device("pump", "switch"), "k", None, {"on": "1", "off": "0"}, None, "s", keys)
    assert watched.can() == ()
    assert watched.payload(DeviceAction("pump", "switch", "on")) is None


def test_custom_payloads_and_the_base_topic() -> None:
    lamp = _one("homeassistant/light/desk/config", {
        "~": "home/desk_lamp", "name": "Desk lamp", "cmd_t": "~/set", "stat_t": "~/state",
        "bri_cmd_t": "~/brightness/set", "bri_scl": 100, "pl_on": "1", "pl_off": "0"})  # fmt: skip
    assert lamp.device == Device("desk lamp", "light")
    assert (lamp.command_topic, lamp.state_topic) == ("home/desk_lamp/set", "home/desk_lamp/state")
    assert lamp.key == "homeassistant/light/desk/config"
    assert lamp.payload(DeviceAction("desk lamp", "light", "off")) == ("home/desk_lamp/set", "0")
    assert lamp.payload(DeviceAction("desk lamp", "light", "set", 30)) == (
        "home/desk_lamp/brightness/set",
        "30",
    )
    assert reading(lamp, "1") == Reading("on")


def test_base_topic_at_the_end_and_default_brightness_scale() -> None:
    lamp = _one("homeassistant/light/porch/config", {
        "~": "porch", "name": "Porch light", "command_topic": "lights/set/~",
        "brightness_command_topic": "lights/brightness/~"})  # fmt: skip
    assert lamp.command_topic == "lights/set/porch"
    assert lamp.payload(DeviceAction("porch light", "light", "set", 50)) == (
        "lights/brightness/porch",
        "128",
    )
    assert lamp.payload(DeviceAction("porch light", "light", "on")) == ("lights/set/porch", "ON")
    assert lamp.state_topic is None


def test_json_schema_light() -> None:
    strip = _one("homeassistant/light/esp_strip/config", {
        "schema": "json", "name": None, "uniq_id": "strip1", "cmd_t": "esp/strip/set",
        "stat_t": "esp/strip/state", "sup_clrm": ["brightness"],
        "dev": {"name": "TV Backlight", "ids": "strip1"}})  # fmt: skip
    assert strip.device.name == "tv backlight"
    assert strip.can() == ("on", "off", "set")
    assert strip.payload(DeviceAction("tv backlight", "light", "set", 100)) == (
        "esp/strip/set",
        '{"state": "ON", "brightness": 255}',
    )
    assert strip.payload(DeviceAction("tv backlight", "light", "on")) == (
        "esp/strip/set",
        '{"state": "ON"}',
    )
    assert reading(strip, '{"state": "OFF", "brightness": 12}') == Reading("off")
    assert reading(strip, "OFF") is None


def test_json_schema_light_without_brightness_cannot_be_set() -> None:
    onoff = _one("homeassistant/light/hall/config", {
        "schema": "json", "name": "Hall", "command_topic": "hall/set",
        "supported_color_modes": ["onoff"]})  # fmt: skip
    assert onoff.can() == ("on", "off")


def test_device_based_config_with_shared_topics() -> None:
    found = from_discovery("homeassistant/device/shelly1/config", json.dumps({
        "dev": {"ids": ["shelly1"], "name": "Garden", "sa": "Garden"},
        "o": {"name": "shelly2mqtt", "sw": "1.0"},
        "stat_t": "shelly1/status", "cmd_t": "shelly1/command", "qos": 1,
        "cmps": {
            "pump": {"p": "switch", "name": "Pump", "uniq_id": "shelly1_pump",
                     "val_tpl": "{{ value_json.pump }}", "pl_on": "PUMP_ON",
                     "pl_off": "PUMP_OFF"},
            "temp": {"p": "sensor", "name": "Temperature", "dev_cla": "temperature",
                     "unit_of_meas": "°C", "val_tpl": "{{ value_json['temp'] }}"},
            "rssi": {"p": "sensor", "name": "RSSI", "dev_cla": "signal_strength"},
            "button": {"p": "button", "name": "Restart", "cmd_t": "shelly1/restart"},
        },
    }))  # fmt: skip
    pump, temp = found
    assert pump.device == Device("garden pump", "switch", "garden")
    assert temp.device == Device("garden temperature", "sensor", "garden")
    assert (pump.key, temp.key) == ("shelly1_pump", "homeassistant/device/shelly1/config#temp")
    assert pump.payload(DeviceAction("garden pump", "switch", "on")) == (
        "shelly1/command",
        "PUMP_ON",
    )
    assert pump.state_topic == temp.state_topic == "shelly1/status"
    status = b'{"pump": "PUMP_ON", "temp": 14.5}'
    assert (reading(pump, status), reading(temp, status)) == (Reading("on"), Reading(None, 14.5))


def test_temperature_sensor_with_a_template_and_a_raw_one() -> None:
    templated = _one("homeassistant/sensor/bedroom/temperature/config", {
        "name": "Bedroom temperature", "dev_cla": "temperature", "unit_of_meas": "°C",
        "stat_t": "sensors/bedroom", "val_tpl": "{{value_json.temperature}}"})  # fmt: skip
    raw = _one("homeassistant/sensor/attic/config", {
        "name": "Attic", "device_class": "temperature",
        "state_topic": "sensors/attic/t"})  # fmt: skip
    assert templated.state == StateKeys(temperature_key="temperature")
    assert reading(templated, b'{"temperature": 20.5, "humidity": 50}') == Reading(None, 20.5)
    assert reading(templated, b'{"temperature": "unavailable"}') is None
    assert reading(templated, b'{"humidity": 50}') is None
    assert reading(templated, b"20.5") is None
    assert reading(raw, b"-3.5") == Reading(temperature=-3.5)
    assert reading(raw, b"nan") is None
    assert reading(raw, b"unknown") is None


def test_garage_door_binary_sensor() -> None:
    garage = _one("homeassistant/binary_sensor/garage/door/config", {
        "name": "Garage door", "dev_cla": "garage_door", "stat_t": "garage/door",
        "pl_on": "open", "pl_off": "closed"})  # fmt: skip
    default = _one("homeassistant/binary_sensor/back/config", {
        "name": "Back door", "dev_cla": "door", "stat_t": "back/door"})  # fmt: skip
    assert garage.device == Device("garage door", "sensor")
    assert garage.can() == ()
    assert reading(garage, "open") == Reading("open")
    assert reading(garage, "closed") == Reading("closed")
    assert reading(default, "ON") == Reading("open")
    assert reading(default, "OFF") == Reading("closed")


def test_zigbee2mqtts_own_discovery_of_a_contact_sensor() -> None:
    door = _one("homeassistant/binary_sensor/0x00158d0005/contact/config", {
        "name": None, "device_class": "door", "payload_on": False, "payload_off": True,
        "state_topic": "zigbee2mqtt/hall/front door", "value_template": "{{ value_json.contact }}",
        "unique_id": "0x00158d0005_contact_zigbee2mqtt", "origin": {"name": "Zigbee2MQTT"},
        "device": {"identifiers": ["zigbee2mqtt_0x00158d0005"],
                   "name": "hall/front door"}})  # fmt: skip
    assert door.device == Device("hall front door", "sensor")
    assert reading(door, '{"contact": false, "battery": 97}') == Reading("open")
    assert reading(door, '{"contact": true}') == Reading("closed")


def test_cover_with_position_and_state() -> None:
    shutter = _one("homeassistant/cover/shutter/config", {
        "name": "Kitchen shutter", "cmd_t": "shutter/set", "stat_t": "shutter/state",
        "set_pos_t": "shutter/position/set", "pos_t": "shutter/position",
        "pos_open": 255, "pos_clsd": 0, "pl_cls": "DOWN", "pl_open": "UP",
        "stat_open": "up", "stat_clsd": "down"})  # fmt: skip
    assert shutter.can() == ("open", "close", "set")
    assert shutter.payload(DeviceAction("kitchen shutter", "cover", "close")) == (
        "shutter/set",
        "DOWN",
    )
    assert shutter.payload(DeviceAction("kitchen shutter", "cover", "set", 20)) == (
        "shutter/position/set",
        "51",
    )
    assert reading(shutter, "up") == Reading("open")
    assert reading(shutter, "down") == Reading("closed")
    assert reading(shutter, "stopped") is None


def test_cover_with_default_states() -> None:
    gate = _one("homeassistant/cover/gate/config", {"name": "Gate", "command_topic": "gate/cmd",
                                                    "state_topic": "gate/state"})  # fmt: skip
    assert gate.payload(DeviceAction("gate", "cover", "open")) == ("gate/cmd", "OPEN")
    assert (reading(gate, "open"), reading(gate, "closed")) == (Reading("open"), Reading("closed"))
    assert reading(gate, "opening") is None


def test_climate_reads_its_current_temperature() -> None:
    thermostat = _one("homeassistant/climate/hallway/config", {
        "name": "Hallway thermostat", "temp_cmd_t": "hvac/hallway/target/set",
        "curr_temp_t": "hvac/hallway/status", "curr_temp_tpl": '{{ value_json["current"] }}',
        "mode_cmd_t": "hvac/hallway/mode/set", "modes": ["off", "heat"],
        "dev": {"name": "Hallway thermostat", "sa": "Hallway"}})  # fmt: skip
    assert thermostat.device == Device("hallway thermostat", "climate", "hallway")
    assert thermostat.can() == ("set",)
    assert thermostat.state_topic == "hvac/hallway/status"
    assert thermostat.payload(DeviceAction("hallway thermostat", "climate", "set", 20.5)) == (
        "hvac/hallway/target/set",
        "20.5",
    )
    assert reading(thermostat, '{"current": 18.25, "target": 20}') == Reading(temperature=18.25)


def test_an_unsupported_template_is_not_read() -> None:
    sensor = _one("homeassistant/sensor/outdoor/config", {
        "name": "Outdoor", "dev_cla": "temperature", "stat_t": "weather/now",
        "val_tpl": "{{ value_json.temp | float / 10 }}"})  # fmt: skip
    assert sensor.state == StateKeys()
    assert reading(sensor, '{"temp": 215}') is None
    assert reading(sensor, "21.5") is None


def test_names_without_a_name() -> None:
    bare = _one("homeassistant/switch/node7/heater_relay/config", {"cmd_t": "n7/heater"})
    by_id = _one("homeassistant/switch/x/config", {"cmd_t": "n7/x", "obj_id": "spare_socket"})
    same = _one("homeassistant/switch/y/config", {
        "cmd_t": "y/set", "name": "Boiler switch", "dev": {"name": "Boiler"}})  # fmt: skip
    assert (bare.device.name, by_id.device.name) == ("heater relay", "spare socket")
    assert same.device.name == "boiler switch"


def test_configs_that_give_nothing() -> None:
    skipped = {
        "homeassistant/switch/empty/config": b"",
        "homeassistant/switch/bad/config": b"{not json",
        "homeassistant/switch/list/config": b"[1, 2]",
        "homeassistant/switch/binary/config": b"\xff\x00",
        "homeassistant/switch/no_command/config": b'{"name": "x", "stat_t": "x/state"}',
        "homeassistant/light/tpl/config": b'{"name": "x", "schema": "template", "cmd_t": "c"}',
        "homeassistant/cover/no_command/config": b'{"name": "x", "stat_t": "s"}',
        "homeassistant/climate/no_target/config": b'{"name": "x", "curr_temp_t": "t"}',
        "homeassistant/sensor/humidity/config": b'{"name": "h", "dev_cla": "humidity", '
        b'"stat_t": "s"}',
        "homeassistant/sensor/no_state/config": b'{"name": "t", "dev_cla": "temperature"}',
        "homeassistant/binary_sensor/motion/config": b'{"name": "m", "dev_cla": "motion", '
        b'"stat_t": "s"}',
        "homeassistant/lock/front/config": b'{"name": "Lock", "cmd_t": "lock/set"}',
        "homeassistant/device/nothing/config": b'{"dev": {"name": "d"}, "cmps": []}',
        "homeassistant/switch/config": b'{"name": "x", "cmd_t": "c"}',
        "elsewhere/switch/x/config": b'{"name": "x", "cmd_t": "c"}',
        "homeassistant/switch/x/state": b'{"name": "x", "cmd_t": "c"}',
        "homeassistant/device/assistant_kitchen/config": json.dumps(
            {"dev": {"name": "Assistant"}, "cmps": {"m": {"p": "switch", "cmd_t": "a/mute/set"}}}
        ).encode(),
    }
    for topic, payload in skipped.items():
        assert from_discovery(topic, payload, skip_node="assistant_kitchen") == [], topic


def test_another_prefix() -> None:
    config = '{"name": "Fan", "cmd_t": "fan/set"}'
    assert from_discovery("homeassistant/fan/f/config", config, prefix="ha") == []
    (fan,) = from_discovery("ha/fan/f/config", config, prefix="ha")
    assert fan.device == Device("fan", "fan")
    assert fan.can() == ("on", "off")
