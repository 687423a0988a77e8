"""What the MQTT library logs goes to a logger of ours, where a lost connection is not an
ERROR: the reconnect loop is there for it, and says so itself, once, as a warning."""

from __future__ import annotations

import logging

LOSS = ("failed to receive on socket", "timeout on socket")
"""How paho's log lines for a connection the broker or the network dropped begin (at ERROR;
paho says "receive" for a failed send too)."""


class ConnectionLoss(logging.Filter):
    """Turns paho's connection-loss lines into DEBUG ones and keeps their reason ("Connection
    reset by peer") for the warning the reconnect loop logs."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or not str(record.msg).startswith(LOSS):
            return True
        error = record.args[0] if isinstance(record.args, tuple) and record.args else None
        self.reason = (error.strerror if isinstance(error, OSError) else None) or str(error)
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        # (A filter runs after the logger's level check: check again for the new level.)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)

    def take(self) -> str | None:
        """The reason of the last connection loss paho logged, once."""
        reason, self.reason = self.reason, None
        return reason


PAHO_LOG = logging.getLogger("assistant.integrations.mqtt.paho")
"""Handed to every aiomqtt client (and so to paho). At WARNING, as aiomqtt's own default
logger is: paho logs every packet at DEBUG."""
PAHO_LOG.setLevel(logging.WARNING)
CONNECTION_LOSS = ConnectionLoss()
"""One for the process (the daemon has one connection): what the last loss was."""
PAHO_LOG.addFilter(CONNECTION_LOSS)
