"""`assistant run`: the always-listening daemon on the default (or configured) devices."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.app import Assistant, Settings, home_of, open_assistant
from assistant.audio.devices import SoundDevices, sound_devices
from assistant.audio.echo import FRAME as ECHO_FRAME
from assistant.audio.echo import EchoCanceller, echo_canceller, without_echo
from assistant.core.actions import ActionSink, LogActionSink
from assistant.core.clock import MONOTONIC, Clock
from assistant.core.errors import AudioDeviceError
from assistant.core.home import Home
from assistant.core.intents import DeviceAction
from assistant.core.latency import TurnRecord, percentile
from assistant.integrations.homeassistant.entities import HOME_ASSISTANT
from assistant.integrations.sdnotify import Notifier
from assistant.pipeline.listener import Listener, ListenState
from assistant.pipeline.turn import TurnRunner

if TYPE_CHECKING:
    from assistant.integrations.homeassistant.link import HomeAssistantLink
    from assistant.integrations.mqtt import Mqtt

log = logging.getLogger(__name__)

READY_LINE = "assistant ready"
FIRST_AUDIO_TIMEOUT_S = 10.0
TIMERS_FILE = "timers.json"
"""In the state directory systemd gives the service (`StateDirectory=`, passed on as
$STATE_DIRECTORY): timers and reminders outlive a restart. Without it they live in memory."""


class Health:
    """What the `health` topic reports: uptime, turns, recent latency, loop lag, drops."""

    def __init__(self, clock: Clock, recent: int = 50) -> None:
        self.clock = clock
        self.started_ns = clock.now_ns()
        self.turns = 0
        self.first_audio_ms: deque[float] = deque(maxlen=recent)
        self.loop_lag_ms = 0.0
        """The worst event-loop lag over the last minute."""

    def add(self, record: TurnRecord) -> None:
        if record.dropped:
            return
        self.turns += 1
        if record.first_audio_ms is not None and record.origin == "voice":
            self.first_audio_ms.append(record.first_audio_ms)

    async def watch_loop(self, period_s: float = 0.25) -> None:
        worst: deque[float] = deque(maxlen=int(60 / period_s))
        while True:
            t0 = self.clock.now_ns()
            await asyncio.sleep(period_s)
            worst.append(max(0.0, (self.clock.now_ns() - t0) / 1e6 - period_s * 1000))
            self.loop_lag_ms = max(worst)

    def snapshot(self, dropped_frames: int, overflows: int, output_gaps: int) -> dict[str, object]:
        recent = list(self.first_audio_ms)
        return {
            "uptime_s": round((self.clock.now_ns() - self.started_ns) / 1e9),
            "turns": self.turns,
            "first_audio_p50_ms": round(percentile(recent, 50), 1) if recent else None,
            "first_audio_p95_ms": round(percentile(recent, 95), 1) if recent else None,
            "loop_lag_ms": round(self.loop_lag_ms, 1),
            "dropped_frames": dropped_frames,
            "input_overflows": overflows,
            "output_gaps": output_gaps,
        }


class Controls:
    """What MQTT's commands act on. MQTT is built before the assistant (its device commands
    go into the turn runner's constructor), so these are set once the assistant is up;
    a command that comes before then is dropped with a line in the log."""

    def __init__(self) -> None:
        self.listener: Listener | None = None
        self.runner: TurnRunner | None = None

    def say(self, text: str, interrupt: bool) -> None:
        if self.listener is None or self.runner is None:
            log.warning("not ready yet: dropped say %r", text)
            return
        if interrupt:
            self.listener.cancel_soon()  # the reply or announcement playing now stops
        self.runner.say_between_turns(text, "mqtt_say")

    def set_mode(self, mode: str) -> None:
        if self.runner is None:
            log.warning("not ready yet: dropped routing mode %r", mode)
            return
        self.runner.dialog.set_mode(mode)
        log.info("routing mode: %s", mode)

    def mute(self, muted: bool) -> None:
        if self.listener is None:
            log.warning("not ready yet: dropped mute %r", muted)
            return
        self.listener.muted = muted
        log.info("microphone %s", "muted" if muted else "unmuted")

    def push_to_talk(self, start: bool) -> None:
        if self.listener is None:
            log.warning("not ready yet: dropped push-to-talk %r", start)
            return
        self.listener.push_to_talk(start)


async def run_daemon(settings: Settings, clock: Clock = MONOTONIC) -> None:
    health = Health(clock)
    controls = Controls()
    devices: SoundDevices | None = None

    def snapshot() -> dict[str, object]:
        if devices is None or devices.mic is None:
            return health.snapshot(0, 0, 0)
        mic, speaker = devices.mic, devices.speaker
        return health.snapshot(mic.dropped_blocks, mic.overflows, speaker.gaps)

    mqtt = None
    actions: ActionSink | None = None
    home = home_of(settings)
    if (cfg := settings.config.mqtt).url is not None:
        from assistant.integrations.mqtt import BrokerDevices, Mqtt, MqttActionSink

        mqtt = Mqtt(
            cfg,
            on_say=controls.say,
            on_mute=controls.mute,
            on_ptt=controls.push_to_talk,
            on_mode=controls.set_mode,
            health=snapshot,
            devices=BrokerDevices.for_config(cfg, home),
        )
        actions = MqttActionSink(mqtt, settings.config.devices, LogActionSink())

    link = None
    if settings.config.homeassistant.url is not None:
        from assistant.integrations.homeassistant.link import HomeAssistantLink

        link = HomeAssistantLink.for_config(settings.config.homeassistant, home)
    if link is not None:
        actions = DeviceActions(home, link, actions or LogActionSink())

    notify = Notifier()
    last_latency = ""

    def on_state(state: ListenState) -> None:
        log.debug("state: %s", state)
        notify.send(f"STATUS={state.value}{last_latency}")
        if mqtt is not None:
            mqtt.state(state)

    def on_mute(muted: bool) -> None:
        if mqtt is not None:
            mqtt.mute(muted)

    def on_record(record: TurnRecord) -> None:
        nonlocal last_latency
        if record.first_audio_ms is not None and record.outcome == "ok":
            last_latency = f"; last turn {record.first_audio_ms:.0f} ms ({record.route})"
        health.add(record)
        if mqtt is not None:
            mqtt.turn_finished(record)

    async with open_assistant(
        settings, clock, actions=actions, on_record=on_record, home=home
    ) as a:
        # Open both devices before saying ready: a missing device is a clear error now.
        with sound_devices(settings.config.audio, clock, a.reply_rate_hz) as devices:
            mic = devices.mic
            assert mic is not None
            echo = _echo_canceller(a, devices)
            listener = a.listener(
                dropped_frames=lambda: mic.dropped_blocks,
                on_state=on_state,
                echo_cancelled=echo is not None,
                on_mute=on_mute,
            )
            controls.listener, controls.runner = listener, a.runner
            try:
                await _serve(a, devices, listener, mqtt, notify, health, echo, link)
            finally:
                log.info(
                    "audio: %d blocks dropped, %d input overflows, %d gaps in replies",
                    mic.dropped_blocks, mic.overflows, devices.speaker.gaps,
                )  # fmt: skip


class DeviceActions:
    """Commands to Home Assistant's devices as its service calls; the rest as before (MQTT,
    or logged)."""

    def __init__(self, home: Home, link: HomeAssistantLink, others: ActionSink) -> None:
        self.home, self.link, self.others = home, link, others

    def send(self, action: DeviceAction) -> None:
        if self.home.found_by(action.device, HOME_ASSISTANT):
            self.link.send(action)
        else:
            self.others.send(action)

    def unreachable(self, device: str) -> str | None:
        if self.home.found_by(device, HOME_ASSISTANT):
            return None if self.link.connected.is_set() else "Home Assistant"
        return self.others.unreachable(device)


def _echo_canceller(a: Assistant, devices: SoundDevices) -> EchoCanceller | None:
    """The reply's echo taken out of the microphone, when the pipeline wants it and it can
    run (said at start either way)."""
    listen = a.settings.pipeline.listen
    if not listen.half_duplex:
        return None  # headphones: nothing to cancel
    if not listen.echo_cancel:
        log.info(
            "echo cancellation off ([listen] echo_cancel = false): half-duplex, deaf while speaking"
        )
        return None
    mic, speaker = devices.mic, devices.speaker
    assert mic is not None
    delay_ms = round((speaker.output_latency_s + mic.input_latency_s) * 1000)
    echo = echo_canceller(a.reply_rate_hz, delay_ms)
    if echo is not None:
        speaker.echo = echo.played
        log.info("echo cancellation on (WebRTC AEC3, %d ms between speaker and mic)", delay_ms)
    return echo


async def _serve(
    a: Assistant,
    devices: SoundDevices,
    listener: Listener,
    mqtt: Mqtt | None,
    notify: Notifier,
    health: Health,
    echo: EchoCanceller | None = None,
    link: HomeAssistantLink | None = None,
) -> None:
    """Until SIGINT or SIGTERM: every long-lived task, named, in one task group."""
    mic = devices.mic
    assert mic is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        devices.start()
        # Ready means listening: wait for audio to flow (a fresh PulseAudio server takes
        # ~2 s to deliver the first block).
        try:
            await asyncio.wait_for(mic.get(), timeout=FIRST_AUDIO_TIMEOUT_S)
        except TimeoutError:
            device = a.settings.config.audio.input_device
            raise AudioDeviceError(
                f"the input device {device or '(default)'!r} delivered no audio "
                f"in {FIRST_AUDIO_TIMEOUT_S:.0f} s"
            ) from None
        if state := os.environ.get("STATE_DIRECTORY"):
            a.runner.timers.keep_in(Path(state.split(":")[0]) / TIMERS_FILE)
        # Ready: models warmed and audio flowing (not waiting for any broker). systemd is
        # told first, so whoever watches for the line finds the datagram already sent.
        notify.send("READY=1", "STATUS=idle")
        print(f"{READY_LINE} (pipeline {a.settings.pipeline_name})", flush=True)
        async with asyncio.TaskGroup() as tg:

            def wanted() -> int:
                # (While a reply sounds the listener is not quiet, and takes every block as
                # it comes; the canceller re-blocks them in 10 ms frames. In its tail, once
                # the reply is over and the listener quiet, it still gets them a frame at a
                # time, in pace with the speaker's side: AEC3 takes ~0.1 s of jitter between
                # the two, the listener's quiet reads are up to 0.13 s. Idle, it gets them as
                # the listener does. Taking every block always, as it did, cost 1.7 % of one
                # core idle: 8.1 % against 6.4 %.)
                asked = listener.samples_wanted()
                return min(ECHO_FRAME, asked) if echo is not None and echo.engaged else asked

            source = mic.chunks(wanted)
            listener.want_now = mic.want_now
            if echo is not None:
                source = without_echo(source, echo)
            tasks = [tg.create_task(listener.run(source, devices.speaker), name="listener")]
            tasks += [tg.create_task(watch, name=name) for name, watch in devices.watches().items()]
            if mqtt is not None:
                mqtt.state(ListenState.IDLE)
                tasks.append(tg.create_task(mqtt.run(), name="mqtt"))
                every_s = a.settings.config.mqtt.health_interval_s
                tasks.append(tg.create_task(mqtt.publish_health(every_s), name="health"))
                tasks.append(tg.create_task(health.watch_loop(), name="loop-lag"))
            if link is not None:
                tasks.append(tg.create_task(link.run(), name="home-assistant"))
            if link is not None or mqtt is not None:
                quiet = lambda: listener.quiet  # noqa: E731
                tasks.append(tg.create_task(a.keep_confirmations(quiet), name="confirmations"))
            tasks.append(tg.create_task(notify.watchdog(), name="watchdog"))
            await stop.wait()
            log.info("stopping")
            notify.send("STOPPING=1", "STATUS=stopping")
            if mqtt is not None:
                await mqtt.say_offline()
            for task in tasks:
                task.cancel()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
