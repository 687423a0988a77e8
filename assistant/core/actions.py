"""Where device commands go. The MQTT integration publishes them; until one is configured
they are logged, one JSON line each on logger `assistant.action`."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Protocol

from assistant.core.intents import DeviceAction

log = logging.getLogger("assistant.action")


class ActionSink(Protocol):
    def send(self, action: DeviceAction) -> None:
        """Hand the action over without blocking the turn (queue it if it must travel)."""
        ...


class LogActionSink:
    def send(self, action: DeviceAction) -> None:
        log.info("%s", json.dumps(dataclasses.asdict(action)))
