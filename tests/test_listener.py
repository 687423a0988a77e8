"""The listener's turn-taking with the real Silero VAD and espeak-ng speech, fake engines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np

from assistant.app import Settings, build_vad
from assistant.audio import paced_chunks, read_wav
from assistant.clock import MONOTONIC
from assistant.endpoint import EndpointSettings
from assistant.engines.asr import WhisperTranscriber
from assistant.engines.fakes import FakeChatModel
from assistant.frames import Pcm16
from assistant.listener import Listener, ListenSettings
from tests.conftest import espeak_wav
from tests.test_turn_logic import make_runner


def real_asr(settings: Settings) -> WhisperTranscriber:
    m = settings.models
    return WhisperTranscriber(
        settings.model_files()["asr"],
        compute_type=m.asr.compute_type,
        threads=m.asr.threads,
        language=m.asr.language,
        beam_size=m.asr.beam_size,
    )


class RealTimeSpeaker:
    """Plays as a device would: each chunk takes its duration; a flush is instant."""

    output_latency_s = 0.0

    def __init__(self) -> None:
        self.played_s = 0.0

    async def play(
        self, audio: AsyncIterator[Pcm16], on_first_sample: Callable[[int], None]
    ) -> None:
        first = True
        async for pcm in audio:
            if first:
                on_first_sample(MONOTONIC.now_ns())
                first = False
            seconds = len(pcm) / 22_050
            await asyncio.sleep(seconds)
            self.played_s += seconds


async def test_barge_in_cancels_the_reply_and_the_new_speech_is_a_turn(
    settings: Settings, tmp_path: Path
) -> None:
    q1 = read_wav(espeak_wav("Tell me a story.", tmp_path / "a.wav", trail_s=1.0))
    q2 = read_wav(espeak_wav("Stop, what time is it?", tmp_path / "b.wav", trail_s=1.5))
    audio = np.concatenate([q1, q2])
    # A reply far longer than the audio that follows it (the fake speaks 50 ms a character).
    runner = make_runner(
        FakeChatModel("Once upon a time, " + "there was a dragon. " * 20), asr=real_asr(settings)
    )
    listener = Listener(
        runner, build_vad(settings), ListenSettings(EndpointSettings(), barge_in=True), MONOTONIC
    )
    speaker = RealTimeSpeaker()
    await listener.run(paced_chunks(audio, 16_000, MONOTONIC), speaker)
    # The story was cut off by the second question (a cancelled turn leaves no record
    # here), which was answered in its turn.
    assert [(r.outcome, r.route) for r in listener.records] == [("ok", "intent")]
    assert "time" in listener.records[0].transcript.lower()
    assert speaker.played_s < 5.0  # the story (20 s at the fake's pace) did not play out


async def test_half_duplex_does_not_hear_speech_during_the_reply(
    settings: Settings, tmp_path: Path
) -> None:
    q1 = read_wav(espeak_wav("Tell me a story.", tmp_path / "a.wav", trail_s=1.0))
    q2 = read_wav(espeak_wav("What time is it?", tmp_path / "b.wav", trail_s=0.5))
    runner = make_runner(
        FakeChatModel("Once upon a time, there was a dragon. " * 3), asr=real_asr(settings)
    )
    listener = Listener(runner, build_vad(settings), ListenSettings(EndpointSettings()), MONOTONIC)
    await listener.run(paced_chunks(np.concatenate([q1, q2]), 16_000, MONOTONIC), RealTimeSpeaker())
    # Only the first question was a turn: the second came while the reply was playing.
    assert [r.outcome for r in listener.records] == ["ok"]
    assert "story" in listener.records[0].transcript.lower()
