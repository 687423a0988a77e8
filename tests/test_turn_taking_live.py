"""Turn-taking end to end: `assistant run` through PulseAudio null sinks with the real models,
the turn model and the echo canceller. A long pause mid-sentence is not the end; a user who
goes on after a commit is heard whole and answered once, even with the reply's own sound
coming back into the microphone."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Pulse, espeak_wav
from tests.daemon_helper import Daemon, concat_wavs, running_daemon

pytestmark = [pytest.mark.models, pytest.mark.audio]

STOPPED = re.compile(r"the user went on: the reply stops (\d+) ms after their voice")


@pytest.fixture(scope="module")
def daemon(pulse: Pulse) -> Iterator[Daemon]:
    with running_daemon(pulse) as d:
        assert any("echo cancellation on" in line for line in d.stderr), d.stderr[-20:]
        yield d


def said(pulse: Pulse, tmp: Path, first: str, pause_s: float, second: str) -> None:
    a = espeak_wav(first, tmp / "a.wav", trail_s=0)
    b = espeak_wav(second, tmp / "b.wav", lead_s=0, trail_s=3.0)
    pulse.play_into_mic(concat_wavs([a, b], [pause_s], tmp / "said.wav"))


def test_a_second_of_silence_after_turn_off_the_is_not_the_end(
    daemon: Daemon, pulse: Pulse, tmp_path: Path
) -> None:
    before = len(daemon.turns())
    said(pulse, tmp_path, "Turn off the", 1.0, "bedroom fan.")
    turn = daemon.wait_turn_about("fan", before)
    time.sleep(1.0)
    turns = daemon.turns()[before:]
    assert len(turns) == 1, turns
    assert "turn off the bedroom fan" in turn["transcript"].lower(), turn
    assert turn["end_by"] != "text runs on"  # the end of the whole sentence was not held long
    assert not turn.get("resumed"), turn  # it never committed on "turn off the"


def test_going_on_after_a_commit_is_heard_whole_and_answered_once(
    daemon: Daemon, pulse: Pulse, tmp_path: Path
) -> None:
    before, log_before = len(daemon.turns()), len(daemon.stderr)
    # "Set a timer for ten minutes" is a whole request: it commits early, and its
    # confirmation starts; the user goes on 0.7 s after it.
    said(pulse, tmp_path, "Set a timer for ten minutes", 0.7, "and thirty seconds.")
    turn = daemon.wait_turn_about("seconds", before)
    time.sleep(1.5)
    turns = daemon.turns()[before:]
    assert len(turns) == 1, turns  # answered once (the first half's record is DEBUG)
    assert turn["resumed"] is True and turn["outcome"] == "ok", turn
    assert "ten minutes and thirty seconds" in turn["transcript"].lower(), turn
    assert "30 seconds" in turn["reply"], turn  # the whole utterance decided the timer
    stops = [int(m[1]) for line in daemon.stderr[log_before:] if (m := STOPPED.search(line))]
    assert len(stops) == 1 and stops[0] <= 150, stops


@pytest.fixture
def room(pulse: Pulse) -> Iterator[None]:
    """The speaker heard by the microphone, 12 dB down, 30 ms late, as a room would."""
    module = subprocess.run(
        ["pactl", "load-module", "module-loopback", "source=spk.monitor", "sink=mic",
         "latency_msec=30"],
        env=pulse.env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    try:
        inputs = subprocess.run(
            ["pactl", "list", "short", "sink-inputs"],
            env=pulse.env, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        for line in inputs.splitlines():
            if line.split("\t")[2] == module:
                subprocess.run(
                    ["pactl", "set-sink-input-volume", line.split("\t")[0], "25%"],
                    env=pulse.env, check=True,
                )  # fmt: skip
        yield
    finally:
        subprocess.run(["pactl", "unload-module", module], env=pulse.env, capture_output=True)


def test_with_its_own_voice_in_the_microphone_the_user_is_heard_and_its_voice_is_not(
    pulse: Pulse, room: None, tmp_path: Path
) -> None:
    with running_daemon(pulse) as d:
        said(pulse, tmp_path, "Set a timer for ten minutes", 0.7, "and thirty seconds.")
        turn = d.wait_turn_about("seconds", 0)
        time.sleep(4.0)  # its confirmation comes back through the room: time to mishear it
        turns = d.turns()
    assert turn["resumed"] is True, turn
    assert "ten minutes and thirty seconds" in turn["transcript"].lower(), turn
    assert len(turns) == 1, [t["transcript"] for t in turns]  # never its own "timer set"
