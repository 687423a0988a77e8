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

    def unreachable(self, device: str) -> str | None:
        """What the device's commands cannot reach now, if anything: then the command is
        said not to be done, rather than confirmed and lost."""
        ...


class LogActionSink:
    def send(self, action: DeviceAction) -> None:
        log.info("%s", json.dumps(dataclasses.asdict(action)))

    def unreachable(self, device: str) -> str | None:
        return None
