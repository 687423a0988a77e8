from assistant.audio.wakeword import strip_wake_phrase


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
    # Whisper drops a word of the made-up name: tiny.en heard "Okay Nabu." through the
    # null sinks as "okay," (1 run in 6).
    assert strip_wake_phrase("okay,", "Okay Nabu") == ""
    assert strip_wake_phrase("Nabu.", "Okay Nabu") == ""
    # Prompted with the phrase, Whisper wrote it twice for "Okay Nabu." (1 run in 12).
    assert strip_wake_phrase("Okay Nabu Okay Nabu", "Okay Nabu") == ""
    assert strip_wake_phrase("Okay Nabu, okay Nabu, what time is it?", "Okay Nabu") == (
        "what time is it?"
    )


def test_a_wake_phrase_missing_a_word_is_stripped() -> None:
    assert strip_wake_phrase("Nabu, what time is it?", "Okay Nabu") == "what time is it?"
    assert strip_wake_phrase("Okay, what time is it?", "Okay Nabu") == "what time is it?"
    assert strip_wake_phrase("Jarvis, lights on", "Hey Jarvis") == "lights on"


def test_speech_without_the_phrase_is_kept() -> None:
    assert strip_wake_phrase("What time is it?", "Okay Nabu") == "What time is it?"
    assert strip_wake_phrase("Hey Jarvis, lights on", "Okay Nabu") == "Hey Jarvis, lights on"
    assert strip_wake_phrase("Now what time is it?", "Okay Nabu") == "Now what time is it?"
    assert strip_wake_phrase("Alexa, stop", "Hey Mycroft") == "Alexa, stop"
