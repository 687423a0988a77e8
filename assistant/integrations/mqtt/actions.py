"""Device commands from the intents, published to each device's own command topic."""

from __future__ import annotations

from assistant.config import DeviceEntry
from assistant.core.actions import ActionSink
from assistant.core.intents import DeviceAction
from assistant.integrations.mqtt.client import Mqtt


class MqttActionSink:
    """Device commands to each device's command topic: as `[[devices]]` gives it, else as
    the broker described the device (logged for devices with neither)."""

    def __init__(self, mqtt: Mqtt, devices: list[DeviceEntry], fallback: ActionSink) -> None:
        self.mqtt, self.fallback = mqtt, fallback
        self.devices = {d.name: d for d in devices}

    def send(self, action: DeviceAction) -> None:
        device = self.devices.get(action.device)
        if device is not None and device.command_topic is not None:
            self.mqtt.publish_to(device.command_topic, device_payload(device, action))
        elif self.mqtt.devices is not None and (to := self.mqtt.devices.route(action)):
            self.mqtt.publish_to(*to)
        else:
            self.fallback.send(action)

    def unreachable(self, device: str) -> str | None:
        return None  # (queued while the broker is away, sent when it is back)


DEFAULT_PAYLOADS = {
    "on": '{"state": "ON"}',
    "off": '{"state": "OFF"}',
    "open": '{"state": "OPEN"}',
    "close": '{"state": "CLOSE"}',
    "set": '{"value": {value}}',
}


def device_payload(device: DeviceEntry, action: DeviceAction) -> str:
    template = device.payloads.get(action.command)
    if template is None:
        template = DEFAULT_PAYLOADS[action.command]
        if action.command == "set" and device.kind == "climate":
            template = '{"current_heating_setpoint": {value}}'
        elif action.command == "set":
            template = '{"brightness_percent": {value}}'
    value = "" if action.value is None else f"{action.value:g}"
    return template.replace("{value}", value)
