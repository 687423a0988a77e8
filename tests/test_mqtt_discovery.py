"""What Home Assistant is told, as data: the discovery message (no broker, no daemon; the
integration tests against a real Mosquitto are test_mqtt.py and test_mqtt_client.py)."""

from __future__ import annotations

import json
from typing import Any

from assistant.config import MqttSection
from assistant.integrations.mqtt import Topics
from assistant.integrations.mqtt.discovery import discovery
from tests.mqtt_helper import ha_render

TOPICS = Topics.from_config(MqttSection(url="mqtt://127.0.0.1:1883", site="test"))


def test_every_component_of_the_device_discovery_has_qos_1() -> None:
    # At the top of a device-based message Home Assistant ignores `qos` (it passes only
    # availability, state_topic and command_topic down to the components).
    cmps = discovery(TOPICS)["cmps"]
    assert cmps and {key: c.get("qos") for key, c in cmps.items()} == dict.fromkeys(cmps, 1)


def test_every_kind_of_event_is_one_home_assistant_takes() -> None:
    turn = discovery(TOPICS)["cmps"]["turn"]
    error = {"type": "error", "topic": "t", "error": "bad"}
    said = {"type": "announcement_finished", "record": {"reply": "Hi."}}
    events: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"type": "wake"}, {"type": "wake"}),
        ({"type": "turn_started"}, {"type": "turn_started"}),
        (error, error),
        (said, {"reply": "Hi."}),
    ]
    for payload, attributes in events:
        event = json.loads(ha_render(turn["value_template"], json.dumps(payload)))
        assert event.pop("event_type") == payload["type"] in turn["event_types"]
        assert event == attributes
