from datetime import datetime

from assistant.core.clock import FakeClock
from assistant.core.intents import say_time
from assistant.core.memory import ConversationMemory, MemorySettings


def test_memory_is_bounded_in_turns() -> None:
    mem = ConversationMemory(FakeClock(), MemorySettings(max_turns=2, max_tokens=1000))
    for i in range(4):
        mem.add(f"q{i}", f"a{i}")
    assert [e.user for e in mem.history()] == ["q2", "q3"]


def test_memory_is_bounded_in_tokens() -> None:
    mem = ConversationMemory(
        FakeClock(),
        MemorySettings(max_turns=10, max_tokens=8),
        count_tokens=lambda s: len(s.split()),
    )
    mem.add("one two three", "four five")
    mem.add("six seven", "eight nine")
    assert [e.user for e in mem.history()] == ["six seven"]
    mem.add("a " * 20, "b")  # larger than the whole budget: dropped, with the rest
    assert mem.history() == []


def test_memory_forgets_after_idle_timeout() -> None:
    clock = FakeClock()
    mem = ConversationMemory(clock, MemorySettings(idle_timeout_s=60))
    mem.add("hi", "hello")
    clock.advance_ms(59_000)
    assert len(mem.history()) == 1
    clock.advance_ms(2_000)
    assert mem.history() == []


def test_say_time_edges() -> None:
    assert say_time(datetime(2026, 1, 1, 0, 0)) == "midnight"
    assert say_time(datetime(2026, 1, 1, 12, 0)) == "noon"
    assert say_time(datetime(2026, 1, 1, 0, 30)) == "12:30 AM"
    assert say_time(datetime(2026, 1, 1, 23, 59)) == "11:59 PM"
    assert say_time(datetime(2026, 1, 1, 18, 0)) == "6:00 PM"
    assert say_time(datetime(2026, 1, 1, 18, 0), whole_hours=True) == "6 PM"
    assert say_time(datetime(2026, 1, 1, 18, 30), whole_hours=True) == "6:30 PM"
