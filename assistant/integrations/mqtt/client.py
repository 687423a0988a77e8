"""The connection and the topics: the `Mqtt` client that publishes state and events, takes
the commands, re-sends discovery and retained state after each reconnect; and `cleanup`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
from collections.abc import Callable
from typing import Any

import aiomqtt

from assistant.config import MqttSection
from assistant.core.errors import ConfigError
from assistant.core.latency import TurnRecord
from assistant.integrations.mqtt.credentials import _password, _tls_context
from assistant.integrations.mqtt.discovery import discovery, event_record
from assistant.integrations.mqtt.home import BrokerDevices
from assistant.integrations.mqtt.outbox import Outbox, _Message
from assistant.integrations.mqtt.paho_log import CONNECTION_LOSS, PAHO_LOG
from assistant.integrations.mqtt.topics import MAX_PAYLOAD, MODES, Topics, payload_text, say_text
from assistant.pipeline.listener import ListenState

log = logging.getLogger("assistant.integrations.mqtt")
"""The package's logger, so log lines name `assistant.integrations.mqtt` as before the split."""


def _not_cancelled() -> None:
    """Raise the cancellation this task was sent, if an await swallowed it. aiomqtt waits
    for the broker in `asyncio.wait_for`, which on Python 3.11 loses a cancellation that
    comes as the broker's reply does: the call returns as if nothing happened, and the task
    would run on for ever (a SIGTERM that never stops the daemon; a test hung on it). The
    task still says it is being cancelled (`cancelling()`), so it is asked after each call
    to the broker."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


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
        devices: BrokerDevices | None = None,
    ) -> None:
        """`devices`: keeps the home's devices in step with what the broker says of them."""
        assert cfg.url is not None
        self.cfg = cfg
        self.topics = Topics.from_config(cfg)
        self.on_say, self.on_mute, self.on_ptt = on_say, on_mute, on_ptt
        self.on_mode = on_mode
        self.health = health
        self.devices = devices
        self.outbox = Outbox()
        self.retained: dict[str, str] = {}
        """The current value of every retained topic, re-sent after a reconnect."""
        self.connected = asyncio.Event()
        self.connections = 0
        self._client_now: aiomqtt.Client | None = None
        self._outage = False
        """The broker was lost (or never reached), and that has been said."""
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

    def mute(self, muted: bool) -> None:
        """The microphone's mute, whenever it is set (by `mute/set` or otherwise)."""
        self.publish_retained("mute", "ON" if muted else "OFF")

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
        if record.dropped:
            return
        d = record.to_dict()
        if record.origin == "announce":
            # Not a voice turn: on last_turn it would blank the last transcript and put its
            # time (no ASR, no model) into the latency sensor and its long-term statistics.
            self.publish_retained("last_announcement", d)
            self.publish("event", {"type": "announcement_finished", "record": event_record(d)})
            return
        self.publish_retained("last_turn", d)
        self.publish("event", {"type": "turn_finished", "record": event_record(d)})

    def error_event(self, problem: str, topic: str = "") -> None:
        log.warning("mqtt: %s%s", f"{topic}: " if topic else "", problem)
        self.publish("event", {"type": "error", "topic": topic, "error": problem})

    # ------------------------------------------------------------------ connection

    async def run(self) -> None:
        backoff_s = 0.5
        while True:
            session = False
            try:
                async with self._client() as client:
                    session = True
                    self.connections += 1
                    self._outage = False
                    log.info(
                        "mqtt: connected to %s:%d as %s", self.host, self.port, self.topics.base
                    )
                    backoff_s = 0.5
                    await self._session(client)
            except aiomqtt.MqttError as e:
                self._log_failure(e, session)
            except Exception:
                # A bug here must not take the voice assistant down with it.
                log.exception("mqtt: unexpected error")
            finally:
                self.connected.clear()
                self._client_now = None
            _not_cancelled()  # (one lost in connecting or disconnecting)
            delay = backoff_s * random.uniform(0.5, 1.5)
            log.info("mqtt: reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)
            # Capped low: a broker that comes back is found within ~5 s.
            backoff_s = min(backoff_s * 2, 3.0)

    def _log_failure(self, error: aiomqtt.MqttError, session: bool) -> None:
        """A broker that goes away (a restart, the network) is said once, as a warning with
        its reason; the attempts until it is back are INFO. A refusal (a bad password) is an
        ERROR every time: only the user can mend it."""
        if not session and isinstance(error, aiomqtt.MqttCodeError):
            log.error("mqtt: the broker refused the connection: %s", error)
            return
        reason = CONNECTION_LOSS.take() or _reason(error)
        where = f"{self.host}:{self.port}"
        if session:
            log.warning("mqtt: lost the connection to %s (%s)", where, reason)
        else:
            level = logging.INFO if self._outage else logging.WARNING
            log.log(level, "mqtt: cannot reach %s (%s)", where, reason)
        self._outage = True

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
            logger=PAHO_LOG,
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
        for topic in self.devices.topics() if self.devices is not None else ():
            await client.subscribe(topic, qos=0)
        await client.publish(t.discovery, json.dumps(discovery(self.topics)), qos=1, retain=True)
        # Everything retained, as it is now (status online first).
        for topic, payload in self.retained.items():
            self.outbox.put(_Message(topic, payload, True))
        _not_cancelled()  # (one lost in connecting, subscribing or publishing)
        self._client_now = client
        self.connected.set()
        sender = asyncio.create_task(self._send(client), name="mqtt-send")
        checker = asyncio.create_task(self._check_echo(), name="mqtt-echo")
        try:
            async for message in client.messages:  # MqttError when the connection drops
                await self._receive(client, message)
                if self.devices is not None and not len(client.messages):
                    await _settle(client, self.devices)
                _not_cancelled()
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
            _not_cancelled()  # (else `_session` would wait for this task for ever)

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
            if payload_text(message.payload) == "online":  # Home Assistant restarted
                await client.publish(
                    self.topics.discovery, json.dumps(discovery(self.topics)), qos=1, retain=True
                )
            return
        if self.devices is not None and not topic.startswith(self.topics.base + "/"):
            if self.devices.wants(topic):  # the home's devices, and what they report
                await _take(client, self.devices, message)
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
            # (`mute` is published when the listener has it: `Mqtt.mute`.)
            self.on_mute(text.upper() == "ON")
        elif topic == self.topics("say"):
            self.on_say(*say_text(text))
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


SETTLE_AFTER = 500
"""Messages after a change of devices before it is given to the home even though more are
waiting (a busy broker, whose queue is seldom empty)."""


async def _take(client: aiomqtt.Client, devices: BrokerDevices, message: aiomqtt.Message) -> None:
    """A message about the home's devices. What they changed is given to the home once none
    are waiting (`_settle`, at the end of a burst of retained ones), or after SETTLE_AFTER."""
    payload = message.payload
    devices.receive(
        str(message.topic), payload if isinstance(payload, bytes) else str(payload or "").encode()
    )
    if devices.waiting >= SETTLE_AFTER:
        await _settle(client, devices)


async def _settle(client: aiomqtt.Client, devices: BrokerDevices) -> bool:
    """Give the home what the messages so far changed; True if that subscribed to more."""
    more = devices.settle()
    for topic in more:
        await client.subscribe(topic, qos=0)
    return bool(more)


def _reason(error: aiomqtt.MqttError) -> str:
    """What an aiomqtt error says happened, in words (its own are "Disconnected during
    message iteration" from "[code:128] Unspecified error" for a closed connection)."""
    cause = error.__cause__
    if isinstance(cause, aiomqtt.MqttCodeError) and getattr(cause.rc, "value", cause.rc) == 128:
        return "the connection was closed"
    return str(cause or error)


def _refused(code: Any) -> bool:
    """A SUBACK entry that refuses the subscription (0x80 in MQTT 3.1.1, a failure reason
    code in MQTT 5)."""
    failure = getattr(code, "is_failure", None)
    return bool(failure) if failure is not None else int(code) >= 0x80


async def cleanup(cfg: MqttSection) -> list[str]:
    """Remove this assistant from Home Assistant and the broker: an empty retained payload
    on the discovery topic and on every retained topic. Returns the topics cleared."""
    mqtt = Mqtt(cfg, on_say=lambda t, i: None, on_mute=lambda m: None, on_ptt=lambda s: None)
    t = mqtt.topics
    retained = ("status", "state", "mute", "model", "last_turn", "last_announcement", "health")
    topics = [t.discovery, *(t(x) for x in retained)]
    try:
        async with mqtt._client(suffix="-cleanup", will=False) as client:
            for topic in topics:
                await client.publish(topic, b"", qos=1, retain=True)
    except aiomqtt.MqttError as e:
        raise ConfigError(f"mqtt: cannot reach {mqtt.host}:{mqtt.port}: {e}") from None
    return topics


async def survey(cfg: MqttSection, devices: BrokerDevices, quiet_s: float = 0.5) -> None:
    """Read what the broker holds about the home (its retained messages), once, for a
    listing: until nothing has come for `quiet_s`."""
    mqtt = Mqtt(cfg, on_say=lambda t, i: None, on_mute=lambda m: None, on_ptt=lambda s: None)
    try:
        async with mqtt._client(suffix="-devices", will=False) as client:
            for topic in devices.topics():
                await client.subscribe(topic, qos=0)
            while True:
                try:
                    async with asyncio.timeout(quiet_s):
                        message = await anext(aiter(client.messages))
                except TimeoutError:
                    if await _settle(client, devices):
                        continue  # their states, retained, are on their way
                    return
                await _take(client, devices, message)
    except aiomqtt.MqttError as e:
        raise ConfigError(f"mqtt: cannot reach {mqtt.host}:{mqtt.port}: {e}") from None
