"""The wake-word pipeline end to end: PulseAudio null sinks, pymicro-wakeword, real models."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Pulse, espeak_wav
from tests.daemon_helper import Daemon, concat_wavs, running_daemon

pytestmark = [pytest.mark.models, pytest.mark.audio]


@pytest.fixture
def daemon(pulse: Pulse) -> Iterator[Daemon]:
    with running_daemon(pulse, "--pipeline", "wake-word") as d:
        yield d


def test_speech_without_the_wake_word_is_ignored(
    daemon: Daemon, pulse: Pulse, tmp_path: Path
) -> None:
    pulse.play_into_mic(espeak_wav("What time is it?", tmp_path / "q.wav"))
    time.sleep(3.0)
    assert daemon.turns() == []
    assert any("pipeline wake-word" in line for line in daemon.stdout)
    # The control: the same daemon was listening, and answers once the wake word comes.
    pulse.play_into_mic(espeak_wav("Okay Nabu, what time is it?", tmp_path / "w.wav"))
    turns = daemon.wait_turns(1, timeout_s=30)
    assert len(turns) == 1 and turns[0]["route"] == "intent", turns


def test_wake_word_and_question_in_one_breath(daemon: Daemon, pulse: Pulse, tmp_path: Path) -> None:
    pulse.play_into_mic(espeak_wav("Okay Nabu, what time is it?", tmp_path / "q.wav"))
    turns = daemon.wait_turns(1, timeout_s=30)
    assert turns[0]["route"] == "intent", turns
    assert turns[0]["transcript"].lower().rstrip("?.") == "what time is it"
    assert turns[0]["reply"].startswith("It is ")


def test_wake_word_then_a_pause_then_the_question(
    daemon: Daemon, pulse: Pulse, tmp_path: Path
) -> None:
    wake = espeak_wav("Okay Nabu.", tmp_path / "w.wav", trail_s=0)
    question = espeak_wav("What time is it?", tmp_path / "q.wav", lead_s=0)
    pulse.play_into_mic(concat_wavs([wake, question], [1.2], tmp_path / "both.wav"))
    daemon.wait_until(lambda: any(t["outcome"] == "ok" for t in daemon.turns()), 30, "an answer")
    answered = [t for t in daemon.turns() if t["outcome"] == "ok"]
    assert len(answered) == 1, daemon.turns()
    assert answered[0]["route"] == "intent", daemon.turns()
    assert answered[0]["reply"].startswith("It is ")
    # The wake word alone was heard as an (empty) utterance, not answered.
    assert all(t["outcome"] in ("ok", "empty") for t in daemon.turns())
