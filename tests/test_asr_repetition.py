"""Whisper's repetition loop is cut back to one copy; real speech is left alone."""

from __future__ import annotations

import pytest

from assistant.engines.asr import collapse_repetition


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
