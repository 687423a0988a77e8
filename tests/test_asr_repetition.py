"""Whisper's repetition loop is cut back to one copy; real speech is left alone; the length
bound against loops leaves what was said its room."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.app import Settings
from assistant.audio.wav import read_wav
from assistant.engines.asr import ASR_RATE_HZ, WhisperTranscriber, collapse_repetition
from tests.conftest import espeak_wav


@pytest.mark.parametrize(
    ("heard", "kept"),
    [
        (
            "Okay Nabu, what time is it? Okay Nabu, what time is it",
            "Okay Nabu, what time is it?",
        ),
        ("turn on the kitchen lights turn on the kitchen lights", "turn on the kitchen lights"),
        ("Turn off the fan. Turn off the fan. Turn off the fan.", "Turn off the fan."),
        # cut short by the decoder's length bound (seen with a 6-8 s window)
        (
            "Turn off all the lights in the bedroom Turn off all the lights in the bedroom Turn",
            "Turn off all the lights in the bedroom",
        ),
        (
            "Can you close the garage? Can you close the garage? Can you close",
            "Can you close the garage?",
        ),
    ],
)
def test_a_phrase_repeated_is_kept_once(heard: str, kept: str) -> None:
    assert collapse_repetition(heard) == kept


@pytest.mark.parametrize(
    "heard",
    [
        "no no",  # too short to be sure
        "bye bye now",
        "What time is it?",
        "turn on the lights and turn on the fan",
        "set a timer set a timer for ten minutes",
        "turn on the lights turn on",  # one copy and a half is not a loop
        "the the the the",  # a stammer, shorter than a phrase
        "",
    ],
)
def test_speech_that_is_not_a_repetition_is_kept_as_heard(heard: str) -> None:
    assert collapse_repetition(heard) == heard


@pytest.mark.models
def test_the_length_bound_leaves_room_for_a_prompt(settings: Settings, tmp_path: Path) -> None:
    """The decoder's length bound (the guard against loops) counts the prompt's tokens too:
    a prompt must not eat the budget of what was said."""
    m = settings.models.asr
    asr = WhisperTranscriber(
        settings.model_files()["asr"],
        compute_type=m.compute_type,
        threads=m.threads,
        language=m.language,
        beam_size=m.beam_size,
        window_s=m.window_s,
    )
    question = "What is the tallest mountain in the world?"
    pcm = read_wav(espeak_wav(question, tmp_path / "q.wav", 0.3, 0.15))
    prompt = (
        "Okay Nabu, the kitchen lights are on and the front door is locked for the night."
        " The heating is set to twenty degrees and the garage door is closed."
    )  # 39 tokens, more than the bound of a 2.5 s question on its own
    for said in (asr.transcribe(pcm, ASR_RATE_HZ), asr.transcribe(pcm, ASR_RATE_HZ, prompt)):
        assert "tallest mountain in the world" in said.lower()
