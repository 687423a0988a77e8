"""`assistant run`: the always-listening daemon on the default (or configured) devices."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import deque
from pathlib import Path

from assistant.app import Assistant
from assistant.audio.devices import DeviceMicrophone, DeviceSpeaker
from assistant.core.clock import Clock
from assistant.core.errors import AudioDeviceError
from assistant.core.latency import TurnRecord, percentile
from assistant.integrations.sdnotify import Notifier
from assistant.pipeline.listener import ListenState

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
        if record.outcome == "speculative":
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


async def run_daemon(a: Assistant) -> None:
    audio = a.settings.config.audio
    # Open both devices before saying ready: a missing device is a clear error now.
    mic = DeviceMicrophone(a.clock, audio.input_device, block_ms=audio.block_ms)
    speaker = DeviceSpeaker(a.reply_rate_hz, a.clock, audio.output_device, audio.block_ms)
    health = Health(a.clock)
    mqtt = None
    if a.settings.config.mqtt.url is not None:
        from assistant.integrations.mqtt import Mqtt, MqttActionSink

        def say(text: str, interrupt: bool) -> None:
            if interrupt:
                listener.cancel_soon()  # the reply or announcement playing now stops
            a.runner.say_between_turns(text, "mqtt_say")

        def set_mode(mode: str) -> None:
            a.runner.mode = mode  # type: ignore[assignment]  # (checked against MODES)
            log.info("routing mode: %s", mode)

        def mute(muted: bool) -> None:
            listener.muted = muted
            log.info("microphone %s", "muted" if muted else "unmuted")

        mqtt = Mqtt(
            a.settings.config.mqtt,
            on_say=say,
            on_mute=mute,
            on_ptt=lambda start: listener.push_to_talk(start),
            on_mode=set_mode,
            health=lambda: health.snapshot(mic.dropped_blocks, mic.overflows, speaker.gaps),
        )

        a.runner.actions = MqttActionSink(mqtt, a.settings.config.devices, a.runner.actions)

    notify = Notifier()
    last_latency = ""

    def on_state(state: ListenState) -> None:
        log.debug("state: %s", state)
        notify.send(f"STATUS={state.value}{last_latency}")
        if mqtt is not None:
            mqtt.state(state)

    def note_record(record: TurnRecord) -> None:
        nonlocal last_latency
        if record.first_audio_ms is not None and record.outcome == "ok":
            last_latency = f"; last turn {record.first_audio_ms:.0f} ms ({record.route})"

    def on_record(record: TurnRecord) -> None:
        note_record(record)
        health.add(record)
        if mqtt is not None:
            mqtt.turn_finished(record)

    a.runner.on_record = on_record

    listener = a.listener(dropped_frames=lambda: mic.dropped_blocks, on_state=on_state)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        mic.start()
        speaker.start()
        # Ready means listening: wait for audio to flow (a fresh PulseAudio server takes
        # ~2 s to deliver the first block).
        try:
            await asyncio.wait_for(mic.get(), timeout=FIRST_AUDIO_TIMEOUT_S)
        except TimeoutError:
            raise AudioDeviceError(
                f"the input device {audio.input_device or '(default)'!r} delivered no audio "
                f"in {FIRST_AUDIO_TIMEOUT_S:.0f} s"
            ) from None
        if state := os.environ.get("STATE_DIRECTORY"):
            a.runner.timers.keep_in(Path(state.split(":")[0]) / TIMERS_FILE)
        print(f"{READY_LINE} (pipeline {a.settings.pipeline_name})", flush=True)
        # Ready: models warmed and audio flowing (not waiting for any broker).
        notify.send("READY=1", "STATUS=idle")
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(listener.run(mic.chunks(), speaker), name="listener"),
                tg.create_task(mic.watch(), name="watch-input"),
                tg.create_task(speaker.watch(), name="watch-output"),
            ]
            if mqtt is not None:
                mqtt.state(ListenState.IDLE)
                tasks.append(tg.create_task(mqtt.run(), name="mqtt"))
                every_s = a.settings.config.mqtt.health_interval_s
                tasks.append(tg.create_task(mqtt.publish_health(every_s), name="health"))
                tasks.append(tg.create_task(health.watch_loop(), name="loop-lag"))
            tasks.append(tg.create_task(notify.watchdog(), name="watchdog"))
            await stop.wait()
            log.info("stopping")
            notify.send("STOPPING=1", "STATUS=stopping")
            if mqtt is not None:
                await mqtt.say_offline()
            for task in tasks:
                task.cancel()
    finally:
        mic.close()
        speaker.close()
        log.info(
            "audio: %d blocks dropped, %d input overflows, %d gaps in replies",
            mic.dropped_blocks, mic.overflows, speaker.gaps,
        )  # fmt: skip
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
