"""Timers kept in a file: they outlive a restart, and what came due meanwhile is said."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.core.clock import MONOTONIC
from assistant.core.intents import say_time
from assistant.pipeline import timers as timers_module
from assistant.pipeline.timers import Timers

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


class Said:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def __call__(self, text: str, reason: str) -> None:
        self.queue.put_nowait((reason, text))

    async def next(self, timeout_s: float = 3.0) -> tuple[str, str]:
        return await asyncio.wait_for(self.queue.get(), timeout_s)


def kept(path: Path) -> list[tuple[str, str, float]]:
    """(reason, says, seconds after NOW it is due) of each timer in the file."""
    return [
        (t["reason"], t["says"], (datetime.fromisoformat(t["due"]) - NOW).total_seconds())
        for t in json.loads(path.read_text())["timers"]
    ]


def timer(due: datetime, says: str, reason: str = "reminder") -> dict[str, str]:
    return {"due": due.isoformat(), "says": says, "reason": reason}


async def test_timers_are_kept_in_the_file_and_taken_up_again_after_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state" / "timers.json"
    said = Said()
    before = Timers(MONOTONIC, said, wall_clock=lambda: NOW)
    before.keep_in(path)  # no file yet: nothing to take up
    before.start(600)
    before.remind(3600, "A reminder to call mom.")
    assert kept(path) == [
        ("timer", "Your timer for 10 minutes is done.", 600),
        ("reminder", "A reminder to call mom.", 3600),
    ]
    assert before.cancel() == "Timer cancelled."  # the kitchen timer, not the reminder
    assert kept(path) == [("reminder", "A reminder to call mom.", 3600)]
    before.close()  # the daemon stops: the file keeps them
    assert kept(path) == [("reminder", "A reminder to call mom.", 3600)]

    # Started again 59 minutes and 59.5 seconds later: the reminder is due in half a second.
    later = NOW + timedelta(seconds=3599.5)
    after = Timers(MONOTONIC, said, wall_clock=lambda: later)
    after.keep_in(path)
    assert said.queue.empty()
    assert await said.next() == ("reminder", "A reminder to call mom.")
    assert kept(path) == []  # said, so no longer kept
    after.close()


async def test_what_came_due_while_the_daemon_was_off_is_said_at_once_with_when(
    tmp_path: Path,
) -> None:
    path = tmp_path / "timers.json"
    path.write_text(
        json.dumps(
            {
                "timers": [
                    timer(NOW - timedelta(minutes=20), "A reminder to take your pills."),
                    timer(NOW - timedelta(hours=13), "A reminder to call mom."),  # too long ago
                    timer(NOW + timedelta(hours=1), "Your timer for 2 hours is done.", "timer"),
                ]
            }
        )
    )
    said = Said()
    timers = Timers(MONOTONIC, said, wall_clock=lambda: NOW)
    timers.keep_in(path)
    reason, text = await said.next(timeout_s=0.1)
    at = say_local(NOW - timedelta(minutes=20))
    assert (reason, text) == (
        "reminder",
        f"While I was off, at {at}: A reminder to take your pills.",
    )
    assert said.queue.empty()  # not the one 13 hours ago
    assert timers.left() == "1 hour left."
    assert kept(path) == [("timer", "Your timer for 2 hours is done.", 3600)]
    timers.close()


def say_local(when: datetime) -> str:
    return say_time(when.astimezone(), whole_hours=True)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"timers": [{"due": "2026-11-25T14:00:00", "says": "x", "reason": "timer"}]}',  # no tz
        '{"timers": [{"due": "2026-11-25T14:00:00+00:00", "says": "x", "reason": "alarm"}]}',
        '["not", "the", "format"]',
    ],
    ids=["not-json", "no-timezone", "unknown-reason", "a-list"],
)
async def test_a_file_that_cannot_be_read_is_set_aside_with_an_error_and_nothing_breaks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str
) -> None:
    path = tmp_path / "timers.json"
    path.write_text(content)
    said = Said()
    timers = Timers(MONOTONIC, said, wall_clock=lambda: NOW)
    with caplog.at_level(logging.ERROR, logger="assistant.pipeline.timers"):
        timers.keep_in(path)
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert str(path) in caplog.records[0].getMessage()
    assert (tmp_path / "timers.json.bad").read_text() == content  # kept for the user to see
    assert said.queue.empty() and timers.left() == "There is no timer running."
    timers.start(60)  # and timers still work, kept in a fresh file
    assert kept(path) == [("timer", "Your timer for 1 minute is done.", 60)]
    timers.close()


async def test_a_reminder_for_a_time_of_day_follows_the_wall_clock_when_it_is_stepped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Raspberry Pi boots with the time it was shut down; NTP steps the clock later.
    monkeypatch.setattr(timers_module, "CLOCK_CHECK_S", 0.05)
    wall = [NOW]
    said = Said()
    timers = Timers(MONOTONIC, said, wall_clock=lambda: wall[0])
    path = tmp_path / "timers.json"
    timers.keep_in(path)
    timers.remind_at(NOW + timedelta(hours=1), "A reminder to call mom.")
    timers.start(3600)
    timers.remind(3600, "A reminder to stretch.")
    assert [t.get("at_time", False) for t in json.loads(path.read_text())["timers"]] == [
        True,
        False,
        False,
    ]
    wall[0] = NOW + timedelta(hours=1, seconds=-0.2)  # the clock is set an hour forward
    assert await said.next(timeout_s=1.0) == ("reminder", "A reminder to call mom.")
    # A timer, and a reminder "in an hour", keep their length.
    with pytest.raises(TimeoutError):
        await said.next(timeout_s=0.3)
    assert timers.left().startswith("59 minutes and 5")  # of the hour, not moved
    # Stepped back: a reminder for a time of day waits for that time again.
    timers.remind_at(wall[0] + timedelta(seconds=0.3), "A reminder to leave.")
    wall[0] -= timedelta(hours=1)
    with pytest.raises(TimeoutError):
        await said.next(timeout_s=0.6)
    # Kept across a restart as a time of day, and followed there too.
    timers.close()
    after = Timers(MONOTONIC, said, wall_clock=lambda: wall[0])
    after.keep_in(path)
    wall[0] += timedelta(hours=1)
    assert await said.next(timeout_s=1.0) == ("reminder", "A reminder to leave.")
    after.close()
