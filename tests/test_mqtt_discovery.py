"""What Home Assistant is told, as data: the discovery message (no broker, no daemon; the
integration tests against a real Mosquitto are test_mqtt.py and test_mqtt_client.py)."""

from __future__ import annotations

from assistant.config import MqttSection
from assistant.integrations.mqtt import Topics
from assistant.integrations.mqtt.discovery import discovery

TOPICS = Topics.from_config(MqttSection(url="mqtt://127.0.0.1:1883", site="test"))


def test_every_component_of_the_device_discovery_has_qos_1() -> None:
    # At the top of a device-based message Home Assistant ignores `qos` (it passes only
    # availability, state_topic and command_topic down to the components).
    cmps = discovery(TOPICS)["cmps"]
    assert cmps and {key: c.get("qos") for key, c in cmps.items()} == dict.fromkeys(cmps, 1)
