"""A real Mosquitto on loopback for the tests, and a recording MQTT client (paho, sync)."""

from __future__ import annotations

import contextlib
import getpass
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from jinja2.sandbox import ImmutableSandboxedEnvironment
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
        # max_queued_messages: Mosquitto refuses a subscriber more than 1000 waiting
        # messages, so a test's Python subscriber slowed by CI load lost QoS 0 events of a
        # burst (the fuzz test: 1624 of 2000 in one CI run) that the daemon had sent.
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {workdir}/\nmax_queued_messages 100000\n"
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

    def freeze(self) -> None:
        """SIGSTOP: what clients send from now on stays unread (see `kill`)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def kill(self) -> None:
        """SIGKILL, as a crash, an OOM kill or `docker kill` ends it. Frozen first, with data
        its clients sent unread, it leaves their connections reset rather than closed.
        `start()` brings it back."""
        assert self.proc is not None
        self.proc.kill()
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
        # Disconnect while the network loop still runs, so that it sends DISCONNECT and
        # closes the socket; a socket left open (the broker went away and paho was between
        # reconnects) is closed here rather than by the garbage collector.
        self.client.disconnect()
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()


@contextlib.contextmanager
def recorder(broker: Broker, *topics: str) -> Iterator[Recorder]:
    r = Recorder(broker, *topics)
    try:
        yield r
    finally:
        r.close()


def ha_render(template: str, payload: str) -> str:
    """A discovery template applied to a payload as Home Assistant's MQTT integration does:
    Jinja's immutable sandbox, `value` and `value_json` (HA adds filters and globals of its
    own; the templates here use none of them)."""
    env = ImmutableSandboxedEnvironment()
    return env.from_string(template).render(value=payload, value_json=json.loads(payload))


def config_for(broker: Broker, path: Path, extra: str = "", site: str = "test") -> Path:
    """A config for `broker`. Each daemon on one broker needs its own site: the site makes
    the client id, and a second client with the same id takes the first one's session."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[mqtt]\nurl = "{broker.url}"\nsite = "{site}"\nhealth_interval_s = 1\n{extra}'
    )
    path.chmod(0o600)
    return path


def make_tls_broker_files(workdir: Path) -> dict[str, Path]:
    """A test CA, a server certificate for 127.0.0.1 signed by it, a password file with
    users `assistant` (s3cret) and `denied` (nope), and an ACL that lets only `assistant`
    near the assistant's topics."""
    ca_key, ca, key, csr, crt = (
        workdir / n for n in ("ca.key", "ca.crt", "s.key", "s.csr", "s.crt")
    )

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True)

    run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-subj",
        "/CN=assistant test CA",
    )
    run(
        "openssl",
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=127.0.0.1",
    )
    ext = workdir / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(crt),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    passwd = workdir / "passwd"
    passwd.write_text("")
    passwd_tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    for user, pw in (("assistant", "s3cret"), ("denied", "nope")):
        run(passwd_tool, "-b", str(passwd), user, pw)
    acl = workdir / "acl"
    acl.write_text(
        "user assistant\ntopic readwrite assistant/#\ntopic readwrite homeassistant/#\n\n"
        "user denied\ntopic readwrite other/#\n"
    )
    for f in (passwd, acl, key):
        f.chmod(0o600)
    return {"ca": ca, "cert": crt, "key": key, "passwd": passwd, "acl": acl}  # fmt: skip


class TlsBroker(Broker):
    """Anonymous plain listener (for the test's recorder) and a TLS listener with
    password authentication and an ACL (for the daemon)."""

    def __init__(self, workdir: Path) -> None:
        self.files = make_tls_broker_files(workdir)
        self.tls_port = free_port()
        super().__init__(workdir)

    def start(self) -> None:
        f = self.files
        self.conf.write_text(
            # Started as root, Mosquitto would become user "mosquitto" and could not read
            # these 0600 files; as anyone else it stays who it is.
            f"user {getpass.getuser()}\n"
            f"per_listener_settings true\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"listener {self.tls_port} 127.0.0.1\nallow_anonymous false\n"
            f"cafile {f['ca']}\ncertfile {f['cert']}\nkeyfile {f['key']}\n"
            f"password_file {f['passwd']}\nacl_file {f['acl']}\n"
        )
        super().start()
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.tls_port), 2),
        ):
            return
