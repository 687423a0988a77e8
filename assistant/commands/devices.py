"""`assistant devices`: the devices the assistant knows, where each came from, what it can do
with each, and what each last reported."""

from __future__ import annotations

from assistant.app import Settings, home_of
from assistant.commands.logs import error_line
from assistant.commands.run import home_assistant_link
from assistant.core.home import Home

CAN = {
    "light": "on, off, set %",
    "fan": "on, off, set %",
    "switch": "on, off",
    "cover": "open, close, set %",
    "climate": "set degrees",
    "sensor": "asked about",
}
"""What the intents can ask of a device of each kind."""


async def list_devices(settings: Settings) -> str:
    home = home_of(settings)
    routes: dict[str, str] = {}
    cfg = settings.config.mqtt
    if cfg.url is not None and cfg.find_devices:
        from assistant.integrations.mqtt import BrokerDevices, Topics
        from assistant.integrations.mqtt.client import survey

        broker = BrokerDevices(
            home,
            prefix=cfg.discovery_prefix,
            zigbee2mqtt=cfg.zigbee2mqtt_topic,
            own_node=Topics.from_config(cfg).node_id,
        )
        await survey(cfg, broker)
        for f in broker.known():
            takes = ", ".join(f.can()) or "asked about"
            routes[f.device.name] = f"{takes} ({f.command_topic or f.state_topic or '-'})"
    if (link := home_assistant_link(settings, home)) is not None:
        from assistant.integrations.homeassistant.entities import can
        from assistant.integrations.homeassistant.link import what_went_wrong

        try:
            await link.once()
        except Exception as e:  # unreachable, refused: said, and the rest listed
            url = settings.config.homeassistant.url
            error_line(f"assistant: home assistant: {url}: {what_went_wrong(e)}")
        for entity in link.entities():
            takes = ", ".join(can(entity)) or "asked about"
            routes[entity.device.name] = f"{takes} ({entity.entity_id})"
    for entry in settings.config.devices:
        if entry.command_topic is not None:  # the user's topic wins (MqttActionSink)
            routes[entry.name] = f"{CAN[entry.kind]} ({entry.command_topic})"
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
