"""Shared fixtures: real PulseAudio null sinks, espeak-ng test utterances, model settings."""

from __future__ import annotations

import contextlib
import gc
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from assistant.app import Settings, load_settings
from assistant.core.clock import Clock
from assistant.core.frames import Utterance
from tests.mqtt_helper import Broker

ROOT = Path(__file__).resolve().parent.parent
ASSISTANT = Path(sys.executable).parent / "assistant"
NO_USER_CONFIG = "/nonexistent-assistant-test-config"
"""XDG_CONFIG_HOME for everything the tests start: the developer's own config never counts."""


def run_assistant(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`assistant ARGS…` to the end, output captured, without the developer's config."""
    return subprocess.run(
        [str(ASSISTANT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "XDG_CONFIG_HOME": NO_USER_CONFIG, **(env or {})},
    )


def labelled_texts() -> list[tuple[str, str]]:
    """(label, text) of the router's labelled household utterances (tests/data)."""
    from assistant.core.router import read_labelled

    data = ROOT / "tests" / "data"
    rows = read_labelled(data / "routing.tsv") + read_labelled(data / "routing-heldout.tsv")
    return [(label, text) for label, text in rows if label is not None]


PROBE_UTTERANCES = [
    ("01_time", "What time is it?"),
    ("02_kitchen_lights", "Turn on the kitchen lights."),
    ("03_sky_blue", "Why is the sky blue?"),
    ("04_weather", "What is the weather like tomorrow?"),
    ("05_timer", "Set a timer for ten minutes."),
    ("06_music", "Play some relaxing music."),
    ("07_moon", "How far away is the moon?"),
    ("08_remind", "Remind me to call mom at six."),
    ("09_fan", "Turn off the bedroom fan."),
    ("10_france", "What is the capital of France?"),
]
"""The black-box probe's ten utterances (../shared/latency/make_utterances.py)."""


def espeak_wav(
    text: str,
    path: Path,
    lead_s: float = 0.5,
    trail_s: float = 1.5,
    voice: str = "en-us",
    wpm: int = 160,
) -> Path:
    """A test utterance as the probe makes them: espeak-ng, 16 kHz mono, padded, -3 dBFS."""
    from assistant.audio.wav import read_wav, write_wav
    from assistant.core.levels import speech_end_sample

    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(raw), text], check=True)
    x = read_wav(raw, 16_000).astype(np.float64)
    nz = np.flatnonzero(np.abs(x) > 32768 * 10 ** (-50 / 20))
    x = x[nz[0] : nz[-1] + 1]
    x = x / np.abs(x).max() * 32767 * 10 ** (-3 / 20)
    pcm = np.concatenate([np.zeros(int(lead_s * 16_000)), x, np.zeros(int(trail_s * 16_000))])
    out = pcm.astype(np.int16)
    assert speech_end_sample(out, 16_000) is not None
    write_wav(path, out, 16_000)
    raw.unlink()
    return path


async def utterance_from_file(samples: np.ndarray, clock: Clock) -> Utterance:
    """An utterance ending where the file's speech ends (the probe's level rule), as if the
    end-pointer had decided at that moment: for tests of the turn, not of end-pointing."""
    from assistant.core.levels import speech_end_sample

    end = speech_end_sample(samples, 16_000)
    assert end is not None
    now = clock.now_ns()
    return Utterance(samples[:end], 16_000, now, now)


@pytest.fixture(scope="session")
def probe_utterances(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    d = tmp_path_factory.mktemp("utts")
    return [(espeak_wav(text, d / f"{name}.wav"), text) for name, text in PROBE_UTTERANCES]


@dataclass(frozen=True)
class BenchRun:
    records: Path
    replies: Path
    stdout: str


@pytest.fixture(scope="session")
def bench_run(
    probe_utterances: list[tuple[Path, str]], tmp_path_factory: pytest.TempPathFactory
) -> BenchRun:
    """`assistant bench --json` once on the probe utterances (real models, real time)."""
    d = tmp_path_factory.mktemp("bench")
    out = d / "records.jsonl"
    proc = run_assistant(
        "bench",
        *(str(p) for p, _ in probe_utterances),
        "--json",
        str(out),
        "--out-dir",
        str(d / "replies"),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    print(proc.stdout)
    return BenchRun(out, d / "replies", proc.stdout)


@pytest.fixture(scope="session")
def settings() -> Settings:
    # Built-in defaults and the project's models.toml, whatever the developer's own config says.
    os.environ["XDG_CONFIG_HOME"] = NO_USER_CONFIG
    return load_settings(None)


class Pulse:
    """A private PulseAudio server with two null sinks: `mic` (play into it; the assistant
    records its monitor) and `spk` (the assistant plays into it)."""

    def __init__(self, runtime_dir: Path) -> None:
        self.runtime_dir = runtime_dir
        self.env = dict(
            os.environ,
            XDG_CONFIG_HOME=NO_USER_CONFIG,
            XDG_RUNTIME_DIR=str(runtime_dir),
            PULSE_SINK="spk",
            PULSE_SOURCE="mic.monitor",
        )

    def start(self) -> None:
        cmd = [
            "pulseaudio",
            "--daemonize=yes",
            "--exit-idle-time=-1",
            "--system=false",
            "-n",
            "--load=module-null-sink sink_name=spk",
            "--load=module-null-sink sink_name=mic",
            "--load=module-native-protocol-unix",
        ]
        subprocess.run(cmd, env=self.env, check=True, timeout=30, capture_output=True)
        for _ in range(100):
            if subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("PulseAudio did not come up")

    def stop(self) -> None:
        subprocess.run(["pulseaudio", "--kill"], env=self.env, capture_output=True, timeout=30)

    def play_into_mic(self, wav: Path) -> None:
        subprocess.run(["paplay", "--device=mic", str(wav)], env=self.env, check=True, timeout=60)

    def pactl(self, *args: str, check: bool = True) -> str:
        """`pactl` on this server, its output in English (`LC_ALL=C`: tests read its words)."""
        return subprocess.run(
            ["pactl", *args],
            env={**self.env, "LC_ALL": "C"},
            check=check,
            capture_output=True,
            text=True,
        ).stdout

    @contextlib.contextmanager
    def loopback(
        self, source: str, sink: str, latency_ms: int, gain_db: float = 0.0
    ) -> Iterator[str]:
        """`source` played into `sink` `latency_ms` late and `gain_db` louder (a room: the
        speaker heard by the microphone), for the block; yields the loopback module's index."""
        module = self.pactl(
            "load-module",
            "module-loopback",
            f"source={source}",
            f"sink={sink}",
            f"latency_msec={latency_ms}",
        ).strip()
        try:
            if gain_db:
                self._set_gain(module, gain_db)
            yield module
        finally:
            self.pactl("unload-module", module, check=False)

    def _set_gain(self, module: str, gain_db: float) -> None:
        # Its stream, by its owner module (the short listing's third column is the client,
        # "-" for a module's stream: matched on it, the volume was never set, and the
        # looped-back room test's room was 0 dB, not -18).
        inputs = self.pactl("list", "sink-inputs")
        ours = [
            block.split("\n", 1)[0].removeprefix("Sink Input #")
            for block in inputs.split("\n\n")
            if re.search(rf"^\s*Owner Module: {module}$", block, re.M)
        ]
        assert len(ours) == 1, inputs
        percent = 100 * 10 ** (gain_db / 60)  # PulseAudio's volumes are cubic
        self.pactl("set-sink-input-volume", ours[0], f"{percent:.2f}%")
        listing = self.pactl("list", "sink-inputs")
        set_to = rf"Sink Input #{ours[0]}\n(?:\t.*\n)*?\tVolume: .*?(-?[\d.]+) dB"
        found = re.search(set_to, listing)
        assert found and abs(float(found[1]) - gain_db) < 0.1, listing

    def recording(self, source: str | None = None) -> list[str]:
        """The record streams (`pactl list short source-outputs` lines) on `source`, or on
        any source."""
        lines = self.pactl("list", "short", "source-outputs").splitlines()
        if source is None:
            return lines
        indices = {
            name: i
            for i, name, *_ in (
                ln.split("\t") for ln in self.pactl("list", "short", "sources").splitlines()
            )
        }
        assert source in indices, f"no source {source!r} on the test server: {indices}"
        index = indices[source]
        return [ln for ln in lines if ln.split("\t")[1] == index]

    def wait_nobody_recording(self, source: str | None = None, timeout_s: float = 3.0) -> None:
        """Fails unless nothing records from `source` (any, without one) within
        `timeout_s`: the server drops a killed client's stream a moment after it dies."""
        deadline = time.monotonic() + timeout_s
        while found := self.recording(source):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"something else records from {source or 'the sound server'}:\n"
                    + "\n".join(found)
                )
            time.sleep(0.05)


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pulse]:
    if shutil.which("pulseaudio") is None:
        pytest.fail("pulseaudio is not installed: run scripts/install --test")
    p = Pulse(tmp_path_factory.mktemp("xdg"))
    p.start()
    yield p
    p.stop()


@pytest.fixture
def pulse_env(pulse: Pulse, monkeypatch: pytest.MonkeyPatch) -> Pulse:
    """Route this process's own sound devices to the null sinks."""
    for k in ("XDG_RUNTIME_DIR", "PULSE_SINK", "PULSE_SOURCE"):
        monkeypatch.setenv(k, pulse.env[k])
    return pulse


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test() -> Iterator[None]:
    """A collection after every test, so an object a test leaks unclosed (socket, file,
    subprocess) warns — an error under `filterwarnings = error` — in the test that leaked
    it, instead of whenever the next full collection happens to run in a later test."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def stop_leftover_recorders() -> Iterator[None]:
    """A sink recorder a failed assertion skipped the stop of is stopped here."""
    yield
    from tests.daemon_helper import stop_leftover_recorders as stop

    stop()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A Mosquitto on loopback for the module's tests."""
    b = Broker(tmp_path_factory.mktemp("mosquitto"))
    yield b
    b.stop()
