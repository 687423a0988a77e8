"""Home Assistant's words for devices, read by both integrations that meet them: its own
entities (a domain and a device class, over its WebSocket API) and the broker's MQTT
discovery configs (a platform and a device class): which kind of device each is to the
intents."""

from __future__ import annotations

from assistant.core.intents.base import DeviceKind

__all__ = ["OPENINGS", "ha_kind"]

_HA_KINDS: dict[str, DeviceKind] = {
    "light": "light", "switch": "switch", "fan": "fan", "cover": "cover", "climate": "climate",
}  # fmt: skip
OPENINGS = ("door", "garage_door", "opening", "window")
"""The device classes of Home Assistant's binary sensors an "is ... open?" asks about."""


def ha_kind(domain: str, device_class: str | None) -> DeviceKind | None:
    """The kind of device a Home Assistant entity is, by its domain (an MQTT discovery
    config's platform) and device class; None for those the intents cannot use. For both
    Home Assistant's own entities and the broker's discovery configs."""
    if domain in _HA_KINDS:
        return _HA_KINDS[domain]
    if domain == "sensor" and device_class == "temperature":
        return "sensor"
    if domain == "binary_sensor" and device_class in OPENINGS:
        return "sensor"
    return None
