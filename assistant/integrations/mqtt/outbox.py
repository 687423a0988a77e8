"""What waits to be sent: the outbox the publishing side fills and the sender task drains,
keeping the latest value per retained topic while disconnected."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    payload: str
    retain: bool
    qos: int = 1


class Outbox:
    """What is waiting to be sent. Retained topics keep only their latest value (a state
    that changed twice while disconnected is sent once, as it is now); other messages are
    kept up to `limit`, oldest dropped first and counted."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._retained: OrderedDict[str, _Message] = OrderedDict()
        self._others: deque[_Message] = deque()
        self.dropped = 0
        self.ready = asyncio.Event()

    def put(self, msg: _Message) -> None:
        if msg.retain:
            self._retained.pop(msg.topic, None)
            self._retained[msg.topic] = msg
        else:
            if len(self._others) >= self.limit:
                self._others.popleft()
                self.dropped += 1
            self._others.append(msg)
        self.ready.set()

    def take(self) -> _Message | None:
        if self._retained:
            return self._retained.popitem(last=False)[1]
        if self._others:
            return self._others.popleft()
        self.ready.clear()
        return None
