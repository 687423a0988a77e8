"""The hold at a pause, decided from evidence (pure policy, numbers in, numbers out)."""

import asyncio

import pytest

from assistant.core.clock import FakeClock
from assistant.core.endpoint import Endpointer, EndpointSettings
from assistant.core.turn_end import Evidence, Heard, Hold, PauseHistory, TurnEndSettings, decide
from assistant.engines import TurnModels
from assistant.engines.worker import Worker
from assistant.pipeline.turn_taking import TurnTaking

S = TurnEndSettings()


def test_until_the_evidence_is_in_the_hold_is_unsure() -> None:
    assert decide(Evidence(), S) == Hold(S.unsure_ms, "waiting")
    # The transcript alone is not enough while the text model is still on it...
    garage = Evidence(text="Open the garage.", intent=True, part_name=True)
    assert decide(garage, S) == Hold(S.unsure_ms, "waiting")
    assert decide(Evidence(text="Why is the sky blue?"), S) == Hold(S.unsure_ms, "waiting")
    # ... unless there is no text model, or a request was understood with every slot said.
    assert decide(garage, S, audio=False, text=False) == Hold(S.eager_ms, "intent")
    whole = Evidence(text="What time is it?", intent=True)
    assert decide(whole, S) == Hold(S.eager_ms, "intent")


def test_words_that_run_on_hold_longest_whatever_else_says() -> None:
    ev = Evidence("Turn off the.", runs_on=True, finished_p=0.99, text_end=-1.0)
    assert decide(ev, S) == Hold(S.max_ms, "text runs on")


def test_the_text_model_decides_what_the_transcript_cannot() -> None:
    finished = Evidence("Why is the sky blue?", text_end=-2.0)
    assert decide(finished, S) == Hold(S.eager_ms, "text finished")
    unfinished = Evidence("What is the capital?", text_end=-6.0)
    assert decide(unfinished, S) == Hold(S.max_ms, "text unfinished")
    between = Evidence("How far is the moon?", text_end=-3.8)
    assert decide(between, S) == Hold(S.unsure_ms, "unsure")


def test_a_request_understood_whole_commits_early_unless_the_words_plainly_go_on() -> None:
    assert decide(Evidence("Turn on the kitchen lights.", intent=True, text_end=-5.5), S) == (
        Hold(S.eager_ms, "intent")
    )
    # Every slot said: the text model, which doubts a request ending in a number, is not
    # asked.
    remind = Evidence("Remind me to call mom at 6.", intent=True, text_end=-7.9)
    assert decide(remind, S) == Hold(S.eager_ms, "intent")
    # Words that end in part of a device's name may go on ("... door"): the text model
    # decides whether they do.
    garage = Evidence("Open the garage.", intent=True, part_name=True, text_end=-6.1)
    assert decide(garage, S) == Hold(S.max_ms, "text unfinished")
    kitchen = Evidence("Turn on the kitchen.", intent=True, part_name=True, text_end=-5.0)
    assert decide(kitchen, S) == Hold(S.eager_ms, "intent")
    assert decide(Evidence("Turn off the", runs_on=True, intent=True), S).by == "text runs on"


def test_the_audio_decides_only_when_asked_to() -> None:
    confident = Evidence("How far is the moon?", finished_p=0.97, text_end=-3.8)
    assert decide(confident, S).by == "unsure"  # by default it never commits alone
    trusting = TurnEndSettings(finished_p=0.9)
    assert decide(confident, trusting) == Hold(trusting.eager_ms, "audio")
    pending = Evidence("How far is the moon?", text_end=-3.8)
    assert decide(pending, trusting).by == "waiting"  # then its answer is waited for


def test_a_user_who_pauses_long_gets_a_longer_unsure_hold_never_past_the_most() -> None:
    s = TurnEndSettings(unsure_ms=1400)
    history = PauseHistory()
    unsure = Evidence("How far is the moon?", text_end=-3.8)
    history.add(1800)
    assert decide(unsure, s, history).ms == 1400  # one pause is not a habit
    history.add(1700)
    assert decide(unsure, s, history).ms == 1700 + 300
    history.add(2600)
    history.add(2500)
    assert decide(unsure, s, history).ms == s.max_ms
    # Confident evidence is not slowed by it.
    assert decide(Evidence("Hi.", text_end=-1.0), s, history).ms == s.eager_ms
    off = TurnEndSettings(unsure_ms=1400, learn_pauses=False)
    assert decide(unsure, off, history).ms == 1400


def test_settings_must_be_in_order() -> None:
    with pytest.raises(ValueError, match="eager_ms <= unsure_ms <= max_ms"):
        TurnEndSettings(eager_ms=900, unsure_ms=800)
    with pytest.raises(ValueError, match="unfinished_log10 < finished_log10"):
        TurnEndSettings(finished_log10=-5.0, unfinished_log10=-4.0)


def test_a_user_who_has_not_hesitated_in_several_utterances_is_not_kept_waiting() -> None:
    history = PauseHistory()
    unsure = Evidence("How far is the moon?", text_end=-3.8)
    for n in range(S.fluent_after):
        assert decide(unsure, S, history).ms == S.unsure_ms, n
        history.add(120)  # the gaps of fluent speech are not hesitations
        history.utterance_ended()
    assert decide(unsure, S, history) == Hold(S.fluent_unsure_ms, "unsure")
    history.add(400)  # a short hesitation still fits inside the fluent hold
    assert decide(unsure, S, history).ms == S.fluent_unsure_ms
    history.add(900)  # a longer one does not: back to the unsure hold, then past it
    assert decide(unsure, S, history).ms == S.unsure_ms
    history.add(2000)
    history.add(2500)
    assert decide(unsure, S, history).ms == 2000 + 300  # the second-longest, and a margin
    # Words that plainly run on are never shortened.
    assert decide(Evidence("What is the capital?", text_end=-6.0), S, history).ms == S.max_ms


def test_nothing_said_is_not_waited_for() -> None:
    # The wake word alone, a cough: Whisper hears nothing, and the question may follow.
    assert decide(Evidence("", runs_on=True), S) == Hold(S.eager_ms, "nothing said")


async def test_the_text_model_is_asked_only_where_its_answer_can_change_the_hold() -> None:
    asked: list[str] = []

    class Words:
        def end_log10(self, text: str) -> float:
            asked.append(text)
            return -6.1

    taking = TurnTaking(
        Endpointer(EndpointSettings()),
        FakeClock(),
        S,
        models=TurnModels(text=(Words(), Worker("text"))),
        resume_window_ms=1500,
    )
    taking.paused(None, judge=False)
    taking.heard(Heard("Remind me to call mom at 6.", intent=True))  # every slot said
    assert taking.hold == Hold(S.eager_ms, "intent")
    taking.paused(None, judge=False)
    taking.heard(Heard("Open the garage.", intent=True, part_name=True))  # "door" may follow
    assert taking.hold == Hold(S.unsure_ms, "waiting")
    for _ in range(200):
        if taking.hold.by != "waiting":
            break
        await asyncio.sleep(0.01)
    assert taking.hold == Hold(S.max_ms, "text unfinished")
    assert asked == ["Open the garage."]
