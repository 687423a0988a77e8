"""The MQTT client in this process against a real Mosquitto on loopback: what Home Assistant
and the log see, without models or audio devices (the daemon's own MQTT tests, with the
real models on PulseAudio null sinks, are test_mqtt.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from assistant.config import MqttSection
from assistant.integrations.mqtt import Mqtt
from tests.mqtt_helper import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    (tmp_path / "mosquitto").mkdir()
    b = Broker(tmp_path / "mosquitto")
    yield b
    b.stop()


def make_mqtt(broker: Broker, site: str) -> Mqtt:
    return Mqtt(
        MqttSection(url=broker.url, site=site),
        on_say=lambda text, interrupt: None,
        on_mute=lambda muted: None,
        on_ptt=lambda start: None,
    )


async def until(cond: Callable[[], object], timeout_s: float, what: str) -> None:
    """Poll on the event loop (a blocking wait would stop the client under test)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(mqtt: Mqtt) -> AsyncIterator[Mqtt]:
    """`mqtt.run()` for the block. Leave it connected or away, not mid-way: Python 3.11's
    `asyncio.wait_for` (which aiomqtt's subscribe and publish wait in) loses a cancellation
    that comes as the awaited reply does, and the task then runs on."""
    task = asyncio.create_task(mqtt.run(), name="mqtt")
    try:
        await until(mqtt.connected.is_set, 10, "connected")
        yield mqtt
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_broker_crash_is_one_warning_with_its_reason_and_no_error(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="assistant.integrations.mqtt")
    mqtt = make_mqtt(broker, "crash")
    async with running(mqtt):
        broker.freeze()
        for n in range(5):  # unread by the frozen broker: its death resets the connection
            mqtt.publish("event", {"type": "test", "n": n})
        await asyncio.sleep(0.5)
        broker.kill()
        await until(lambda: not mqtt.connected.is_set(), 10, "the loss noticed")
        # At least one attempt while it is away (after the loss, after that attempt):
        await until(lambda: caplog.text.count("reconnecting in") >= 2, 10, "a failed attempt")
        broker.start()
        # (Its session set up: a cancellation during that can be lost, see `running`.)
        await until(lambda: mqtt.connections == 2 and mqtt.connected.is_set(), 15, "reconnected")
    # paho logs the reset at ERROR ("failed to receive on socket"): nothing here is one.
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    ours = [r for r in caplog.records if r.name == "assistant.integrations.mqtt"]
    warnings = [r.getMessage() for r in ours if r.levelno == logging.WARNING]
    where = f"127.0.0.1:{broker.port}"
    assert warnings == [f"mqtt: lost the connection to {where} (Connection reset by peer)"]
    # The attempts while it was away, and the reconnect, are in the log below that.
    messages = [r.getMessage() for r in ours]
    assert any(m.startswith(f"mqtt: cannot reach {where}") for m in messages), messages
    assert any("reconnecting in" in m for m in messages)
