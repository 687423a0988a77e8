"""What Home Assistant is told: the one device-based discovery message for all the
entities. No connection here."""

from __future__ import annotations

from typing import Any

from assistant import __version__
from assistant.integrations.mqtt.topics import MODES, Topics

_ATTRS = "{{{{ {{'{0}': value_json.{0}, '{1}': value_json.{1}}} | tojson }}}}"
"""The full text (the state is cut at 255 characters) and what it came of (the route, or
why it was announced), as attributes."""

EVENT_TEXT_MAX = 255
"""Longest text in a turn event: Home Assistant's limit for a state, so that an attribute reads
like the sensors' states (the whole record is on `last_turn` or `last_announcement`)."""
EVENT_LIST_MAX = 10
"""Most items of a list in a turn event (the device commands of one turn)."""

QOS = 1
"""Every entity's, for its subscriptions and its commands: a command (mute, push-to-talk)
lost on a busy Wi-Fi is a button that did nothing."""


def discovery(t: Topics) -> dict[str, Any]:
    """One device-based Home Assistant discovery message for all the entities."""
    node = t.node_id

    def entity(key: str, platform: str, name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        # `qos` in each component: at the top of a device-based message Home Assistant
        # ignores it (only availability, state_topic and command_topic are passed down),
        # and would subscribe and send commands at QoS 0.
        common = {"p": platform, "name": name, "unique_id": f"{node}_{key}", "qos": QOS}
        return key, common | fields

    last, said = t("last_turn"), t("last_announcement")
    components = dict(
        [
            entity("listening", "binary_sensor", "Listening", state_topic=t("state"),
                   value_template="{{ 'ON' if value == 'listening' else 'OFF' }}"),
            entity("speaking", "binary_sensor", "Speaking", state_topic=t("state"),
                   value_template="{{ 'ON' if value == 'speaking' else 'OFF' }}"),
            entity("transcript", "sensor", "Last transcript", state_topic=last,
                   value_template="{{ value_json.transcript[:255] }}",
                   json_attributes_topic=last,
                   json_attributes_template=_ATTRS.format("transcript", "route")),
            entity("reply", "sensor", "Last reply", state_topic=last,
                   value_template="{{ value_json.reply[:255] }}",
                   json_attributes_topic=last,
                   json_attributes_template=_ATTRS.format("reply", "route")),
            entity("latency", "sensor", "Last turn latency", state_topic=last,
                   value_template="{{ value_json.first_audio_ms }}",
                   unit_of_measurement="ms", state_class="measurement",
                   device_class="duration"),
            # Announcements (`say`, a timer) apart: the sensors above only ever get voice
            # turns, so the latency in Home Assistant's statistics is a voice turn's.
            entity("announcement", "sensor", "Last announcement", state_topic=said,
                   value_template="{{ value_json.reply[:255] }}",
                   json_attributes_topic=said,
                   json_attributes_template=_ATTRS.format("reply", "reason")),
            entity("mute", "switch", "Mute", state_topic=t("mute"), command_topic=t("mute/set"),
                   payload_on="ON", payload_off="OFF"),
            entity("say", "notify", "Say", command_topic=t("say")),
            entity("ptt", "button", "Push to talk", command_topic=t("ptt/set"),
                   payload_press="start"),
            entity("model", "select", "Model mode", command_topic=t("model/set"),
                   state_topic=t("model"), options=list(MODES)),
            # The event's attributes: the record's fields (a turn or an announcement), or the
            # event's own (an error's topic and problem).
            entity("turn", "event", "Turn", state_topic=t("event"),
                   event_types=["wake", "turn_started", "turn_finished", "announcement_finished",
                                "error"],
                   value_template="{{ dict(value_json.get('record', value_json), "
                                  "event_type=value_json.type) | tojson }}"),
        ]
    )  # fmt: skip
    return {
        "dev": {
            "ids": [node],
            "name": f"Assistant {t.base.rsplit('/', 1)[-1]}",
            "mf": "assistant",
            "mdl": "local voice assistant",
            "sw": __version__,
        },
        "o": {"name": "assistant", "sw": __version__},
        "avty_t": t("status"),
        "cmps": components,
    }


def event_record(record: dict[str, Any]) -> dict[str, Any]:
    """A turn record as the `event` topic carries it: its fields become the Home Assistant
    event entity's attributes, which HA's recorder drops whole past 16 KiB. Texts are cut at
    `EVENT_TEXT_MAX` characters and lists at `EVENT_LIST_MAX` items, which keeps any record
    under 8 KiB."""
    return {key: _fit(value) for key, value in record.items()}


def _fit(value: object) -> object:
    if isinstance(value, str) and len(value) > EVENT_TEXT_MAX:
        return value[: EVENT_TEXT_MAX - 1] + "…"
    if isinstance(value, dict):
        return {key: _fit(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_fit(v) for v in value[:EVENT_LIST_MAX]]
    return value
