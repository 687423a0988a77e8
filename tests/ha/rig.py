"""A real Home Assistant for tests: start, stop, restart, REST and WebSocket.

Plain Python 3.11 standard library only (urllib, socket); the WebSocket
client is a minimal RFC 6455 one below, since neither `websockets` nor
`aiohttp` is in the project's venv.

Home Assistant itself runs from the Debian root that `tests/ha/make-ha` builds
(`ensure_built()` runs it; a no-op in well under a second once built), as
`chroot ROOT /venv/bin/hass -c /config --skip-pip` inside a private mount
namespace (`unshare --mount`) where the test's config directory, /proc, /dev
and /sys are bind-mounted: nothing is left mounted when it exits, and several
instances may run at once. Needs root (unshare, mount, chroot).

    ha = HomeAssistant(tmp_path)
    ha.start()                    # fresh config, onboarded, token, areas, exposure
    ha.state("light.kitchen_lights")["state"]      # "on"
    ha.call("light", "turn_off", {"entity_id": "light.kitchen_lights"})
    ha.ws({"type": "config/area_registry/list"})
    ha.restart()                  # same config, port and token
    ha.stop()

With `mqtt_port`, Home Assistant also has the MQTT integration (a config entry
for the Mosquitto on 127.0.0.1:PORT), the recorder (SQLite) and history
(config/mqtt.yaml is appended to the config):

    ha = HomeAssistant(tmp_path, mqtt_port=broker.port)
    ha.start()
    ha.history(["sensor.x"], start)   # every state it recorded since `start`
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import closing
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MAKE_HA = HERE / "make-ha"
TEMPLATE = HERE / "config"
MQTT_FRAGMENT = "mqtt.yaml"
"""Appended to configuration.yaml for `mqtt_port`: mqtt, recorder, history."""

USERNAME = "test"
PASSWORD = "test-password"

# The test home. Areas "Kitchen", "Living Room" and "Bedroom" are created by
# Home Assistant's onboarding (language "en"); the others by start().
AREAS = ("Kitchen", "Living Room", "Bedroom", "Garage", "Office")
# entity_id -> area name. Demo entities belong to a device, and the area is set
# on the DEVICE (the entity's own area_id stays null and follows the device);
# the template temperature sensors have no device, so it is set on the ENTITY.
AREA_OF = {
    "light.kitchen_lights": "Kitchen",
    "cover.kitchen_window": "Kitchen",
    "sensor.kitchen_temperature": "Kitchen",
    "light.ceiling_lights": "Living Room",
    "light.living_room_rgbww_lights": "Living Room",
    "cover.living_room_window": "Living Room",
    "climate.hvac": "Living Room",
    "sensor.living_room_temperature": "Living Room",
    "light.bed_light": "Bedroom",
    "climate.heatpump": "Bedroom",
    "cover.garage_door": "Garage",
    "light.office_rgbw_lights": "Office",
    "climate.ecobee": "Office",
    # Not exposed, but in an area: the assistant must still not see them.
    "light.entrance_color_white_lights": "Living Room",
    "cover.hall_window": "Living Room",
}
# Exposed to Assist ("conversation"). EVERY other entity is explicitly not
# exposed (and new entities are not exposed by default).
EXPOSED = (
    "light.kitchen_lights",
    "light.ceiling_lights",
    "light.living_room_rgbww_lights",
    "light.bed_light",
    "light.office_rgbw_lights",
    "cover.garage_door",
    "cover.kitchen_window",
    "cover.living_room_window",
    "climate.hvac",
    "climate.heatpump",
    "climate.ecobee",
    "sensor.kitchen_temperature",
    "sensor.living_room_temperature",
    "sensor.outside_temperature",
)
NOT_EXPOSED_EXAMPLES = ("light.entrance_color_white_lights", "cover.hall_window")


class HAError(RuntimeError):
    pass


def ha_root() -> Path:
    """Where make-ha builds (same environment variables and defaults)."""
    suite = os.environ.get("ASSISTANT_HA_SUITE", "forky")
    return Path(os.environ.get("ASSISTANT_HA_ROOT", f"/var/cache/assistant-test/ha-{suite}"))


def ensure_built(timeout_s: float = 1800) -> None:
    """Build the Home Assistant root if it is not built yet (make-ha is a
    fast no-op when it is). Call it from a session fixture."""
    subprocess.run([str(MAKE_HA)], check=True, timeout=timeout_s)


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class HomeAssistant:
    def __init__(
        self, workdir: Path, root: Path | None = None, mqtt_port: int | None = None
    ) -> None:
        """`mqtt_port`: also the MQTT integration on the broker at 127.0.0.1:PORT, the
        recorder and history (slower to start: without it, neither is loaded)."""
        self.workdir = Path(workdir)
        self.root = Path(root) if root else ha_root()
        self.mqtt_port = mqtt_port
        self.config_dir = self.workdir / "config"
        self.log_path = self.workdir / "hass.out"
        self.port = 0
        self.url = ""
        self.token = ""
        self.area_ids: dict[str, str] = {}  # area name -> area_id
        self.start_seconds = 0.0  # how long the last start() / restart() took
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self, timeout_s: float = 180) -> None:
        """Fresh config from the template, start, wait until it answers,
        onboard, long-lived token, areas, exposure."""
        if not (self.root / "venv/bin/hass").exists():
            raise HAError(f"no Home Assistant in {self.root}: run {MAKE_HA}")
        t0 = time.monotonic()
        deadline = t0 + timeout_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if self.config_dir.exists():
            shutil.rmtree(self.config_dir)
        shutil.copytree(TEMPLATE, self.config_dir)
        conf = self.config_dir / "configuration.yaml"
        text = conf.read_text().replace("@PORT@", str(self.port))
        if self.mqtt_port is not None:
            text += "\n" + (TEMPLATE / MQTT_FRAGMENT).read_text()
        conf.write_text(text)
        self._launch()
        try:
            self._wait_http(deadline)
            self.token = self._onboard()
            self._wait_running(deadline)
            self._set_up_home(deadline)
            if self.mqtt_port is not None:
                self.connect_mqtt(self.mqtt_port)
        except BaseException:
            self.stop()
            raise
        (self.workdir / "ha.json").write_text(json.dumps({"url": self.url, "token": self.token}))
        self.start_seconds = time.monotonic() - t0

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM, wait; SIGKILL on timeout."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def restart(self, timeout_s: float = 180) -> None:
        """stop() + start again on the same config, port and token."""
        t0 = time.monotonic()
        self.stop()
        self._launch()
        try:
            self._wait_running(t0 + timeout_s)
            self._wait_entities(t0 + timeout_s)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        """Home Assistant's own log (config/home-assistant.log)."""
        path = self.config_dir / "home-assistant.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> HomeAssistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- REST --------------------------------------------------------------

    def state(self, entity_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.rest("GET", f"/api/states/{entity_id}")
        return result

    def states(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.rest("GET", "/api/states")
        return result

    def call(self, domain: str, service: str, data: dict[str, Any] | None = None) -> None:
        self.rest("POST", f"/api/services/{domain}/{service}", data or {})

    def history(
        self, entity_ids: list[str], start: dt.datetime, end: dt.datetime | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """What the recorder holds for the entities from `start` (aware) on: entity_id ->
        its states in order, each {"s": state, "a": attributes, "lu": seconds}. The first
        is the state at `start` (the one it had then, if older). Needs `mqtt_port`
        (the recorder is loaded with it)."""
        message: dict[str, Any] = {
            "type": "history/history_during_period",
            "start_time": start.isoformat(),
            "entity_ids": entity_ids,
            "include_start_time_state": True,
            "significant_changes_only": False,
            "minimal_response": False,
            "no_attributes": False,
        }
        if end is not None:
            message["end_time"] = end.isoformat()
        result: dict[str, list[dict[str, Any]]] = self.ws(message)
        return result

    # -- MQTT --------------------------------------------------------------

    def connect_mqtt(self, port: int, timeout_s: float = 30) -> str:
        """The MQTT integration's config entry for the broker at 127.0.0.1:`port`, made as
        a user makes it (the config flow: its `broker` step checks the connection), then
        loaded. Returns its entry_id. Needs `mqtt_port` (or the `mqtt` requirements and
        config some other way)."""
        flow = self.rest("POST", "/api/config/config_entries/flow", {"handler": "mqtt"})
        while flow.get("type") == "form":  # one step, "broker"
            answer: dict[str, Any] = {"broker": "127.0.0.1", "port": port}
            # 2026.11 has a section, "other_settings" (collapsed), with two required
            # fields and no default: no client certificate, no TLS.
            plain = {"set_client_cert": False, "set_ca_cert": "off"}
            for field in flow.get("data_schema", []):
                if field.get("type") == "expandable":
                    names = {f["name"] for f in field["schema"]}
                    answer[field["name"]] = {k: v for k, v in plain.items() if k in names}
            flow = self.rest("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", answer)
            if flow.get("errors"):
                raise HAError(f"MQTT config flow: {flow}")
        if flow.get("type") != "create_entry":
            raise HAError(f"MQTT config flow: {flow}")
        entry_id: str = flow["result"]["entry_id"]
        deadline = time.monotonic() + timeout_s
        while True:
            entries = self.rest("GET", "/api/config/config_entries/entry?domain=mqtt")
            state = next((e["state"] for e in entries if e["entry_id"] == entry_id), None)
            if state == "loaded":
                return entry_id
            if time.monotonic() > deadline:
                raise HAError(f"MQTT entry not loaded: {state}")
            time.sleep(0.1)

    def rest(self, method: str, path: str, data: Any = None, token: str | None = None) -> Any:
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(self.url + path, data=body, method=method)
        req.add_header("Authorization", f"Bearer {token or self.token}")
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            with err:
                raise HAError(f"{method} {path}: {err.code} {err.read()[:500]!r}") from None
        return json.loads(raw) if raw else None

    # -- WebSocket ---------------------------------------------------------

    def ws(self, message: dict[str, Any]) -> Any:
        """One WebSocket command (without "id"), authenticated with the token;
        returns its "result", raises HAError if it failed."""
        with self.ws_session() as conn:
            return conn.command(message)

    def ws_session(self, token: str | None = None) -> WebSocket:
        """An authenticated connection for several commands or subscriptions:
        `with ha.ws_session() as c: c.command({...}); c.receive()`."""
        return WebSocket(self.port, token or self.token)

    # -- internals ---------------------------------------------------------

    def _launch(self) -> None:
        if self.running:
            raise HAError("already running")
        root = self.root
        (root / "config").mkdir(exist_ok=True)
        script = (
            'set -e; R="$1"; C="$2"; '
            'mount --bind "$C" "$R/config"; '
            'mount -t proc proc "$R/proc"; '
            'mount --rbind /dev "$R/dev"; '
            'mount --rbind /sys "$R/sys"; '
            'exec chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TZ=UTC '
            "PATH=/venv/bin:/usr/local/bin:/usr/bin:/bin "
            "/venv/bin/hass -c /config --skip-pip"
        )
        # unshare, sh and chroot exec one another: the pid is hass's.
        with self.log_path.open("ab") as out:
            self._proc = subprocess.Popen(
                [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "--",
                    "sh",
                    "-c",
                    script,
                    "sh",
                    str(root),
                    str(self.config_dir),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _check_alive(self) -> None:
        if not self.running:
            tail = (
                self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
            )
            raise HAError(f"Home Assistant exited:\n{tail}")

    def _wait_http(self, deadline: float) -> None:
        """Until the (unauthenticated) onboarding endpoint answers."""
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(self.url + "/api/onboarding", timeout=5) as r:
                    if r.status == 200:
                        return
            except urllib.error.HTTPError as err:
                err.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise HAError("Home Assistant did not answer in time")
            time.sleep(0.25)

    def _wait_running(self, deadline: float) -> None:
        while True:
            self._check_alive()
            try:
                if self.rest("GET", "/api/config").get("state") == "RUNNING":
                    return
            except (OSError, HAError):
                pass
            if time.monotonic() > deadline:
                raise HAError("Home Assistant did not reach RUNNING in time")
            time.sleep(0.25)

    def _wait_entities(self, deadline: float) -> None:
        want = set(AREA_OF) | set(EXPOSED)
        while True:
            have = {s["entity_id"] for s in self.states()}
            if want <= have:
                return
            if time.monotonic() > deadline:
                raise HAError(f"entities missing: {sorted(want - have)}")
            self._check_alive()
            time.sleep(0.25)

    def _onboard(self) -> str:
        """Onboarding's user step (no core_config step: it would set up
        integrations that go to the internet), then a long-lived token."""
        client_id = self.url + "/"
        req = urllib.request.Request(
            self.url + "/api/onboarding/users",
            data=json.dumps(
                {
                    "client_id": client_id,
                    "name": "Test User",
                    "username": USERNAME,
                    "password": PASSWORD,
                    "language": "en",
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            auth_code = json.loads(r.read())["auth_code"]
        form = urllib.parse.urlencode(
            {
                "grant_type": "authorization_code",
                "code": auth_code,
                "client_id": client_id,
            }
        ).encode()
        with urllib.request.urlopen(self.url + "/auth/token", data=form, timeout=30) as r:
            access = json.loads(r.read())["access_token"]
        with WebSocket(self.port, access) as conn:
            token: str = conn.command(
                {
                    "type": "auth/long_lived_access_token",
                    "client_name": "assistant tests",
                    "lifespan": 3650,
                }
            )
        return token

    def _set_up_home(self, deadline: float) -> None:
        self._wait_entities(deadline)
        with self.ws_session() as c:
            areas = {
                a["name"]: a["area_id"] for a in c.command({"type": "config/area_registry/list"})
            }
            for name in AREAS:
                if name not in areas:
                    areas[name] = c.command({"type": "config/area_registry/create", "name": name})[
                        "area_id"
                    ]
            self.area_ids = areas
            entities = {
                e["entity_id"]: e for e in c.command({"type": "config/entity_registry/list"})
            }
            for entity_id, area in AREA_OF.items():
                device_id = entities[entity_id].get("device_id")
                if device_id:
                    c.command(
                        {
                            "type": "config/device_registry/update",
                            "device_id": device_id,
                            "area_id": areas[area],
                        }
                    )
                else:
                    c.command(
                        {
                            "type": "config/entity_registry/update",
                            "entity_id": entity_id,
                            "area_id": areas[area],
                        }
                    )
            c.command(
                {
                    "type": "homeassistant/expose_new_entities/set",
                    "assistant": "conversation",
                    "expose_new": False,
                }
            )
            every = sorted(
                {s["entity_id"] for s in c.command({"type": "get_states"})} | set(entities)
            )
            c.command(
                {
                    "type": "homeassistant/expose_entity",
                    "assistants": ["conversation"],
                    "entity_ids": [e for e in every if e not in EXPOSED],
                    "should_expose": False,
                }
            )
            c.command(
                {
                    "type": "homeassistant/expose_entity",
                    "assistants": ["conversation"],
                    "entity_ids": list(EXPOSED),
                    "should_expose": True,
                }
            )


class WebSocket:
    """Minimal Home Assistant WebSocket client (RFC 6455 text frames, client
    masking, ping/pong, fragmentation), authenticated on connect."""

    def __init__(self, port: int, token: str, host: str = "127.0.0.1", timeout: float = 30) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._buf = b""
        self._next_id = 1
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        self._sock.sendall(
            (
                f"GET /api/websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        while b"\r\n\r\n" not in self._buf:
            self._fill()
        head, self._buf = self._buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise HAError(f"WebSocket upgrade refused: {head[:200]!r}")
        if self.receive().get("type") != "auth_required":
            raise HAError("expected auth_required")
        self.send({"type": "auth", "access_token": token})
        reply = self.receive()
        if reply.get("type") != "auth_ok":
            raise HAError(f"WebSocket auth failed: {reply}")

    def command(self, message: dict[str, Any]) -> Any:
        """Send one command, wait for its result (other messages, e.g. events
        of earlier subscriptions, are dropped)."""
        msg_id = self._next_id
        self._next_id += 1
        self.send({**message, "id": msg_id})
        while True:
            reply = self.receive()
            if reply.get("id") == msg_id and reply.get("type") == "result":
                if not reply.get("success"):
                    raise HAError(f"{message.get('type')}: {reply.get('error')}")
                return reply.get("result")

    def send(self, obj: dict[str, Any]) -> None:
        payload = json.dumps(obj).encode()
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        mask = secrets.token_bytes(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self._sock.sendall(head + mask + masked)

    def receive(self) -> dict[str, Any]:
        """The next JSON message."""
        data = b""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._read(8))
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise HAError("WebSocket closed by Home Assistant")
            if opcode == 0x9:  # ping -> pong
                mask = secrets.token_bytes(4)
                self._sock.sendall(
                    struct.pack("!BB", 0x8A, 0x80 | len(payload))
                    + mask
                    + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                )
                continue
            if opcode == 0xA:
                continue
            data += payload
            if b0 & 0x80:  # FIN
                message: dict[str, Any] = json.loads(data)
                return message

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.sendall(struct.pack("!BB", 0x88, 0x80) + b"\0\0\0\0")
        self._sock.close()

    def __enter__(self) -> WebSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise HAError("WebSocket connection closed")
        self._buf += chunk

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._fill()
        out, self._buf = self._buf[:n], self._buf[n:]
        return out
