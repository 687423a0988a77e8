from datetime import datetime

from assistant.clock import FakeClock
from assistant.intents import match_intent, say_time
from assistant.memory import ConversationMemory


def test_memory_is_bounded_in_turns() -> None:
    mem = ConversationMemory(FakeClock(), max_turns=2, max_tokens=1000)
    for i in range(4):
        mem.add(f"q{i}", f"a{i}")
    assert [e.user for e in mem.history()] == ["q2", "q3"]


def test_memory_is_bounded_in_tokens() -> None:
    mem = ConversationMemory(
        FakeClock(), max_turns=10, max_tokens=8, count_tokens=lambda s: len(s.split())
    )
    mem.add("one two three", "four five")
    mem.add("six seven", "eight nine")
    assert [e.user for e in mem.history()] == ["six seven"]
    mem.add("a " * 20, "b")  # larger than the whole budget: dropped, with the rest
    assert mem.history() == []


def test_memory_forgets_after_idle_timeout() -> None:
    clock = FakeClock()
    mem = ConversationMemory(clock, idle_timeout_s=60)
    mem.add("hi", "hello")
    clock.advance_ms(59_000)
    assert len(mem.history()) == 1
    clock.advance_ms(2_000)
    assert mem.history() == []


def test_time_and_date_questions() -> None:
    now = datetime(2026, 11, 24, 16, 5)
    for q in ["What time is it?", "what's the time", "Hey, tell me the time please"]:
        m = match_intent(q, now)
        assert m is not None and m.name == "time" and m.reply == "It is 4:05 PM.", q
    for q in ["What day is it?", "What's the date today?", "what is today's date"]:
        m = match_intent(q, now)
        assert m is not None and m.name == "date", q
        assert m.reply == "Today is Tuesday, November 24, 2026."
    for q in [
        "What is the capital of France?",
        "How much time do I need to boil an egg?",
        "Set a timer for ten minutes.",
    ]:
        assert match_intent(q, now) is None, q


def test_say_time_edges() -> None:
    assert say_time(datetime(2026, 1, 1, 0, 0)) == "midnight"
    assert say_time(datetime(2026, 1, 1, 12, 0)) == "noon"
    assert say_time(datetime(2026, 1, 1, 0, 30)) == "12:30 AM"
    assert say_time(datetime(2026, 1, 1, 23, 59)) == "11:59 PM"
