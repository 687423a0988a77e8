"""The home as the broker describes it, kept in step: Zigbee2MQTT's retained
`<base>/bridge/devices` and Home Assistant's retained MQTT discovery configs give the
devices (names, kinds, rooms, command and state topics); their state topics give what each
last reported. A rename or a new device is a new retained message, followed as it comes;
after a reconnect the broker sends them all again. Parsing is `found.py`; this keeps the
sets and tells the client what more to subscribe to."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from assistant.config import MqttSection
from assistant.core.home import Home
from assistant.core.intents import DeviceAction
from assistant.integrations.mqtt.found import (
    DISCOVERY,
    ZIGBEE2MQTT,
    Found,
    from_bridge_devices,
    from_discovery,
    reading,
)
from assistant.integrations.mqtt.topics import ASSISTANT_NODE, Topics

log = logging.getLogger("assistant.integrations.mqtt")


class BrokerDevices:
    def __init__(self, home: Home, *, prefix: str, zigbee2mqtt: str, own_node: str) -> None:
        """`prefix`: Home Assistant's discovery prefix; `zigbee2mqtt`: Zigbee2MQTT's base
        topic; `own_node`: the assistant's own discovery node, not a device of the home."""
        self.home, self.prefix, self.own_node = home, prefix, own_node
        self.bridge = f"{zigbee2mqtt}/bridge/devices"
        self.zigbee2mqtt = zigbee2mqtt
        self._bridged: list[Found] = []
        self._discovered: dict[str, list[Found]] = {}
        """By config topic: what each retained config gave."""
        self._by_state: dict[str, list[Found]] = {}
        self._by_name: dict[str, Found] = {}
        self._unsettled: set[str] = set()
        """Sources whose devices changed since the home was last given them."""
        self.waiting = 0
        """Messages taken in since then."""

    @classmethod
    def for_config(cls, cfg: MqttSection, home: Home) -> BrokerDevices | None:
        """As `[mqtt]` asks (None: `find_devices = false`)."""
        if not cfg.find_devices:
            return None
        own = Topics.from_config(cfg).node_id
        return cls(
            home, prefix=cfg.discovery_prefix, zigbee2mqtt=cfg.zigbee2mqtt_topic, own_node=own
        )

    def topics(self) -> list[str]:
        """Everything to subscribe to now (at connect: the state topics already known)."""
        found = [self.bridge, f"{self.prefix}/+/+/config", f"{self.prefix}/+/+/+/config"]
        return found + sorted(self._by_state)

    def wants(self, topic: str) -> bool:
        return topic == self.bridge or self._is_config(topic) or topic in self._by_state

    def receive(self, topic: str, payload: bytes) -> None:
        """Take in one message. A change of devices waits for `settle`: a broker sends its
        retained discovery configs in a burst (hundreds in a real home), and the home is
        rebuilt, and said, once for the burst rather than once a message."""
        if topic == self.bridge:
            self._bridged = from_bridge_devices(payload, self.zigbee2mqtt)
            if not self._bridged and payload.strip() not in (b"", b"[]"):
                log.warning("mqtt: %s: no devices understood in it", topic)
            self._unsettled.add(ZIGBEE2MQTT)
        elif self._is_config(topic):
            found = from_discovery(topic, payload, self.prefix, skip_node=self.own_node)
            if found:
                self._discovered[topic] = found
            elif self._discovered.pop(topic, None) is None:
                return  # a kind of entity the assistant cannot use, or the removal of one
            self._unsettled.add(DISCOVERY)
        else:
            for f in self._by_state.get(topic, ()):
                if (r := reading(f, payload)) is not None:
                    self.home.read(f.device.name, r)
        if self._unsettled:
            self.waiting += 1

    def settle(self) -> list[str]:
        """Give the home what the messages so far changed (call when none are waiting);
        returns the state topics newly worth subscribing to."""
        if not self._unsettled:
            return []
        changed, self._unsettled, self.waiting = self._unsettled, set(), 0
        return self._update(changed)

    def route(self, action: DeviceAction) -> tuple[str, str] | None:
        """(topic, payload) for a command to a device the broker described, if it takes it."""
        found = self._by_name.get(action.device)
        return None if found is None else found.payload(action)

    def known(self) -> Iterable[Found]:
        return self._by_name.values()

    def _is_config(self, topic: str) -> bool:
        """A discovery config, and not this assistant's own or another's (a second room's
        assistant on the same broker: its mute switch is not a device of the home)."""
        parts = topic.split("/")
        return (
            topic.startswith(self.prefix + "/")
            and parts[-1] == "config"
            and len(parts) in (4, 5)
            and self.own_node not in parts
            and not parts[2].startswith(ASSISTANT_NODE)
        )

    def _update(self, sources: set[str]) -> list[str]:
        for source in sorted(sources):
            found = (
                self._bridged
                if source == ZIGBEE2MQTT
                else [f for fs in self._discovered.values() for f in fs]
            )
            if self.home.found(source, [f.device for f in found]):
                names = ", ".join(sorted(f.device.name for f in found)) or "none"
                log.info("devices from %s: %s", source, names)
        everything = [*self._bridged, *(f for fs in self._discovered.values() for f in fs)]
        self._by_name = {}
        for f in everything:
            self._by_name.setdefault(f.device.name, f)
        before = set(self._by_state)
        self._by_state = {}
        for f in everything:
            if f.state_topic:
                self._by_state.setdefault(f.state_topic, []).append(f)
        return sorted(set(self._by_state) - before)
