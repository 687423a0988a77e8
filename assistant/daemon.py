"""`assistant run`: the always-listening daemon on the default (or configured) devices."""

from __future__ import annotations

import asyncio
import logging
import signal

from assistant.app import Assistant
from assistant.audio import DeviceMicrophone, DeviceSpeaker
from assistant.errors import AudioDeviceError
from assistant.listener import ListenState

log = logging.getLogger(__name__)

READY_LINE = "assistant ready"
FIRST_AUDIO_TIMEOUT_S = 10.0


async def run_daemon(a: Assistant) -> None:
    audio = a.settings.config.audio
    # Open both devices before saying ready: a missing device is a clear error now.
    mic = DeviceMicrophone(a.clock, audio.input_device, block_ms=audio.block_ms)
    speaker = DeviceSpeaker(a.reply_rate_hz, a.clock, audio.output_device, audio.block_ms)
    mqtt = None
    if a.settings.config.mqtt.url is not None:
        from assistant.mqtt import Mqtt, MqttActionSink

        def say(text: str) -> None:
            a.runner.timers.announcements.put_nowait((text, "mqtt_say"))

        def mute(muted: bool) -> None:
            listener.muted = muted
            log.info("microphone %s", "muted" if muted else "unmuted")

        mqtt = Mqtt(a.settings.config.mqtt, on_say=say, on_mute=mute)
        a.runner.on_record = mqtt.turn_finished
        a.runner.actions = MqttActionSink(mqtt, a.settings.config.devices, a.runner.actions)

    def on_state(state: ListenState) -> None:
        log.debug("state: %s", state)
        if mqtt is not None:
            mqtt.state(state.value)

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
        print(f"{READY_LINE} (pipeline {a.settings.pipeline_name})", flush=True)
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(listener.run(mic.chunks(), speaker), name="listener"),
                tg.create_task(mic.watch(), name="watch-input"),
                tg.create_task(speaker.watch(), name="watch-output"),
            ]
            if mqtt is not None:
                mqtt.state("idle")
                tasks.append(tg.create_task(mqtt.run(), name="mqtt"))
            await stop.wait()
            log.info("stopping")
            if mqtt is not None:
                await mqtt.say_offline()
            for task in tasks:
                task.cancel()
    finally:
        mic.close()
        speaker.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
