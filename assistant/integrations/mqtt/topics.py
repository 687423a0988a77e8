"""The topic names under the base topic, and what a command payload may say: no connection
here."""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from typing import Any

from assistant.config import MqttSection
from assistant.core.dialog import MODES as ROUTING_MODES

MODES = ROUTING_MODES
"""Routing modes for `model/set` (defined with the dialog state, `core/dialog.py`)."""

MAX_PAYLOAD = 4096
"""Longest command payload accepted (a `say` text is a few sentences)."""


ASSISTANT_NODE = "assistant_"
"""How every assistant's discovery node id begins."""


def sanitise(name: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "assistant"


@dataclass(frozen=True, slots=True)
class Topics:
    base: str
    discovery: str
    ha_status: str
    node_id: str

    @classmethod
    def from_config(cls, cfg: MqttSection) -> Topics:
        site = sanitise(cfg.site or socket.gethostname())
        base = (cfg.base_topic or f"assistant/{site}").rstrip("/")
        node_id = f"{ASSISTANT_NODE}{site}"
        return cls(
            base,
            f"{cfg.discovery_prefix}/device/{node_id}/config",
            f"{cfg.discovery_prefix}/status",
            node_id,
        )

    def __call__(self, suffix: str) -> str:
        return f"{self.base}/{suffix}"


def say_text(text: str) -> tuple[str, bool]:
    """The text to say, and whether it may interrupt (JSON `"interrupt": true`)."""
    interrupt = False
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ValueError(f"say: bad JSON: {e}") from None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise ValueError('say: JSON needs a "text" string')
        if not isinstance(data.get("interrupt", False), bool):
            raise ValueError('say: "interrupt" must be true or false')
        text, interrupt = data["text"].strip(), data.get("interrupt", False)
    if not text:
        raise ValueError("say: nothing to say")
    return text, interrupt


def payload_text(payload: Any) -> str:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload).decode(errors="replace").strip()
    return str(payload).strip()
