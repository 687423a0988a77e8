"""The time in another city, from the intent package alone: matched before the time here,
said with the city's own offset (summer time too) and its weekday when it differs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from assistant.core.intents import Device, IntentContext, TimeQuery, match_intent, normalize
from assistant.core.intents.world_time import WorldTime
from assistant.core.router import route


@pytest.fixture(autouse=True)
def utc_here(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's own zone is UTC, so "the day here" is the same wherever tests run."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def said(question: str, now: datetime) -> str:
    intent = match_intent(question)
    assert isinstance(intent, WorldTime), (question, intent)
    return intent.reply(IntentContext(now, (), timers=None, actions=None))  # type: ignore[arg-type]


def test_a_city_is_asked_about_in_the_ways_people_ask() -> None:
    for q, city in [
        ("What time is it in Tokyo?", "tokyo"),
        ("what's the time in New York right now", "new york"),
        ("Hey, what is the local time in São Paulo?", "sao paulo"),
        ("time in London please", "london"),
    ]:
        assert match_intent(q) == WorldTime(city), q
    for q, place in [
        ("what time is it in the morning in Tokyo", "tokyo"),  # the last "in" is the place
        ("What is the time in Tokyo, Japan?", "tokyo"),
        ("What time is it in Japan?", "japan"),
        ("what time is it in LA", "los angeles"),
        ("What time is it in New York City?", "new york"),
        ("what time is it in Kiev", "kyiv"),
        ("What time is it in Springfield?", "springfield"),  # unknown: said so
    ]:
        assert match_intent(q) == WorldTime(place), q
    assert route("What time is it in Tokyo?").intent == WorldTime("tokyo")


def test_here_a_room_a_part_of_the_day_or_a_time_from_now_is_the_time_here() -> None:
    for q in [
        "What time is it?",
        "what time is it in the kitchen",
        "what time is it in the living room",
        "what time is it in here",
        "what time is it in the evening",
        "what time is it in five hours",
        "what time is it in a few minutes",
    ]:
        assert match_intent(q) == TimeQuery(), q
    # A room of this home's devices too.
    studio = Device("studio lamp", "light", "music studio")
    assert match_intent("what time is it in the music studio", [studio]) == TimeQuery()
    assert match_intent("time in the oven") is None
    assert match_intent("What time zone is London in?") is None


def test_the_reply_is_the_citys_time_with_its_own_offset() -> None:
    noon = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)  # a Sunday
    assert said("What time is it in Tokyo?", noon) == "In Tokyo it is 9:00 PM."
    assert said("What time is it in New York?", noon) == "In New York it is 7:00 AM."
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # summer time: an hour later
    assert said("What time is it in New York?", summer) == "In New York it is 8:00 AM."
    assert said("What time is it in Mumbai?", noon) == "In Mumbai it is 5:30 PM."
    assert said("What's the time in São Paulo?", noon) == "In Sao Paulo it is 9:00 AM."
    evening = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
    assert said("What time is it in Sydney?", evening) == "In Sydney it is 7:00 AM on Monday."
    assert said("What time is it in Honolulu?", datetime(2026, 12, 6, 5, 0, tzinfo=UTC)) == (
        "In Honolulu it is 7:00 PM on Saturday."
    )


def test_the_day_there_is_compared_with_the_day_here_not_in_utc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 20:00 on Sunday in Los Angeles is 13:00 on Monday in Tokyo, whatever UTC says.
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    evening_here = datetime(2026, 12, 6, 20, 0)  # naive: local, as the daemon's clock gives it
    assert said("What time is it in Tokyo?", evening_here) == "In Tokyo it is 1:00 PM on Monday."
    aware = datetime(2026, 12, 6, 20, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert said("What time is it in Tokyo?", aware) == "In Tokyo it is 1:00 PM on Monday."
    assert said("What time is it in Seattle?", aware) == "In Seattle it is 8:00 PM."


def test_a_city_it_does_not_know_is_not_answered_with_the_time_here() -> None:
    noon = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert said("What time is it in Springfield?", noon) == (
        "Sorry, I don't know the time in Springfield."
    )


async def test_a_turn_answers_it_without_the_language_model() -> None:
    from assistant.engines.fakes import FakeChatModel
    from tests.test_turn_logic import ListSpeaker, make_runner

    llm = FakeChatModel("should not be used")
    runner = make_runner(llm, wall_clock=lambda: datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    rec = await runner.run("What time is it in Tokyo?", ListSpeaker())
    assert (rec.route, rec.reason, rec.reply) == ("intent", "world_time", "In Tokyo it is 9:00 PM.")
    assert llm.calls == []


def test_accents_come_off_letters_and_other_characters_still_part_words() -> None:
    assert normalize("São Paulo, Zürich") == "sao paulo zurich"
    assert normalize("Set a timer for 1½ hours") == "set a timer for 1 hours"  # not "12"
    assert normalize("lights—thanks, 21°C") == "lights thanks 21 c"
