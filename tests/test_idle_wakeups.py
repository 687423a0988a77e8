"""While nobody speaks the loop is woken only every ~0.1 s (at the end of a VAD frame), not
for every 5 ms block. Every block still arrives, in order. (That the wake word is still
heard, read so, is `test_wake_word.py`'s, through the real daemon.)"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from assistant.audio.devices import DeviceMicrophone
from assistant.audio.vad import FRAME_SAMPLES
from assistant.core.clock import FakeClock
from assistant.core.endpoint import EndpointSettings
from assistant.core.frames import AudioChunk, Pcm16
from assistant.engines.fakes import FakeChatModel
from assistant.pipeline.announcements import announce_between_turns
from assistant.pipeline.listener import Listener
from tests.test_turn_logic import ListSpeaker, make_runner


class _Stream:
    latency = 0.01
    active = True


class _Status:
    input_overflow = False


class OffDeviceMicrophone(DeviceMicrophone):
    """The microphone's buffer and wake-ups without a sound device: blocks come from
    `capture` as its callback would hand them over."""

    def _open(self) -> Any:
        return _Stream()

    def capture(self, samples: int = 80) -> None:
        self._callback(np.zeros((samples, 1), np.int16), samples, None, _Status())


async def test_the_loop_is_woken_once_the_samples_asked_for_have_come() -> None:
    mic = OffDeviceMicrophone(FakeClock())
    mic._loop = asyncio.get_running_loop()
    wakes = 0
    real_set = mic._arrived.set

    def counted_set() -> None:
        nonlocal wakes
        wakes += 1
        real_set()

    mic._arrived.set = counted_set  # type: ignore[method-assign]
    assert mic.get_nowait(wanted_samples=512) is None
    for _ in range(6):  # 480 samples: not yet
        mic.capture()
    await asyncio.sleep(0)
    assert wakes == 0 and not mic._arrived.is_set()
    mic.capture()  # 560: the frame is complete
    await asyncio.sleep(0)
    assert wakes == 1
    mic.capture()  # woken already: not again until the reader asks
    await asyncio.sleep(0)
    assert wakes == 1
    taken = 0
    while mic.get_nowait() is not None:
        taken += 1
    assert taken == 8  # every block, in order
    mic.capture()  # asked for 1: the next block wakes it
    await asyncio.sleep(0)
    assert wakes == 2


async def test_want_now_wakes_for_the_next_block_or_at_once() -> None:
    mic = OffDeviceMicrophone(FakeClock())
    mic._loop = asyncio.get_running_loop()
    assert mic.get_nowait(wanted_samples=512) is None
    mic.capture()
    await asyncio.sleep(0)
    assert not mic._arrived.is_set()
    mic.want_now()  # a block is waiting: at once
    assert mic._arrived.is_set()
    while mic.get_nowait() is not None:
        pass
    assert mic.get_nowait(wanted_samples=512) is None
    mic.want_now()
    mic.capture()
    await asyncio.sleep(0)
    assert mic._arrived.is_set()


class _Vad:
    def __init__(self) -> None:
        self.p = 0.0

    def probability(self, frame: Pcm16) -> float:
        return self.p

    def reset(self) -> None:
        pass


def test_the_listener_waits_for_a_frame_only_while_nothing_goes_on() -> None:
    vad = _Vad()
    clock = FakeClock()
    listener = Listener(make_runner(FakeChatModel("unused")), vad, clock)
    woken: list[None] = []
    listener.want_now = lambda: woken.append(None)

    def feed(blocks: int) -> None:
        for _ in range(blocks):
            listener.feed(AudioChunk(np.full(80, 3000, np.int16), 16_000, clock.now_ns()))
            clock.advance_ms(5)

    # Quiet: the next frame and three more (~0.1 s), whatever the block size.
    assert listener.samples_wanted() == FRAME_SAMPLES + 3 * FRAME_SAMPLES
    feed(3)
    assert listener.samples_wanted() == FRAME_SAMPLES - 240 + 3 * FRAME_SAMPLES
    vad.p = 0.9
    feed(40)  # speech: each block as it comes
    assert listener.endpointer.in_speech
    assert listener.samples_wanted() == 1
    listener.muted = True  # and whatever comes from outside the audio asks again
    assert woken and listener.samples_wanted() == 1


async def test_an_announcement_asks_whether_anyone_speaks_only_after_catching_up() -> None:
    """The quiet microphone is read ~0.1 s at a time: before an announcement asks `busy`,
    the listener takes in what it holds (or it could start over a user just begun)."""
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    queue.put_nowait(("Time's up.", "timer"))
    seen: list[str] = []
    said = asyncio.Event()

    async def catch_up() -> None:
        seen.append("catch up")

    def busy() -> bool:
        seen.append("busy")
        return seen.count("busy") < 2  # someone speaks, then no longer

    async def say(text: str, reason: str) -> None:
        seen.append(text)
        said.set()

    task = asyncio.create_task(announce_between_turns(queue, busy, say, catch_up))
    await asyncio.wait_for(said.wait(), timeout=2)
    task.cancel()
    assert seen == ["catch up", "busy", "busy", "Time's up."]


async def test_an_announcement_waits_for_a_user_whose_words_are_not_yet_read() -> None:
    """The real listener reading the microphone's buffer as the daemon does (a quiet one
    ~0.1 s at a time): a user who began to speak ~0.1 s ago, not yet read, is heard before
    an announcement starts, and it waits for them."""
    clock = FakeClock()
    mic = OffDeviceMicrophone(clock)
    mic._loop = asyncio.get_running_loop()
    vad = _Vad()
    runner = make_runner(FakeChatModel("unused"))
    listener = Listener(runner, vad, clock, endpoint=EndpointSettings(min_speech_ms=64))
    listener.want_now = mic.want_now
    speaker = ListSpeaker()
    listening = asyncio.create_task(listener.run(mic.chunks(listener.samples_wanted), speaker))

    def capture(ms: int) -> None:
        for _ in range(ms // 5):
            clock.advance_ms(5)
            mic.capture()

    try:
        capture(500)  # quiet, read as it comes in
        await asyncio.sleep(0.05)
        assert listener.quiet and listener.samples_wanted() > 3 * FRAME_SAMPLES
        vad.p = 0.9
        capture(95)  # the user begins: 95 ms of speech, less than the listener waits for
        await asyncio.sleep(0)
        assert not listener.endpointer.in_speech  # not read yet
        runner.announcements.put_nowait(("Your timer is done.", "timer"))
        await asyncio.sleep(0.3)
        assert listener.endpointer.in_speech  # read before the announcement asked
        assert speaker.chunks == [], "the announcement started over the user"
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
