"""The MQTT client in this process against a real Mosquitto on loopback, alone or wired to a
listener as the daemon wires them: what Home Assistant and the log see, without models or
audio devices (a loud tone is speech, the engines are the in-tree fakes). The daemon's own
MQTT tests, with the real models on PulseAudio null sinks, are test_mqtt.py."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import aiomqtt
import numpy as np
import pytest

from assistant.audio.wakeword import WakeWordSettings
from assistant.audio.wav import BLOCK_MS
from assistant.commands.run import Controls
from assistant.config import MqttSection
from assistant.core.clock import MONOTONIC
from assistant.core.frames import AudioChunk, Pcm16
from assistant.core.latency import TurnRecord
from assistant.engines.fakes import FakeChatModel, FakeTranscriber
from assistant.integrations.mqtt import Mqtt
from assistant.pipeline.listener import Listener
from tests.mqtt_helper import Broker, Recorder, ha_render, recorder
from tests.test_turn_logic import ListSpeaker, make_runner

VOICE = TurnRecord(
    turn=1, origin="voice", transcript="What time is it?", reply="It is ten past three.",
    route="intent", reason="time", outcome="ok", ms={"asr": 180.0, "route": 1.0, "tts": 90.0},
    first_audio_ms=505.0, total_ms=1900.0,
)  # fmt: skip
ANNOUNCEMENT = TurnRecord(
    turn=2, origin="announce", transcript="", reply="The washing machine has finished.",
    route="announce", reason="mqtt_say", outcome="ok", ms={"tts": 150.0},
    first_audio_ms=210.0, total_ms=2300.0,
)  # fmt: skip


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


async def arrived(
    mq: Recorder, topic: str, cond: Callable[[str], bool] = lambda p: True, timeout_s: float = 10
) -> str:
    """The first payload on `topic` that `cond` accepts (the recorder's `wait_for`, without
    blocking the event loop)."""

    def matching() -> list[str]:
        return [p for p, _ in mq.on(topic) if cond(p)]

    await until(matching, timeout_s, f"a message on {topic}")
    return matching()[0]


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
        # Once: `Mqtt.run` must stop on one cancellation (SIGTERM sends one), even one that
        # Python 3.11's wait_for lost (a full run once hung here for ever on that).
        task.cancel()
        await asyncio.wait({task}, timeout=10.0)
        assert task.done(), "mqtt.run() went on after it was cancelled"
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("lost_in", ["connecting", "answering Home Assistant's restart"])
async def test_a_cancellation_a_broker_call_swallowed_still_stops_it(
    broker: Broker, monkeypatch: pytest.MonkeyPatch, lost_in: str
) -> None:
    """Python 3.11's `asyncio.wait_for`, which aiomqtt waits for the broker in, loses a
    cancellation that comes as the broker's reply does: the call returns as if none came.
    That race is a matter of microseconds, so it is made certain here: aiomqtt's wait, once
    armed, lets the reply come in spite of the cancellation, as 3.11's does. `Mqtt.run` must
    stop all the same (else SIGTERM never stops the daemon)."""
    armed, in_flight, lost = False, asyncio.Event(), asyncio.Event()
    real_wait_for = aiomqtt.Client._wait_for

    async def lossy(self: aiomqtt.Client, fut: Any, timeout: float | None) -> Any:  # noqa: ASYNC109 (the signature it replaces)
        nonlocal armed
        if not armed:
            return await real_wait_for(self, fut, timeout)
        armed = False
        reply = asyncio.ensure_future(fut)
        in_flight.set()
        try:
            # Until the cancellation comes, even if the reply is in first (on loopback it
            # can be, before the test cancels: then nothing would be lost, nothing tested).
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            lost.set()
            return await reply  # the reply came: the cancellation is lost
        raise AssertionError("unreachable: only a cancellation ends the wait")

    monkeypatch.setattr(aiomqtt.Client, "_wait_for", lossy)
    mqtt = make_mqtt(broker, "lost")
    if lost_in == "connecting":
        armed = True
        task = asyncio.create_task(mqtt.run(), name="mqtt")
    else:
        task = asyncio.create_task(mqtt.run(), name="mqtt")
        await until(mqtt.connected.is_set, 10, "connected")
        armed = True
        with recorder(broker) as ha:  # Home Assistant restarted: discovery is sent again
            await asyncio.to_thread(ha.publish, mqtt.topics.ha_status, "online")
    await asyncio.wait_for(in_flight.wait(), timeout=10)
    task.cancel()
    await asyncio.wait({task}, timeout=10.0)
    assert lost.is_set()  # the cancellation was swallowed where the library waits
    assert task.done(), "mqtt.run() ran on after its cancellation was lost"
    assert task.cancelled()


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


async def test_an_announcement_has_its_own_sensor_and_leaves_the_voice_turns_alone(
    broker: Broker,
) -> None:
    base = "assistant/say"
    with recorder(broker, f"{base}/#", "homeassistant/#") as mq:
        async with running(make_mqtt(broker, "say")) as mqtt:
            mqtt.turn_finished(VOICE)
            mqtt.turn_finished(ANNOUNCEMENT)
            config = await arrived(mq, "homeassistant/device/assistant_say/config")
            await arrived(mq, f"{base}/event", lambda p: "washing" in p)
    cmps = json.loads(config)["cmps"]

    def records_for(key: str) -> list[dict[str, object]]:
        """What Home Assistant's entity `key` was sent: the records on its state topic."""
        return [json.loads(p) for p, _ in mq.on(cmps[key]["state_topic"])]

    # Last transcript, last reply and the latency sensor (in HA's long-term statistics)
    # only ever get voice turns; the announcement is on a sensor of its own.
    for key in ("transcript", "reply", "latency"):
        assert [r["first_audio_ms"] for r in records_for(key)] == [505.0], key
    assert [r["reply"] for r in records_for("announcement")] == [ANNOUNCEMENT.reply]
    assert cmps["announcement"]["p"] == "sensor" and "state_class" not in cmps["announcement"]
    events = [(e["type"], e["record"]["turn"]) for e in mq.json_on(f"{base}/event")]
    assert events == [("turn_finished", 1), ("announcement_finished", 2)]


async def test_the_turn_event_carries_the_record_cut_to_fit_home_assistant(broker: Broker) -> None:
    base = "assistant/event"
    actions = [{"device": f"lamp {n} " + "x" * 300, "command": "on"} for n in range(30)]
    long = dataclasses.replace(
        VOICE, transcript="tell me " * 200, reply="Once upon a time. " * 300, route="large",
        reason="explain", actions=actions, error="e" * 2000,
    )  # fmt: skip
    with recorder(broker, f"{base}/#", "homeassistant/#") as mq:
        async with running(make_mqtt(broker, "event")) as mqtt:
            mqtt.turn_finished(long)
            config = await arrived(mq, "homeassistant/device/assistant_event/config")
            payload = await arrived(mq, f"{base}/event", lambda p: "turn_finished" in p)
    turn = json.loads(config)["cmps"]["turn"]
    # What Home Assistant makes of it: event_type, and the rest as the entity's attributes.
    attributes = json.loads(ha_render(turn["value_template"], payload))
    assert attributes.pop("event_type") == "turn_finished" in turn["event_types"]
    assert {k: attributes[k] for k in ("route", "reason", "outcome", "first_audio_ms")} == {
        "route": "large", "reason": "explain", "outcome": "ok", "first_audio_ms": 505.0
    }  # fmt: skip
    assert attributes["ms"] == VOICE.ms and attributes["total_ms"] == VOICE.total_ms
    for key in ("transcript", "reply", "error"):
        full = getattr(long, key)
        assert len(attributes[key]) == 255 and attributes[key] == full[:254] + "…", key
    assert len(attributes["actions"]) == 10 and attributes["actions"][0]["command"] == "on"
    assert len(json.dumps(attributes)) < 8192  # HA's recorder drops attributes past 16 KiB


class Microphone:
    """Blocks in real time, as a microphone delivers them: silence, or a loud tone for the
    seconds `speak` says."""

    RATE_HZ = 16_000

    def __init__(self) -> None:
        self._voice_until_ns = 0

    def speak(self, seconds: float) -> None:
        self._voice_until_ns = MONOTONIC.now_ns() + int(seconds * 1e9)

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        n = self.RATE_HZ * BLOCK_MS // 1000
        tone = (np.sin(2 * np.pi * 300 * np.arange(n) / self.RATE_HZ) * 8000).astype(np.int16)
        silence = np.zeros(n, np.int16)
        captured_ns = MONOTONIC.now_ns()
        while True:
            due_ns = captured_ns + BLOCK_MS * 1_000_000
            await asyncio.sleep(max(0.0, (due_ns - MONOTONIC.now_ns()) / 1e9))
            voiced = captured_ns < self._voice_until_ns
            yield AudioChunk(tone if voiced else silence, self.RATE_HZ, captured_ns)
            captured_ns = due_ns


class LoudIsSpeech:
    """The speech detector: a loud frame is speech (the real VAD's tests are
    test_listener.py)."""

    def probability(self, frame: Pcm16) -> float:
        return 1.0 if float(np.abs(frame.astype(np.float32)).mean()) > 1000 else 0.0

    def reset(self) -> None:
        pass


class Wired(NamedTuple):
    mqtt: Mqtt
    listener: Listener
    mic: Microphone


@contextlib.asynccontextmanager
async def assistant_on(broker: Broker, site: str, *, awake_s: float = 0.5) -> AsyncIterator[Wired]:
    """MQTT and a listener wired as `assistant run` wires them (commands through its
    `Controls`, the listener's state and mute to `Mqtt.state` and `Mqtt.mute`), listening to
    a `Microphone`. A voice turn hears "what time is it"."""
    controls = Controls()
    mqtt = Mqtt(
        MqttSection(url=broker.url, site=site),
        on_say=controls.say,
        on_mute=controls.mute,
        on_ptt=controls.push_to_talk,
        on_mode=controls.set_mode,
    )
    runner = make_runner(FakeChatModel("unused"), asr=FakeTranscriber("what time is it"))
    listener = Listener(
        runner,
        LoudIsSpeech(),
        MONOTONIC,
        wake_settings=WakeWordSettings(awake_s=awake_s),
        on_state=mqtt.state,
        on_mute=mqtt.mute,
    )
    controls.listener, controls.runner = listener, runner
    mic = Microphone()
    listening = asyncio.create_task(listener.run(mic.chunks(), ListSpeaker()), name="listener")
    try:
        async with running(mqtt):
            yield Wired(mqtt, listener, mic)
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        await runner.close()


async def test_a_push_to_talk_press_with_no_speech_goes_back_to_idle(broker: Broker) -> None:
    state = "assistant/ptt/state"
    with recorder(broker, "assistant/ptt/#") as mq:
        async with assistant_on(broker, "ptt", awake_s=0.5):
            mq.publish("assistant/ptt/ptt/set", "start")
            await arrived(mq, state, lambda p: p == "wake")
            # Nothing said: once the press's 0.5 s are over the state is idle again, as the
            # listener is (it stayed `wake`, retained, until the next utterance).
            await until(lambda: mq.on(state)[-1][0] == "idle", 3, "back to idle")
        states = [p for p, _ in mq.on(state)]
        assert states[states.index("wake") :] == ["wake", "idle"]


async def test_push_to_talk_while_muted_hears_one_question_and_the_mute_stays_on(
    broker: Broker,
) -> None:
    base = "assistant/mute"
    mute, state = f"{base}/mute", f"{base}/state"
    with recorder(broker, f"{base}/#") as mq:
        async with assistant_on(broker, "mute", awake_s=3.0) as (_, listener, mic):
            mq.publish(f"{base}/mute/set", "ON")
            await until(lambda: mq.on(mute)[-1][0] == "ON", 5, "muted")
            mic.speak(0.8)  # the control: muted, a question is not heard
            await asyncio.sleep(2.0)
            assert listener.records == []
            mq.publish(f"{base}/ptt/set", "start")
            await arrived(mq, state, lambda p: p == "wake")
            mic.speak(0.8)
            await until(lambda: len(listener.records) == 1, 10, "the press's question answered")
            # Its one question heard, the microphone is muted again, as the switch says.
            await asyncio.sleep(0.5)
            mic.speak(0.8)
            await asyncio.sleep(2.0)
            assert len(listener.records) == 1 and listener.muted
            # The state showed meanwhile that it heard, and ended idle.
            states = [p for p, _ in mq.on(state)]
            assert "listening" in states[states.index("wake") :] and states[-1] == "idle"
        # Home Assistant's switch was right all along: ON, never turned off behind its back.
        mutes = [p for p, _ in mq.on(mute)]
        assert mutes[mutes.index("ON") :] == ["ON"] * len(mutes[mutes.index("ON") :])
        assert mutes[-1] == "ON"


async def test_mute_set_is_published_once_the_listener_has_it(broker: Broker) -> None:
    mute = "assistant/mute2/mute"
    with recorder(broker, "assistant/mute2/#") as mq:
        async with assistant_on(broker, "mute2") as wired:
            await until(lambda: mq.on(mute), 5, "the mute at the start")
            for command in ("ON", "off", "ON"):
                n = len(mq.on(mute))
                mq.publish(f"{mute}/set", command)
                # (B023: the lambda is done with before `n` changes.)
                await until(lambda: len(mq.on(mute)) > n, 5, f"mute/set {command}")  # noqa: B023
                assert mq.on(mute)[-1][0] == command.upper()
                assert wired.listener.muted is (command == "ON")
