"""The home's devices as a broker tells of them, parsed: Zigbee2MQTT's retained
`<base>/bridge/devices` list and Home Assistant's retained MQTT discovery configs. Pure (no
connection, no event loop) so that every broker quirk is a test with a string.

Each device found carries what the assistant needs to speak of it (a `Device`), to command it
(topics and payloads) and to read what it reports (`StateKeys`). Anything malformed or of a
kind the assistant cannot use is left out rather than raised: a broker holds what any program
put there, and the caller logs what it got.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from assistant.core.intents.base import Device, DeviceAction, DeviceKind, Reading, normalize
from assistant.integrations.ha_kinds import OPENINGS, ha_kind

ZIGBEE2MQTT = "zigbee2mqtt"
DISCOVERY = "mqtt discovery"
"""Source names, as `Home.found` keeps them apart."""

_COMMANDS = ("on", "off", "open", "close", "set")


@dataclass(frozen=True, slots=True)
class StateKeys:
    """How to read a device's state payload. A JSON payload with neither key, or a template
    the parser did not understand (state_key and temperature_key None, json True), reads as
    nothing: better no state than a wrong one said aloud."""

    state_key: str | None = None
    """The JSON key holding the on/off (open/closed) value. With `json` False the whole
    payload is that value (or, for a sensor or thermostat, a temperature)."""
    temperature_key: str | None = None
    """The JSON key holding a temperature (degrees Celsius)."""
    json: bool = True
    on: str = "ON"
    """The value meaning on; for a cover or a door sensor, open."""
    off: str = "OFF"
    """The value meaning off; for a cover or a door sensor, closed."""
    contact: bool = False
    """A Zigbee2MQTT contact sensor: `"contact": true` means the door is closed."""
    position_key: str | None = None
    """A Zigbee2MQTT cover's position (0 closed), read when its state says neither (STOP)."""


@dataclass(frozen=True, slots=True)
class Found:
    """One device found on the broker, with what commands it and what it reports on."""

    device: Device
    key: str
    """Unique within its source: Zigbee2MQTT's ieee_address, discovery's unique_id or topic."""
    command_topic: str | None
    """Where on, off, open and close go."""
    payloads: dict[str, str]
    """Command ("on", "off", "open", "close", "set") to payload; "{value}" is the number."""
    set_topic: str | None
    """Where "set" goes when not to `command_topic` (brightness, position, temperature)."""
    state_topic: str | None
    state: StateKeys
    scale: tuple[float, float] | None = None
    """The values a "set" percent of 0 and 100 become (Home Assistant's brightness_scale,
    position_closed/position_open), rounded to whole numbers; None: the value as given."""

    def can(self) -> tuple[str, ...]:
        """The commands it takes, for a listing of the home."""
        return tuple(c for c in _COMMANDS if self._topic(c) and c in self.payloads)

    def payload(self, action: DeviceAction) -> tuple[str, str] | None:
        """(topic, payload) for a command, or None if it takes no such command (or a "set"
        came without a value)."""
        template, topic = self.payloads.get(action.command), self._topic(action.command)
        if template is None or topic is None:
            return None
        if "{value}" in template:
            if action.value is None:
                return None
            value = action.value
            if self.scale is not None:
                low, high = self.scale
                value = round(low + (high - low) * value / 100)
            template = template.replace("{value}", f"{value:g}")
        return topic, template

    def _topic(self, command: str) -> str | None:
        return (self.set_topic or self.command_topic) if command == "set" else self.command_topic


def reading(found: Found, payload: bytes | str) -> Reading | None:
    """What a state payload says, or None if nothing in it was understood. A partial report
    (Zigbee2MQTT sends what changed) gives a partial Reading for `Reading.merged`."""
    keys, kind = found.state, found.device.kind
    if not keys.json:
        text = payload if isinstance(payload, str) else payload.decode(errors="replace")
        state = _state(kind, keys, text.strip())
        if state is not None:
            return Reading(state=state)
        temperature = _number(text) if kind in ("sensor", "climate") else None
        return None if temperature is None else Reading(temperature=temperature)
    data = _loads(payload)
    if not isinstance(data, dict):
        return None
    state = None if keys.state_key is None else _state(kind, keys, data.get(keys.state_key))
    position = None if keys.position_key is None else _number(data.get(keys.position_key))
    if state is None and position is not None:
        state = "closed" if position <= 0 else "open"
    temperature = None if keys.temperature_key is None else _number(data.get(keys.temperature_key))
    if state is None and temperature is None:
        return None
    return Reading(state=state, temperature=temperature)


def _state(kind: DeviceKind, keys: StateKeys, value: Any) -> str | None:
    if keys.contact:
        return {True: "closed", False: "open"}.get(value) if isinstance(value, bool) else None
    if value is None:
        return None
    plain = _plain(value)
    opens = kind in ("cover", "sensor")
    if plain == keys.on:
        return "open" if opens else "on"
    if plain == keys.off:
        return "closed" if opens else "off"
    if kind == "cover":
        return {"open": "open", "close": "closed", "closed": "closed"}.get(plain.lower())
    return None


# Zigbee2MQTT


def from_bridge_devices(payload: bytes | str, base: str = "zigbee2mqtt") -> list[Found]:
    """The devices in Zigbee2MQTT's `<base>/bridge/devices` list, less the coordinator,
    disabled devices, devices not yet interviewed (no definition) and anything the assistant
    has no kind for (a lock, a motion sensor). A device is one thing: its first light, cover,
    thermostat, fan or switch expose (in that order), else a temperature or contact sensor."""
    data = _loads(payload)
    if not isinstance(data, list):
        return []
    return [f for entry in data if isinstance(entry, dict) and (f := _z2m(entry, base))]


def _z2m(entry: dict[str, Any], base: str) -> Found | None:
    friendly, definition = entry.get("friendly_name"), entry.get("definition")
    if entry.get("type") == "Coordinator" or entry.get("disabled") or not friendly:
        return None
    if not isinstance(friendly, str) or not isinstance(definition, dict):
        return None
    exposes = _dicts(definition.get("exposes"))
    by_type: dict[str, dict[str, Any]] = {}
    for e in exposes:
        by_type.setdefault(str(e.get("type")), e)
    name, room = _z2m_name(friendly)
    if not name:
        return None
    topic = f"{base}/{friendly}"
    command = f"{topic}/set"

    def found(kind: DeviceKind, payloads: dict[str, str], keys: StateKeys) -> Found:
        device = Device(name, kind, room)
        key = str(entry.get("ieee_address") or friendly)
        return Found(device, key, command if payloads else None, payloads, None, topic, keys)

    for kind in _Z2M_KINDS:
        if kind not in by_type:
            continue
        feats = {str(f.get("name")): f for f in _dicts(by_type[kind].get("features"))}
        state = feats.get("state", {})
        prop = str(state.get("property") or "state")
        if kind == "cover":
            payloads = {"open": json.dumps({prop: "OPEN"}), "close": json.dumps({prop: "CLOSE"})}
            at = "position" if "position" in feats else None
            if at:
                payloads["set"] = '{"position": {value}}'
            return found(
                "cover", payloads, StateKeys(prop, on="OPEN", off="CLOSE", position_key=at)
            )
        if kind == "climate":
            setpoint = next((s for s in _SETPOINTS if s in feats), None)
            if setpoint is None:
                continue
            current = "local_temperature" if "local_temperature" in feats else None
            set_ = f'{{"{setpoint}": {{value}}}}'
            return found("climate", {"set": set_}, StateKeys(None, current))
        on, off = state.get("value_on", "ON"), state.get("value_off", "OFF")
        payloads = {"on": json.dumps({prop: on}), "off": json.dumps({prop: off})}
        if kind == "light" and "brightness" in feats:
            payloads["set"] = '{"brightness_percent": {value}}'
        return found(kind, payloads, StateKeys(prop, on=_plain(on), off=_plain(off)))
    properties = {e.get("property") for e in exposes}
    temperature = "temperature" if "temperature" in properties else None
    if "contact" in properties:
        return found("sensor", {}, StateKeys("contact", temperature, contact=True))
    if temperature:
        return found("sensor", {}, StateKeys(None, temperature))
    return None


_Z2M_KINDS: tuple[DeviceKind, ...] = ("light", "cover", "climate", "fan", "switch")
_SETPOINTS = ("current_heating_setpoint", "occupied_heating_setpoint")


def _z2m_name(friendly: str) -> tuple[str, str]:
    """A "/" groups: "kitchen/ceiling light" is the kitchen's "kitchen ceiling light". The
    group before the last is the room; the name keeps every group, so that two rooms' lamps
    keep two names ("kitchen/kitchen lamp" does not say kitchen twice)."""
    parts = [p for p in (_spoken(p) for p in friendly.split("/")) if p]
    room = parts[-2] if len(parts) > 1 else ""
    if room and parts[-1].startswith(room + " "):
        parts.pop(-2)
    return " ".join(parts), room


# Home Assistant MQTT discovery

_ABBREVIATIONS = {
    "cmd_t": "command_topic", "stat_t": "state_topic", "pl_on": "payload_on",
    "pl_off": "payload_off", "pl_open": "payload_open", "pl_cls": "payload_close",
    "stat_open": "state_open", "stat_clsd": "state_closed", "stat_on": "state_on",
    "stat_off": "state_off", "dev_cla": "device_class", "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template", "stat_val_tpl": "state_value_template", "uniq_id": "unique_id",
    "obj_id": "object_id", "dev": "device", "p": "platform",
    "bri_cmd_t": "brightness_command_topic", "bri_scl": "brightness_scale", "bri": "brightness",
    "sup_clrm": "supported_color_modes",
    "pos_t": "position_topic", "set_pos_t": "set_position_topic", "pos_open": "position_open",
    "pos_clsd": "position_closed", "temp_cmd_t": "temperature_command_topic",
    "curr_temp_t": "current_temperature_topic", "curr_temp_tpl": "current_temperature_template",
    "cmps": "components", "o": "origin",
}  # fmt: skip
_DEVICE_ABBREVIATIONS = {"sa": "suggested_area", "ids": "identifiers", "mf": "manufacturer"}
_SHARED = ("~", "state_topic", "command_topic")
"""What a device-based config's components inherit from its root (theirs win)."""
_TEMPLATE = re.compile(r"\{\{\s*value_json\s*(?:\.\s*(\w+)|\[\s*(['\"])([^'\"]+)\2\s*\])\s*\}\}")


def from_discovery(
    topic: str, payload: bytes | str, prefix: str = "homeassistant", skip_node: str = ""
) -> list[Found]:
    """The devices in one discovery config on `<prefix>/<component>/[<node_id>/]<object_id>
    /config` (or a device-based `<prefix>/device/<object_id>/config`, one per usable
    component). Empty (a deletion), malformed, unusable, or the assistant's own (a topic
    level equal to `skip_node`): none."""
    levels = topic.removeprefix(prefix + "/").split("/")
    if not topic.startswith(prefix + "/") or len(levels) not in (3, 4) or levels[-1] != "config":
        return []
    if skip_node and skip_node in levels:
        return []
    data = _loads(payload)
    if not isinstance(data, dict):
        return []
    data = _expand(data)
    component, object_id = levels[0], levels[-2]
    if component != "device":
        one = _component(component, data, topic, object_id)
        return [] if one is None else [one]
    cmps = data.get("components")
    shared = {k: data[k] for k in _SHARED if k in data} | {"device": data.get("device")}
    found = []
    for cid, cfg in cmps.items() if isinstance(cmps, dict) else ():
        if isinstance(cfg, dict):
            cfg = shared | _expand(cfg)
            one = _component(str(cfg.get("platform")), cfg, f"{topic}#{cid}", object_id)
            found += [] if one is None else [one]
    return found


def _component(platform: str, cfg: dict[str, Any], topic: str, object_id: str) -> Found | None:
    if isinstance(base := cfg.get("~"), str):
        for k, v in cfg.items():
            if k.endswith("_topic") and isinstance(v, str) and "~" in (v[:1], v[-1:]):
                cfg[k] = base + v[1:] if v.startswith("~") else v[:-1] + base
    name, room = _ha_name(cfg, object_id)
    command, state = _topic_of(cfg, "command_topic"), _topic_of(cfg, "state_topic")
    template = cfg.get("state_value_template", cfg.get("value_template"))
    payloads: dict[str, str] = {}
    set_topic: str | None = None
    scale: tuple[float, float] | None = None
    if platform in ("light", "switch", "fan"):
        if command is None or cfg.get("schema", "default") not in ("default", "basic", "json"):
            return None
        if cfg.get("schema") == "json":
            payloads = {"on": '{"state": "ON"}', "off": '{"state": "OFF"}'}
            modes = cfg.get("supported_color_modes")
            if cfg.get("brightness") or (isinstance(modes, list) and set(modes) - {"onoff"}):
                payloads["set"] = '{"state": "ON", "brightness": {value}}'
                scale = (0, _float(cfg.get("brightness_scale"), 255))
            keys = StateKeys("state")
        else:
            on, off = str(cfg.get("payload_on", "ON")), str(cfg.get("payload_off", "OFF"))
            payloads = {"on": on, "off": off}
            set_topic = _topic_of(cfg, "brightness_command_topic") if platform == "light" else None
            if set_topic:
                payloads["set"], scale = "{value}", (0, _float(cfg.get("brightness_scale"), 255))
            on, off = _plain(cfg.get("state_on", on)), _plain(cfg.get("state_off", off))
            keys = _template_keys(template, on=on, off=off)
    elif platform == "cover":
        if command:
            payloads["open"] = str(cfg.get("payload_open", "OPEN"))
            payloads["close"] = str(cfg.get("payload_close", "CLOSE"))
        set_topic = _topic_of(cfg, "set_position_topic")
        if set_topic:
            payloads["set"] = "{value}"
            scale = (_float(cfg.get("position_closed"), 0), _float(cfg.get("position_open"), 100))
        if not payloads:
            return None
        on, off = _plain(cfg.get("state_open", "open")), _plain(cfg.get("state_closed", "closed"))
        keys = _template_keys(template, on=on, off=off)
    elif platform == "climate":
        set_topic = _topic_of(cfg, "temperature_command_topic")
        if set_topic is None:
            return None
        payloads = {"set": "{value}"}
        # Simplification: a thermostat's reading is its current temperature, so that is the
        # topic it is read from (its modes and setpoint topics are not read).
        state = _topic_of(cfg, "current_temperature_topic")
        keys = _template_keys(cfg.get("current_temperature_template"), temperature=True)
    elif platform == "sensor" and cfg.get("device_class") == "temperature":
        keys = _template_keys(template, temperature=True)
    elif platform == "binary_sensor" and cfg.get("device_class") in OPENINGS:
        # Zigbee2MQTT's own configs say payload_on false: its "contact" is true when closed.
        on, off = _plain(cfg.get("payload_on", "ON")), _plain(cfg.get("payload_off", "OFF"))
        keys = _template_keys(template, on=on, off=off)
    else:
        return None
    kind = ha_kind(platform, cfg.get("device_class"))
    if kind is None or not name or (kind == "sensor" and state is None):
        return None
    key = str(cfg.get("unique_id") or topic)
    return Found(Device(name, kind, room), key, command, payloads, set_topic, state, keys, scale)


def _ha_name(cfg: dict[str, Any], object_id: str) -> tuple[str, str]:
    """As Home Assistant names an entity of a device: no name (or null), the device's; a
    name, "<device name> <name>" unless it already starts with the device's name."""
    device = cfg.get("device")
    device = _expand(device, _DEVICE_ABBREVIATIONS) if isinstance(device, dict) else {}
    device_name = str(device.get("name") or "")
    name = cfg.get("name")
    if name is None:
        name = device_name or cfg.get("object_id") or object_id
    elif device_name and not _spoken(str(name)).startswith(_spoken(device_name)):
        name = f"{device_name} {name}"
    return _spoken(str(name)), _spoken(str(device.get("suggested_area") or ""))


def _template_keys(
    template: Any, *, on: str = "ON", off: str = "OFF", temperature: bool = False
) -> StateKeys:
    """No template: the payload is the value. `{{ value_json.X }}` (or `['X']`): key X.
    Anything else cannot be read here (StateKeys with no key)."""
    if template is None:
        return StateKeys(json=False, on=on, off=off)
    match = _TEMPLATE.fullmatch(str(template).strip())
    if match is None:
        return StateKeys(on=on, off=off)
    key = match.group(1) or match.group(3)
    return StateKeys(None, key) if temperature else StateKeys(key, on=on, off=off)


def _expand(data: dict[str, Any], table: dict[str, str] = _ABBREVIATIONS) -> dict[str, Any]:
    return {table.get(k, k): v for k, v in data.items()}


def _topic_of(cfg: dict[str, Any], key: str) -> str | None:
    value = cfg.get(key)
    return value if isinstance(value, str) and value else None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _loads(payload: bytes | str) -> Any:
    try:
        return json.loads(payload)
    except ValueError:  # UnicodeDecodeError too
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _float(value: Any, default: float) -> float:
    number = _number(value)
    return default if number is None else number


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _spoken(text: str) -> str:
    return normalize(text.replace("_", " "))
