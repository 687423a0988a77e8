from assistant.wakeword import strip_wake_phrase


def test_wake_phrase_is_stripped_however_whisper_spells_it() -> None:
    for heard in [
        "Okay Nabu, what time is it?",
        "Okay, Nabu. What time is it?",
        "OK Naboo, what time is it?",
        "okay nabu what time is it?",
        "Okay, um, Nabu, what time is it?",
    ]:
        assert strip_wake_phrase(heard, "Okay Nabu").lower() == "what time is it?", heard


def test_only_the_wake_phrase_leaves_nothing() -> None:
    assert strip_wake_phrase("Okay, Nabu.", "Okay Nabu") == ""


def test_speech_without_the_phrase_is_kept() -> None:
    assert strip_wake_phrase("What time is it?", "Okay Nabu") == "What time is it?"
    assert strip_wake_phrase("Hey Jarvis, lights on", "Okay Nabu") == "Hey Jarvis, lights on"
