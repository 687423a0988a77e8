"""The sound devices through a real PulseAudio server: the microphone's front end never
blocks, and what it drops when the loop falls behind is counted, down to the turn record."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from assistant.app import Settings
from assistant.audio import DeviceMicrophone
from assistant.clock import MONOTONIC
from assistant.endpoint import EndpointSettings
from assistant.engines.fakes import FakeChatModel
from assistant.listener import Listener, ListenSettings
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
        ListenSettings(EndpointSettings()),
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
    assert 15 <= record.extra["dropped_frames"] <= 25, record.extra
    assert record.extra["dropped_frames"] == mic.dropped_blocks
    # One turn, with the words either side of the 0.4 s hole (what fell in it is lost;
    # which words those are depends on scheduling).
    text = record.transcript.lower()
    assert text.startswith("please") and text.rstrip(".").endswith("right now"), text
