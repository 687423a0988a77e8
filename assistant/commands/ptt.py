"""`assistant ptt`: push-to-talk in a terminal. Space starts recording from the microphone,
space again stops it and the reply plays; a latency line prints after each turn. Pressing
space during a reply cancels it and starts a new recording. q or Ctrl-C exits.

Terminals report key presses, not releases, so the key toggles. Works over SSH and tmux
(cbreak mode on the controlling terminal, restored on exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import termios
import tty
from collections.abc import Iterator

import numpy as np

from assistant.app import Assistant
from assistant.audio.devices import SoundDevices
from assistant.core.errors import AudioDeviceError
from assistant.core.frames import AudioChunk, Utterance
from assistant.core.latency import TurnRecord
from assistant.core.levels import speech_end_sample
from assistant.pipeline.announcements import announce_between_turns

TOGGLE_KEYS = {" ", "\r", "\n"}
QUIT_KEYS = {"q", "Q", "\x03", "\x04"}


def latency_line(r: TurnRecord) -> str:
    """The compact per-stage line printed after each turn."""
    if r.outcome != "ok":
        return f"turn {r.turn}: {r.outcome}{': ' + r.error if r.error else ''}"
    stages = " ".join(f"{k} {v:.0f}" for k, v in r.ms.items())
    first = "-" if r.first_audio_ms is None else f"{r.first_audio_ms:.0f}"
    return f"⏱ first audio {first} ms | {stages} | {r.route} | {r.transcript!r} → {r.reply!r}"


@contextlib.contextmanager
def cbreak(fd: int) -> Iterator[None]:
    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


class PushToTalk:
    def __init__(self, assistant: Assistant, devices: SoundDevices) -> None:
        self.a = assistant
        assert devices.mic is not None
        self.devices, self.mic, self.speaker = devices, devices.mic, devices.speaker
        self.keys: asyncio.Queue[str] = asyncio.Queue()
        self.turn: asyncio.Task[object] | None = None

    async def run(self) -> None:
        if not sys.stdin.isatty():
            raise AudioDeviceError("ptt needs a terminal on standard input (try ssh -t or tmux)")
        fd = sys.stdin.fileno()
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        with cbreak(fd):
            loop.add_reader(fd, self._on_key, fd)
            self.devices.start()
            try:
                say("push-to-talk ready: space to talk, space again to stop, q to quit")
                keys = asyncio.create_task(self._keys(), name="ptt-keys")
                stopped = asyncio.create_task(stop.wait(), name="ptt-stop")
                watches = self.devices.watches().items()
                helpers = [asyncio.create_task(w, name=name) for name, w in watches]
                helpers.append(asyncio.create_task(self._announcements(), name="ptt-announce"))
                await asyncio.wait({keys, stopped}, return_when=asyncio.FIRST_COMPLETED)
                for t in (keys, stopped, *helpers):
                    t.cancel()
            finally:
                loop.remove_reader(fd)
                await self._cancel_turn()
        say("bye")

    def _on_key(self, fd: int) -> None:
        for ch in os.read(fd, 32).decode(errors="ignore"):
            self.keys.put_nowait(ch)

    async def _keys(self) -> None:
        while True:
            key = await self.keys.get()
            if key in QUIT_KEYS:
                return
            if key not in TOGGLE_KEYS:
                continue
            await self._cancel_turn()  # a new press talks over the reply
            utterance = await self._record()
            if utterance is None:
                say("(heard nothing)")
                continue
            self.turn = asyncio.create_task(self._run_turn(utterance), name="ptt-turn")

    async def _record(self) -> Utterance | None:
        self.mic.drain()
        say("● recording… (space to stop)")
        chunks: list[AudioChunk] = []
        while True:
            get_chunk = asyncio.create_task(self.mic.get(), name="ptt-chunk")
            get_key = asyncio.create_task(self.keys.get(), name="ptt-key")
            done, _ = await asyncio.wait({get_chunk, get_key}, return_when=asyncio.FIRST_COMPLETED)
            if get_chunk in done:
                chunks.append(get_chunk.result())
            else:
                get_chunk.cancel()
            if get_key in done:
                key = get_key.result()
                if key in TOGGLE_KEYS or key in QUIT_KEYS:
                    pressed_ns = self.a.clock.now_ns()
                    if key in QUIT_KEYS:
                        self.keys.put_nowait(key)
                    break
            else:
                get_key.cancel()
        # Blocks captured before the press may still be queued.
        while (c := self.mic.get_nowait()) is not None:
            if c.captured_ns < pressed_ns:
                chunks.append(c)
        if not chunks:
            return None
        audio = np.concatenate([c.samples for c in chunks])
        end = speech_end_sample(audio, self.mic.sample_rate_hz)
        if end is None:
            return None
        speech_end_ns = chunks[0].captured_ns + end * 1_000_000_000 // self.mic.sample_rate_hz
        return Utterance(audio, self.mic.sample_rate_hz, speech_end_ns, pressed_ns)

    async def _run_turn(self, utterance: Utterance) -> None:
        say("… thinking")
        record = await self.a.runner.run(utterance, self.speaker)
        say(latency_line(record))

    async def _announcements(self) -> None:
        """A timer that ran out is said once no reply is playing (a press talks over it)."""
        await announce_between_turns(
            self.a.runner.announcements,
            busy=lambda: self.turn is not None and not self.turn.done(),
            say=self._announce,
        )

    async def _announce(self, text: str, reason: str) -> None:
        say(f"⏰ {text}")
        self.turn = asyncio.create_task(
            self.a.runner.announce(text, self.speaker, reason=reason), name="ptt-announcement"
        )
        await asyncio.wait({self.turn})

    async def _cancel_turn(self) -> None:
        if self.turn is not None and not self.turn.done():
            self.turn.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.turn
        self.turn = None


def say(text: str) -> None:
    print(text, flush=True)
