"""The sound devices through a real PulseAudio server: the microphone's front end never
blocks, and what it drops when the loop falls behind is counted, down to the turn record."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from assistant.app import Settings
from assistant.audio.devices import DeviceMicrophone, DeviceSpeaker
from assistant.core.clock import MONOTONIC
from assistant.core.frames import Pcm16
from assistant.engines.fakes import FakeChatModel
from assistant.pipeline.listener import Listener
from tests.conftest import Pulse, espeak_wav
from tests.test_listener import RealTimeSpeaker, real_asr, vad
from tests.test_turn_logic import make_runner

pytestmark = pytest.mark.audio


async def first_block(mic: DeviceMicrophone) -> None:
    await asyncio.wait_for(mic.get(), timeout=10)  # a fresh server takes ~2 s


async def test_a_stalled_loop_drops_the_oldest_blocks_and_counts_them(pulse_env: Pulse) -> None:
    mic = DeviceMicrophone(MONOTONIC, block_ms=20, max_queued=10)  # 200 ms of 20 ms blocks
    mic.start()
    try:
        await first_block(mic)
        mic.drain()
        stall_ns = MONOTONIC.now_ns()
        time.sleep(1.0)  # noqa: ASYNC251 (the point: the event loop is blocked for 1 s)
        kept = []
        while (chunk := mic.get_nowait()) is not None:
            kept.append(chunk)
        after_ns = MONOTONIC.now_ns()
    finally:
        mic.close()
    assert len(kept) == 10
    assert 30 <= mic.dropped_blocks <= 55
    # What is kept is the newest audio, in order: the last ~200 ms of the stall.
    starts = [c.captured_ns for c in kept]
    assert starts == sorted(starts)
    assert starts[0] - stall_ns > 600_000_000
    assert after_ns - starts[-1] < 150_000_000


@pytest.mark.models
async def test_frames_dropped_during_an_utterance_are_in_its_turn_record(
    pulse_env: Pulse, settings: Settings, tmp_path: Path
) -> None:
    question = espeak_wav("Please tell me what time it is right now.", tmp_path / "q.wav")
    runner = make_runner(FakeChatModel("unused"), asr=real_asr(settings))
    mic = DeviceMicrophone(MONOTONIC, block_ms=20, max_queued=5)
    listener = Listener(
        runner,
        vad(settings),
        MONOTONIC,
        dropped_frames=lambda: mic.dropped_blocks,
    )
    mic.start()
    try:
        await first_block(mic)
        listening = asyncio.create_task(listener.run(mic.chunks(), RealTimeSpeaker()))
        play = await asyncio.create_subprocess_exec(
            "paplay", "--device=mic", str(question), env=pulse_env.env
        )
        await asyncio.sleep(1.2)  # the speech has started (0.5 s of lead-in)
        time.sleep(0.5)  # noqa: ASYNC251 (the loop stalls mid-utterance: 25 blocks, 5 kept)
        await play.wait()
        for _ in range(100):
            if listener.records:
                break
            await asyncio.sleep(0.1)
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
    finally:
        mic.close()
    assert len(listener.records) == 1
    record = listener.records[0]
    assert record.dropped_frames is not None and 15 <= record.dropped_frames <= 25, record
    assert record.dropped_frames == mic.dropped_blocks
    # One turn, with the words either side of the 0.4 s hole (what fell in it is lost;
    # which words those are depends on scheduling).
    text = record.transcript.lower()
    assert text.startswith("please") and text.rstrip(".").endswith("right now"), text


async def play_tone(speaker: DeviceSpeaker, seconds: float, stall_s: float = 0.0) -> None:
    """Play a tone through the real output stream; with `stall_s`, hold the speaker's buffer
    lock that long mid-reply, so its callback (PortAudio's thread) is late, as under load."""
    rate = speaker.sample_rate_hz
    tone = (np.sin(np.arange(int(seconds * rate)) / rate * 2 * np.pi * 440) * 8000).astype(np.int16)

    async def chunks() -> AsyncIterator[Pcm16]:
        for start in range(0, len(tone), rate // 10):
            yield tone[start : start + rate // 10]

    playing = asyncio.create_task(speaker.play(chunks(), lambda ns: None))
    await asyncio.sleep(seconds / 2)
    if stall_s:
        with speaker._lock:
            time.sleep(stall_s)  # noqa: ASYNC251 (the point: the callback waits behind it)
    await playing


async def test_a_late_output_callback_mid_reply_counts_as_a_gap(
    pulse_env: Pulse, caplog: pytest.LogCaptureFixture
) -> None:
    speaker = DeviceSpeaker(22_050, MONOTONIC)
    speaker.start()
    try:
        # As in the daemon, whose speaker is open long before a reply: a fresh server's
        # first callbacks come irregularly.
        await asyncio.sleep(1.5)
        await play_tone(speaker, 1.0)
        assert speaker.gaps == 0  # a reply played on time has none
        assert not caplog.records
        await play_tone(speaker, 1.0, stall_s=0.3)
        assert speaker.gaps >= 1  # (PortAudio may be late once more as it catches up)
    finally:
        speaker.close()
    # Said where a user hearing it break up will look, with what to do about it.
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "broke up" in warning.getMessage() and "audio.block_ms" in warning.getMessage()
