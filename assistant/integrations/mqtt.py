"""MQTT: the daemon as a citizen of a home-automation system. Every aiomqtt call lives here.

Topics under the base topic (default `assistant/<site>`), retained where marked (R):

| topic            | direction | payload                                                      |
|------------------|-----------|--------------------------------------------------------------|
| `status` (R)     | out       | `online` / `offline` (also the last will)                    |
| `state` (R)      | out       | `idle` / `wake` / `listening` / `thinking` / `speaking`      |
| `mute` (R)       | out       | `ON` / `OFF`                                                 |
| `mute/set`       | in        | `ON` / `OFF`                                                 |
| `say`            | in        | text, or JSON `{"text": ..., "interrupt": true}`; said       |
|                  |           | between turns unless it interrupts                           |
| `ptt/set`        | in        | `start` (listen now, no wake word) / `stop` (end the         |
|                  |           | utterance now)                                               |
| `model` (R)      | out       | the routing mode: `auto` / `fast` / `large`                  |
| `model/set`      | in        | `auto` / `fast` / `large`                                    |
| `last_turn` (R)  | out       | the last turn's record (JSON)                                |
| `event`          | out       | JSON `{"type": "wake" / "turn_started" / "turn_finished" /   |
|                  |           | "error", ...}`                                               |
| `health` (R)     | out       | JSON: uptime, turns, first-audio p50/p95, loop lag, drops    |

Device commands from the intents go to each device's own `command_topic`.

Home Assistant finds it through one retained device-based discovery message, re-sent when
`<prefix>/status` says `online`. Publishing never blocks a turn: messages go to an outbox
that a sender task drains while connected; while disconnected the outbox keeps the latest
value per retained topic and a bounded number of others, counting what it drops. The
connection is re-made with jittered backoff, and after every reconnect subscriptions,
discovery, status and the retained state are sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import re
import socket
import ssl
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt

from assistant import __version__
from assistant.config import DeviceEntry, MqttSection
from assistant.core.actions import ActionSink
from assistant.core.errors import ConfigError
from assistant.core.intents import DeviceAction
from assistant.core.latency import TurnRecord
from assistant.pipeline.listener import ListenState

log = logging.getLogger(__name__)

_ATTRS = "{{{{ {{'{0}': value_json.{0}, 'route': value_json.route}} | tojson }}}}"
"""The full text (the state is cut at 255 characters) and the route, as attributes."""

MODES = ("auto", "fast", "large")
"""Routing modes for `model/set`."""

MAX_PAYLOAD = 4096
"""Longest command payload accepted (a `say` text is a few sentences)."""


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
        node_id = f"assistant_{site}"
        return cls(
            base,
            f"{cfg.discovery_prefix}/device/{node_id}/config",
            f"{cfg.discovery_prefix}/status",
            node_id,
        )

    def __call__(self, suffix: str) -> str:
        return f"{self.base}/{suffix}"


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


class Mqtt:
    """The connection and the topics. `run()` for the life of the daemon."""

    def __init__(
        self,
        cfg: MqttSection,
        *,
        on_say: Callable[[str, bool], None],
        on_mute: Callable[[bool], None],
        on_ptt: Callable[[bool], None],
        on_mode: Callable[[str], None] = lambda mode: None,
        health: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        assert cfg.url is not None
        self.cfg = cfg
        self.topics = Topics.from_config(cfg)
        self.on_say, self.on_mute, self.on_ptt = on_say, on_mute, on_ptt
        self.on_mode = on_mode
        self.health = health
        self.outbox = Outbox()
        self.retained: dict[str, str] = {}
        """The current value of every retained topic, re-sent after a reconnect."""
        self.connected = asyncio.Event()
        self.connections = 0
        self._client_now: aiomqtt.Client | None = None
        self._echo = asyncio.Event()
        self._password = _password(cfg)
        self._tls = _tls_context(cfg)
        scheme, rest = cfg.url.split("://", 1)
        hostport = rest.split("/", 1)[0]
        host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
        self.host = host or hostport
        self.port = int(port) if port else (8883 if scheme == "mqtts" else 1883)
        if scheme == "mqtts" and self._tls is None:
            self._tls = ssl.create_default_context()
        self.publish_retained("status", "online")
        self.publish_retained("mute", "OFF")
        self.publish_retained("model", "auto")

    # ------------------------------------------------------------------ publishing

    def publish(self, suffix: str, payload: str | dict[str, Any]) -> None:
        """An event: QoS 0, so a burst of them does not wait for an acknowledgement each."""
        self._put(self.topics(suffix), payload, retain=False, qos=0)

    def publish_retained(self, suffix: str, payload: str | dict[str, Any]) -> None:
        self._put(self.topics(suffix), payload, retain=True)

    def publish_to(self, topic: str, payload: str) -> None:
        """A topic outside the base (a device's command topic)."""
        self._put(topic, payload, retain=False)

    def _put(
        self, topic: str, payload: str | dict[str, Any], *, retain: bool, qos: int = 1
    ) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        if retain:
            self.retained[topic] = text
        self.outbox.put(_Message(topic, text, retain, qos))

    def state(self, state: ListenState) -> None:
        self.publish_retained("state", state.value)
        match state:
            case ListenState.WAKE:
                self.publish("event", {"type": "wake"})
            case ListenState.THINKING:
                self.publish("event", {"type": "turn_started"})

    async def publish_health(self, every_s: float) -> None:
        """`health`, retained, now and every `every_s`."""
        while True:
            self.publish_retained("health", self.health() | {"mqtt_dropped": self.outbox.dropped})
            await asyncio.sleep(every_s)

    def turn_finished(self, record: TurnRecord) -> None:
        if record.outcome == "speculative":
            return
        d = record.to_dict()
        self.publish_retained("last_turn", d)
        self.publish("event", {"type": "turn_finished", "record": d})

    def error_event(self, problem: str, topic: str = "") -> None:
        log.warning("mqtt: %s%s", f"{topic}: " if topic else "", problem)
        self.publish("event", {"type": "error", "topic": topic, "error": problem})

    # ------------------------------------------------------------------ connection

    async def run(self) -> None:
        backoff_s = 0.5
        while True:
            try:
                async with self._client() as client:
                    self.connections += 1
                    log.info(
                        "mqtt: connected to %s:%d as %s", self.host, self.port, self.topics.base
                    )
                    backoff_s = 0.5
                    await self._session(client)
            except aiomqtt.MqttCodeError as e:
                log.error("mqtt: the broker refused the connection: %s", e)  # noqa: TRY400
            except aiomqtt.MqttError as e:
                log.warning("mqtt: %s", e)
            except Exception:
                # A bug here must not take the voice assistant down with it.
                log.exception("mqtt: unexpected error")
            finally:
                self.connected.clear()
                self._client_now = None
            delay = backoff_s * random.uniform(0.5, 1.5)
            log.info("mqtt: reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)
            # Capped low: a broker that comes back is found within ~5 s.
            backoff_s = min(backoff_s * 2, 3.0)

    def _client(self, *, suffix: str = "", will: bool = True) -> aiomqtt.Client:
        last_will = aiomqtt.Will(self.topics("status"), "offline", qos=1, retain=True)
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.cfg.username,
            password=self._password,
            # A second connection with the daemon's id would take its session away.
            identifier=(self.cfg.client_id or self.topics.node_id) + suffix,
            will=last_will if will else None,
            keepalive=self.cfg.keepalive_s,
            tls_context=self._tls,
        )

    async def _session(self, client: aiomqtt.Client) -> None:
        t = self.topics
        self._echo.clear()
        commands = ("mute/set", "say", "ptt/set", "model/set")
        for topic in (*(t(c) for c in commands), t.ha_status, t("status")):
            granted = await client.subscribe(topic, qos=1)
            if any(_refused(code) for code in granted):
                log.error("mqtt: not allowed to subscribe to %s (check the broker's ACL)", topic)
                self.error_event(
                    f"the broker refused the subscription for user {self.cfg.username!r}", topic
                )
        await client.publish(t.discovery, json.dumps(self.discovery()), qos=1, retain=True)
        # Everything retained, as it is now (status online first).
        for topic, payload in self.retained.items():
            self.outbox.put(_Message(topic, payload, True))
        self._client_now = client
        self.connected.set()
        sender = asyncio.create_task(self._send(client), name="mqtt-send")
        checker = asyncio.create_task(self._check_echo(), name="mqtt-echo")
        try:
            async for message in client.messages:  # MqttError when the connection drops
                await self._receive(client, message)
        finally:
            checker.cancel()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await sender

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            msg = self.outbox.take()
            if msg is None:
                await self.outbox.ready.wait()
                continue
            try:
                await client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            except aiomqtt.MqttError:
                self.outbox.put(msg)  # sent after the reconnect
                raise

    async def _check_echo(self) -> None:
        """Brokers differ in how they refuse (Mosquitto grants a subscription its ACL will
        never deliver on, and drops a denied publish in silence), so check for ourselves:
        our own `status` must come back to us."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._echo.wait(), timeout=5.0)
            return
        log.error(
            "mqtt: not allowed to subscribe to or publish on %s/# as user %r: our own "
            "status never came back (check the broker's ACL)",
            self.topics.base,
            self.cfg.username,
        )

    async def _receive(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        if topic == self.topics("status"):
            self._echo.set()
            return
        if topic == self.topics.ha_status:
            if _text(message.payload) == "online":  # Home Assistant restarted
                await client.publish(
                    self.topics.discovery, json.dumps(self.discovery()), qos=1, retain=True
                )
            return
        if message.retain:
            log.info("mqtt: ignoring a retained command on %s", topic)
            return
        try:
            self._command(topic, message.payload)
        except ValueError as e:
            self.error_event(str(e), topic)
        await asyncio.sleep(0)  # a burst of commands must let the sender run

    def _command(self, topic: str, raw: Any) -> None:
        if not isinstance(raw, bytes | bytearray):
            raw = b"" if raw is None else str(raw).encode()
        if len(raw) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(raw)} bytes is over the limit of {MAX_PAYLOAD}")
        try:
            text = bytes(raw).decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ValueError("payload is not UTF-8 text") from None
        if topic == self.topics("mute/set"):
            if text.upper() not in ("ON", "OFF"):
                raise ValueError(f"mute/set takes ON or OFF, not {text[:40]!r}")
            muted = text.upper() == "ON"
            self.on_mute(muted)
            self.publish_retained("mute", "ON" if muted else "OFF")
        elif topic == self.topics("say"):
            self.on_say(*_say_text(text))
        elif topic == self.topics("model/set"):
            if text.lower() not in MODES:
                raise ValueError(f"model/set takes one of {', '.join(MODES)}, not {text[:40]!r}")
            self.on_mode(text.lower())
            self.publish_retained("model", text.lower())
        elif topic == self.topics("ptt/set"):
            if text.lower() not in ("start", "stop"):
                raise ValueError(f"ptt/set takes start or stop, not {text[:40]!r}")
            self.on_ptt(text.lower() == "start")
        else:
            raise ValueError("unknown command topic")

    async def say_offline(self) -> None:
        """On a clean shutdown: `offline`, retained (the will covers the unclean ones)."""
        client = self._client_now
        if client is None:
            return
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            await client.publish(self.topics("status"), "offline", qos=1, retain=True, timeout=1.0)

    # ------------------------------------------------------------------ discovery

    def discovery(self) -> dict[str, Any]:
        """One device-based Home Assistant discovery message for all the entities."""
        t, node = self.topics, self.topics.node_id

        def entity(key: str, platform: str, name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
            return key, {"p": platform, "name": name, "unique_id": f"{node}_{key}", **fields}

        last = t("last_turn")
        components = dict(
            [
                entity("listening", "binary_sensor", "Listening", state_topic=t("state"),
                       value_template="{{ 'ON' if value == 'listening' else 'OFF' }}"),
                entity("speaking", "binary_sensor", "Speaking", state_topic=t("state"),
                       value_template="{{ 'ON' if value == 'speaking' else 'OFF' }}"),
                entity("transcript", "sensor", "Last transcript", state_topic=last,
                       value_template="{{ value_json.transcript[:255] }}",
                       json_attributes_topic=last,
                       json_attributes_template=_ATTRS.format("transcript")),
                entity("reply", "sensor", "Last reply", state_topic=last,
                       value_template="{{ value_json.reply[:255] }}",
                       json_attributes_topic=last,
                       json_attributes_template=_ATTRS.format("reply")),
                entity("latency", "sensor", "Last turn latency", state_topic=last,
                       value_template="{{ value_json.first_audio_ms }}",
                       unit_of_measurement="ms", state_class="measurement",
                       device_class="duration"),
                entity("mute", "switch", "Mute", state_topic=t("mute"), command_topic=t("mute/set"),
                       payload_on="ON", payload_off="OFF"),
                entity("say", "notify", "Say", command_topic=t("say")),
                entity("ptt", "button", "Push to talk", command_topic=t("ptt/set"),
                       payload_press="start"),
                entity("model", "select", "Model mode", command_topic=t("model/set"),
                       state_topic=t("model"), options=list(MODES)),
                entity("turn", "event", "Turn", state_topic=t("event"),
                       event_types=["wake", "turn_started", "turn_finished", "error"],
                       value_template="{{ {'event_type': value_json.type} | tojson }}"),
            ]
        )  # fmt: skip
        return {
            "dev": {
                "ids": [node],
                "name": f"Assistant {t.base.rsplit('/', 1)[-1]}",
                "mf": "assistant",
                "mdl": "local voice assistant",
                "sw": __version__,
            },
            "o": {"name": "assistant", "sw": __version__},
            "avty_t": t("status"),
            "cmps": components,
            "qos": 1,
        }


class MqttActionSink:
    """Device commands to each device's command topic (logged for devices without one)."""

    def __init__(self, mqtt: Mqtt, devices: list[DeviceEntry], fallback: ActionSink) -> None:
        self.mqtt, self.fallback = mqtt, fallback
        self.devices = {d.name: d for d in devices}

    def send(self, action: DeviceAction) -> None:
        device = self.devices.get(action.device)
        if device is None or device.command_topic is None:
            self.fallback.send(action)
            return
        self.mqtt.publish_to(device.command_topic, device_payload(device, action))


DEFAULT_PAYLOADS = {
    "on": '{"state": "ON"}',
    "off": '{"state": "OFF"}',
    "open": '{"state": "OPEN"}',
    "close": '{"state": "CLOSE"}',
    "set": '{"value": {value}}',
}


def device_payload(device: DeviceEntry, action: DeviceAction) -> str:
    template = device.payloads.get(action.command)
    if template is None:
        template = DEFAULT_PAYLOADS[action.command]
        if action.command == "set" and device.kind == "climate":
            template = '{"current_heating_setpoint": {value}}'
        elif action.command == "set":
            template = '{"brightness_percent": {value}}'
    value = "" if action.value is None else f"{action.value:g}"
    return template.replace("{value}", value)


def _refused(code: Any) -> bool:
    """A SUBACK entry that refuses the subscription (0x80 in MQTT 3.1.1, a failure reason
    code in MQTT 5)."""
    failure = getattr(code, "is_failure", None)
    return bool(failure) if failure is not None else int(code) >= 0x80


def _say_text(text: str) -> tuple[str, bool]:
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


def _text(payload: Any) -> str:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload).decode(errors="replace").strip()
    return str(payload).strip()


def check_credentials(cfg: MqttSection) -> None:
    """The password and TLS files can be read: a ConfigError now, not once connecting.
    (Called once at start: the warning below is said once.)"""
    if cfg.password is not None:
        log.warning("mqtt: the password is inline in the config file; prefer password_file")
    _password(cfg)
    _tls_context(cfg)


def _password(cfg: MqttSection) -> str | None:
    if cfg.password is not None:
        return cfg.password.get_secret_value()
    if cfg.password_credential is not None:
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ConfigError(
                "mqtt.password_credential: $CREDENTIALS_DIRECTORY is not set "
                "(run under systemd with LoadCredential=)"
            )
        path, field = Path(directory) / cfg.password_credential, "password_credential"
    elif cfg.password_file is not None:
        path, field = cfg.password_file, "password_file"  # (checked private at load)
    else:
        return None
    try:
        password = path.read_text().strip()
    except OSError as e:
        raise ConfigError(f"mqtt.{field}: {path}: {e.strerror}") from None
    if not password:
        # (install-service leaves an empty credential file for the unit's LoadCredential=.)
        raise ConfigError(f"mqtt.{field}: {path} is empty: put the broker's password in it")
    return password


def _tls_context(cfg: MqttSection) -> ssl.SSLContext | None:
    if cfg.ca_file is None and cfg.cert_file is None:
        return None
    ctx = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
    if cfg.cert_file is not None:
        ctx.load_cert_chain(str(cfg.cert_file), str(cfg.key_file) if cfg.key_file else None)
    return ctx


async def cleanup(cfg: MqttSection) -> list[str]:
    """Remove this assistant from Home Assistant and the broker: an empty retained payload
    on the discovery topic and on every retained topic. Returns the topics cleared."""
    mqtt = Mqtt(cfg, on_say=lambda t, i: None, on_mute=lambda m: None, on_ptt=lambda s: None)
    t = mqtt.topics
    retained = ("status", "state", "mute", "model", "last_turn", "health")
    topics = [t.discovery, *(t(x) for x in retained)]
    try:
        async with mqtt._client(suffix="-cleanup", will=False) as client:
            for topic in topics:
                await client.publish(topic, b"", qos=1, retain=True)
    except aiomqtt.MqttError as e:
        raise ConfigError(f"mqtt: cannot reach {mqtt.host}:{mqtt.port}: {e}") from None
    return topics
