"""The recovery score's judgements (`assistant eot recover`): pure logic."""

import numpy as np

from assistant.commands.eot_recovery import answered_alike, covered, second_voice, unfilled, words
from assistant.core.intents.base import Device


def test_a_number_is_one_word_in_digits_or_words_and_fillers_are_nothing() -> None:
    assert words("Set an alarm for six, um, thirty") == ["set", "an", "alarm", "for", "#"]
    assert words("Set an alarm for 6:30.") == ["set", "an", "alarm", "for", "#"]
    assert words("in nineteen sixty six") == words("in 1966") == ["in", "#"]
    assert unfilled("Remind me to buy bread, uh, when I get to the shop.") == (
        "Remind me to buy bread when I get to the shop."
    )
    assert unfilled("Bring the umbrella") == "Bring the umbrella"  # not a filler inside a word


def test_the_second_half_must_be_heard_as_the_unpaused_sentence_was() -> None:
    left, baseline = "How tall is Mount Everest", "How tall is Mount Everest in feet?"
    assert covered(left, "in feet", "How tall is Mount Everest, in feet?", baseline)
    assert not covered(left, "in feet", "How tall is Mount Everest?", baseline)
    assert not covered(left, "in feet", "How tall is Mount Everest? Then feet.", baseline)
    # A word missed with no pause too is speech recognition's miss, not recovery's.
    assert covered(left, "in feet", "How tall is Mount Everest feet?", "How tall is Everest feet")
    # A word of the second half is not heard because the first half has it.
    moon = "How far is the moon from the earth?"
    assert not covered("How far is the moon", "from the earth", "How far is the moon?", moon)
    assert covered("How far is the moon", "from the earth", moon, moon)


def test_an_intent_must_come_out_the_same_slots_and_all() -> None:
    lamp = [Device(name="kitchen lights", room="kitchen", kind="light")]
    half = "Set a timer for 10 minutes and a half."
    left = "Set a timer for ten minutes"
    assert answered_alike(left, "and a half", "Set a timer for 10 minutes, and a half", half, lamp)
    assert not answered_alike(
        left, "and a half", "Set a timer for 10 minutes in the half.", half, lamp
    )
    tokyo = "What time is it in Tokyo?"
    assert not answered_alike(
        "What time is it", "in Tokyo", "What time is it, then Tokyo?", tokyo, lamp
    )


def test_the_second_half_s_voice_is_its_next_word_not_the_tail_of_the_last() -> None:
    rate = 16_000
    t = np.arange(rate // 5) / rate
    word = (np.sin(2 * np.pi * 200 * t) * 8000).astype(np.int16)
    fade = (word[:1280] * np.linspace(1, 0, 1280) ** 4).astype(np.int16)  # 80 ms, fading
    pause = np.zeros(rate, np.int16)
    gap = np.zeros(rate * 33 // 100, np.int16)
    # The pause spliced into the first half's last word: its tail, then the next word.
    x = np.concatenate([word, pause, fade, gap, word])
    assert second_voice(x, len(word) + len(pause)) == len(x) - len(word)
    # A word that starts right at the split (connected speech) is the voice.
    y = np.concatenate([word, pause, word, gap, word])
    assert second_voice(y, len(word) + len(pause)) == len(word) + len(pause)
