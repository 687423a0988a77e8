"""A real Mosquitto on loopback for the tests, and a recording MQTT client (paho, sync)."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        if MOSQUITTO is None:
            raise AssertionError("mosquitto is not installed: run scripts/install --test")
        self.port = port or free_port()
        self.workdir = workdir
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {workdir}/\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise AssertionError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class Recorder:
    """Subscribes to `topics` and keeps every message (topic, payload text, retained)."""

    def __init__(self, broker: Broker, *topics: str) -> None:
        self.messages: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        for t in topics:
            self.client.subscribe(t, qos=1)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            self.messages.append(
                (msg.topic, msg.payload.decode(errors="replace"), bool(msg.retain))
            )

    def on(self, topic: str) -> list[tuple[str, bool]]:
        with self._lock:
            return [(p, r) for t, p, r in self.messages if t == topic]

    def wait_for(self, topic: str, cond: Any = lambda p: True, timeout_s: float = 20) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for payload, _ in self.on(topic):
                if cond(payload):
                    return payload
            time.sleep(0.05)
        raise AssertionError(f"nothing on {topic} matched; got {self.on(topic)[-5:]}")

    def json_on(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(p) for p, _ in self.on(topic)]

    def publish(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@contextlib.contextmanager
def recorder(broker: Broker, *topics: str) -> Iterator[Recorder]:
    r = Recorder(broker, *topics)
    try:
        yield r
    finally:
        r.close()


def config_for(broker: Broker, path: Path, extra: str = "") -> Path:
    path.write_text(f'[mqtt]\nurl = "{broker.url}"\nsite = "test"\n{extra}')
    path.chmod(0o600)
    return path
