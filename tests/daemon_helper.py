"""Run `assistant run` as a subprocess against the test PulseAudio, and watch what it says."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tests.conftest import ASSISTANT, Pulse, espeak_wav

TURN_PREFIX = "INFO assistant.turn: "


class Daemon:
    def __init__(
        self,
        pulse: Pulse,
        *args: str,
        env: dict[str, str] | None = None,
        program: list[str] | None = None,
    ) -> None:
        # The microphone is its own: a daemon another test left running would hear the
        # same audio, answer it too, and run its models beside this one's (the looped-back
        # room test failed one full run in eight that way).
        pulse.wait_nobody_recording("mic.monitor")
        full_env = {**pulse.env, **(env or {})}
        self.proc = subprocess.Popen(
            [*(program or [str(ASSISTANT)]), "run", "--log-level", "INFO", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._stamps: list[tuple[float, str]] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _pump(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            self._stamps.append((time.monotonic(), line.rstrip("\n")))
            into.append(line.rstrip("\n"))

    def stamped_stderr(self) -> list[tuple[float, str]]:
        """Every output line with the monotonic time it was read."""
        return list(self._stamps)

    def wait_ready(self, timeout_s: float = 120) -> None:
        self.wait_until(
            lambda: any("assistant ready" in line for line in self.stdout),
            timeout_s,
            "the ready line",
        )

    def wait_until(self, cond: Any, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if cond():
                return
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"daemon exited ({self.proc.returncode}) waiting for {what}:\n"
                    + "\n".join(self.stderr[-30:])
                )
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}:\n" + "\n".join(self.stderr[-30:]))

    def turns(self) -> list[dict[str, Any]]:
        return [
            json.loads(line.removeprefix(TURN_PREFIX))
            for line in self.stderr
            if line.startswith(TURN_PREFIX)
        ]

    def wait_turns(self, n: int, timeout_s: float = 60) -> list[dict[str, Any]]:
        self.wait_until(lambda: len(self.turns()) >= n, timeout_s, f"{n} turn record(s)")
        return self.turns()

    def wait_turn_about(self, word: str, after: int, timeout_s: float = 60) -> dict[str, Any]:
        """The first record after the first `after` whose transcript has `word`. Not simply
        the next one: a record is logged once its reply has played, and a daemon shared by
        several tests hears their audio too, so a late record of an earlier turn may come
        first."""

        def found() -> list[dict[str, Any]]:
            return [t for t in self.turns()[after:] if word in t["transcript"].lower()]

        self.wait_until(found, timeout_s, f"a turn about {word!r}")
        return found()[0]

    def stop(self, sig: int = signal.SIGTERM) -> float:
        """Signal the daemon; returns how long it took to exit."""
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        elapsed = time.monotonic() - t0
        self._close()
        return elapsed

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self) -> None:
        for t in self._threads:
            t.join(timeout=2)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@contextlib.contextmanager
def running_daemon(pulse: Pulse, *args: str, env: dict[str, str] | None = None) -> Iterator[Daemon]:
    """`assistant run ARGS`, ready (listening), killed on the way out."""
    d = Daemon(pulse, *args, env=env)
    try:
        d.wait_ready()
        yield d
    finally:
        d.kill()


class SinkRecorder:
    """Records a null sink's monitor to a WAV file (parecord).

    A recorder a failing test never stopped is stopped by `stop_leftover_recorders`
    (an autouse fixture), so its process is not reaped by the garbage collector in
    some later test.
    """

    running: ClassVar[list[SinkRecorder]] = []

    def __init__(self, pulse: Pulse, sink: str, path: Path) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            [
                "parecord",
                f"--device={sink}.monitor",
                "--file-format=wav",
                "--channels=1",
                "--rate=16000",
                "--format=s16le",
                str(path),
            ],
            env=pulse.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        SinkRecorder.running.append(self)

    def stop(self) -> np.ndarray:
        self._end()
        with wave.open(str(self.path), "rb") as w:
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")

    def _end(self) -> None:
        if self in SinkRecorder.running:
            SinkRecorder.running.remove(self)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def stop_leftover_recorders() -> None:
    for rec in list(SinkRecorder.running):
        rec._end()


def loud_seconds(pcm: np.ndarray, rate: int = 16_000, floor: int = 1000) -> float:
    """Seconds of audio in 10 ms frames whose peak passes `floor`."""
    n = rate // 100
    frames = pcm[: len(pcm) // n * n].reshape(-1, n)
    return float((np.abs(frames).max(axis=1) > floor).sum()) / 100


def concat_wavs(parts: list[Path], gaps_s: list[float], out: Path) -> Path:
    from assistant.audio.wav import read_wav, write_wav
    from assistant.core.levels import speech_end_sample

    pcm = []
    for i, p in enumerate(parts):
        x = read_wav(p)
        nz = np.flatnonzero(np.abs(x) > 300)
        if i > 0:
            x = x[nz[0] :]
        if i < len(parts) - 1:
            end = speech_end_sample(x, 16_000)
            assert end is not None
            x = x[:end]
            pcm += [x, np.zeros(int(gaps_s[i] * 16_000), np.int16)]
        else:
            pcm.append(x)
    write_wav(out, np.concatenate(pcm), 16_000)
    return out


def said(pulse: Pulse, tmp: Path, first: str, pause_s: float, second: str) -> None:
    """Into the microphone: `first`, a pause of `pause_s` after its sound, then `second`."""
    a = espeak_wav(first, tmp / "a.wav", trail_s=0)
    b = espeak_wav(second, tmp / "b.wav", lead_s=0, trail_s=3.0)
    pulse.play_into_mic(concat_wavs([a, b], [pause_s], tmp / "said.wav"))


def pulse_env_without_daemon_vars() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
