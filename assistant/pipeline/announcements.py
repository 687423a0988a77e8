"""Announcements (a timer that ran out, MQTT's `say`) are said between turns, by whoever owns
the speaker: the listener, push-to-talk. One loop for both; each says what "busy" means."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

POLL_S = 0.05


async def _now() -> None:
    return None


async def announce_between_turns(
    queue: asyncio.Queue[tuple[str, str]],
    busy: Callable[[], bool],
    say: Callable[[str, str], Awaitable[object]],
    catch_up: Callable[[], Awaitable[None]] = _now,
) -> None:
    """Forever: take the next (text, reason), `catch_up` (so `busy` is asked of what is
    happening now), wait until not `busy`, then `say` it to its end. (`busy` reads conditions
    set from plain code: a 50 ms poll is simpler than an event for each.)"""
    while True:
        text, reason = await queue.get()
        await catch_up()
        while busy():  # noqa: ASYNC110
            await asyncio.sleep(POLL_S)
        await say(text, reason)
