"""`assistant devices`: the devices the assistant knows, where each came from, what it can do
with each, and what each last reported."""

from __future__ import annotations

import asyncio

from hass_client.exceptions import BaseHassClientError

from assistant.app import Settings, home_of
from assistant.commands.logs import error_line
from assistant.core.home import Home
from assistant.integrations.homeassistant.entities import HOME_ASSISTANT, can
from assistant.integrations.homeassistant.link import HomeAssistantLink, what_went_wrong
from assistant.integrations.mqtt import BrokerDevices
from assistant.integrations.mqtt.client import survey

CAN = {
    "light": "on, off, set %",
    "fan": "on, off, set %",
    "switch": "on, off",
    "cover": "open, close, set %",
    "climate": "set degrees",
    "sensor": "asked about",
}
"""What the intents can ask of a device of each kind."""
LISTING_WAIT_S = 30.0
"""How long the listing waits for Home Assistant (one still starting is waited for)."""


async def list_devices(settings: Settings) -> str:
    """Routes as the daemon takes them (`run.DeviceActions`, `MqttActionSink`): a device
    Home Assistant gave to Home Assistant; others to their `[[devices]]` topic, else to the
    topic the broker gave."""
    home = home_of(settings)
    routes: dict[str, str] = {}
    cfg = settings.config.mqtt
    if cfg.url is not None and (broker := BrokerDevices.for_config(cfg, home)) is not None:
        await survey(cfg, broker)
        for f in broker.known():
            takes = ", ".join(f.can()) or "asked about"
            routes[f.device.name] = f"{takes} ({f.command_topic or f.state_topic or '-'})"
    for entry in settings.config.devices:
        if entry.command_topic is not None:
            routes[entry.name] = f"{CAN[entry.kind]} ({entry.command_topic})"
    if (ha := settings.config.homeassistant).url is not None:
        link = HomeAssistantLink.for_config(ha, home)
        try:
            async with asyncio.timeout(LISTING_WAIT_S):
                await link.once()
        except (BaseHassClientError, OSError, TimeoutError) as e:  # said; the rest listed
            error_line(f"assistant: home assistant: {ha.url}: {what_went_wrong(e)}")
        for entity in link.entities():
            if home.found_by(entity.device.name, HOME_ASSISTANT):
                takes = ", ".join(can(entity)) or "asked about"
                routes[entity.device.name] = f"{takes} ({entity.entity_id})"
    return render(home, routes)


def render(home: Home, routes: dict[str, str]) -> str:
    rows = [("device", "kind", "room", "from", "can do", "last reported")]
    for d in sorted(home.devices, key=lambda d: (d.room, d.name)):
        can = routes.get(d.name, f"{CAN[d.kind]} (logged: no command topic)")
        reading = home.readings.get(d.name)
        said = []
        if reading is not None and reading.state is not None:
            said.append(reading.state)
        if reading is not None and reading.temperature is not None:
            said.append(f"{reading.temperature:g} °C")
        rows.append(
            (d.name, d.kind, d.room or "-", home.source(d.name), can, ", ".join(said) or "-")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows
    ]
    if home.examples and all(home.source(d.name) == "config" for d in home.devices):
        lines.append("(the bundled example household: no [[devices]] in the config, none found)")
    return "\n".join(line.rstrip() for line in lines)
