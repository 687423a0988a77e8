"""MQTT: the daemon as a citizen of a home-automation system. Every aiomqtt call lives here.

Topics under the base topic (default `assistant/<site>`), retained where marked (R):

| topic            | direction | payload                                                      |
|------------------|-----------|--------------------------------------------------------------|
| `status` (R)     | out       | `online` / `offline` (also the last will)                    |
| `state` (R)      | out       | `idle` / `wake` / `listening` / `thinking` / `speaking`      |
| `mute` (R)       | out       | `ON` / `OFF`                                                 |
| `mute/set`       | in        | `ON` / `OFF`                                                 |
| `say`            | in        | text, or JSON `{"text": ..., "interrupt": true}`; said       |
|                  |           | between turns unless it interrupts                           |
| `ptt/set`        | in        | `start` (listen now, no wake word) / `stop` (end the         |
|                  |           | utterance now)                                               |
| `model` (R)      | out       | the routing mode: `auto` / `fast` / `large`                  |
| `model/set`      | in        | `auto` / `fast` / `large`                                    |
| `last_turn` (R)  | out       | the last voice turn's record (JSON)                          |
| `last_announcement` (R) | out | the last announcement's record (JSON)                     |
| `event`          | out       | JSON `{"type": "wake" / "turn_started" / "turn_finished" /   |
|                  |           | "announcement_finished" / "error", ...}`                     |
| `health` (R)     | out       | JSON: uptime, turns, first-audio p50/p95, loop lag, drops    |

Device commands from the intents go to each device's own `command_topic`. The home's devices
(and what they report) come from Zigbee2MQTT's `bridge/devices` and Home Assistant's retained
MQTT discovery configs (`home.py`, `found.py`), besides `[[devices]]`.

Home Assistant finds it through one retained device-based discovery message, re-sent when
`<prefix>/status` says `online`. Publishing never blocks a turn: messages go to an outbox
that a sender task drains while connected; while disconnected the outbox keeps the latest
value per retained topic and a bounded number of others, counting what it drops. The
connection is re-made with jittered backoff, and after every reconnect subscriptions,
discovery, status and the retained state are sent again.
"""

from __future__ import annotations

from assistant.integrations.mqtt.actions import DEFAULT_PAYLOADS, MqttActionSink, device_payload
from assistant.integrations.mqtt.client import Mqtt, cleanup
from assistant.integrations.mqtt.credentials import check_credentials
from assistant.integrations.mqtt.home import BrokerDevices
from assistant.integrations.mqtt.outbox import Outbox
from assistant.integrations.mqtt.topics import MAX_PAYLOAD, MODES, Topics, sanitise

__all__ = [
    "DEFAULT_PAYLOADS",
    "MAX_PAYLOAD",
    "MODES",
    "BrokerDevices",
    "Mqtt",
    "MqttActionSink",
    "Outbox",
    "Topics",
    "check_credentials",
    "cleanup",
    "device_payload",
    "sanitise",
]
