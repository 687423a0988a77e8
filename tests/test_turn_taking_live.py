"""Turn-taking end to end: `assistant run` through PulseAudio null sinks with the real models
and the turn models. A long pause mid-sentence is not the end; a user who goes on after a
commit is heard whole and answered once, the reply stopping at once."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Pulse
from tests.daemon_helper import Daemon, running_daemon, said

pytestmark = [pytest.mark.models, pytest.mark.audio]

STOPPED = re.compile(r"the user went on: the reply stops (\d+) ms after their voice")


HEADPHONES = """description = "the microphone does not hear the speaker (headphones)"
[listen]
half_duplex = false
"""


@pytest.fixture(scope="module")
def daemon(pulse: Pulse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    # The null sinks do not carry the speaker into the microphone: as with headphones, the
    # microphone is heard while a reply sounds (the default is deaf then, half-duplex).
    pipeline = tmp_path_factory.mktemp("pipeline") / "headphones.toml"
    pipeline.write_text(HEADPHONES)
    with running_daemon(pulse, "--pipeline", str(pipeline)) as d:
        yield d


def test_a_second_of_silence_after_turn_off_the_is_not_the_end(
    daemon: Daemon, pulse: Pulse, tmp_path: Path
) -> None:
    before = len(daemon.turns())
    said(pulse, tmp_path, "Turn off the", 1.0, "bedroom fan.")
    turn = daemon.wait_turns(before + 1)[before]
    time.sleep(1.0)
    turns = daemon.turns()[before:]
    assert len(turns) == 1, turns
    # One turn with both halves (tiny.en hears "fan" as "fun" now and then).
    assert "turn off the bedroom" in turn["transcript"].lower(), turn
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
    # The whole utterance decided the timer (Whisper may drop the "and" at the join).
    assert turn["reply"] == "Timer set for 10 minutes and 30 seconds.", turn
    stops = [int(m[1]) for line in daemon.stderr[log_before:] if (m := STOPPED.search(line))]
    assert len(stops) == 1 and stops[0] <= 150, stops
