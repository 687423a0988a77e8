"""Turn-taking end to end: `assistant run` through PulseAudio null sinks with the real models
and the turn models: a long pause mid-sentence is not the end."""

from __future__ import annotations

import re
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
