"""The large model, for hard turns: an acknowledgement when its first clause will be late,
and a fallback when it fails (to the fast model if nothing was said yet, else an apology)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Annotated

from annotated_types import Ge, Gt

from assistant.core.clock import Clock
from assistant.core.errors import LlmError
from assistant.pipeline.context import Ack, Turn
from assistant.pipeline.stages.llm import ModelReply

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    """How hard turns are asked of `llm.large` (config.toml's `[escalation]`; which turns
    are hard: `core/router.py`)."""

    system_prompt: str = (
        "You are a helpful assistant in a home. Answer in plain spoken English, "
        "in two to four short sentences."
    )
    max_reply_tokens: Annotated[int, Gt(0)] = 160
    acknowledgement: str = "Let me think."
    """Played at once when the large model's first clause is expected late."""
    ack_after_ms: Annotated[int, Ge(0)] = 700
    """Expected wait (from the routing decision to the first clause) beyond which the
    acknowledgement is played; 0 always plays it."""
    apology: str = "Sorry, I lost my train of thought."
    """Said when the large model fails after it has started speaking."""


class Escalation:
    def __init__(
        self,
        large: ModelReply,
        fallback: ModelReply,
        settings: EscalationSettings,
        clock: Clock,
        *,
        first_clause_ms: float | None = None,
    ) -> None:
        self.large, self.fallback, self.settings, self.clock = large, fallback, settings, clock
        self.first_clause_ms = first_clause_ms
        """Running estimate (EWMA) of route -> first clause: decides whether the
        acknowledgement is needed. Seeded at warm-up."""

    async def clauses(self, turn: Turn) -> AsyncGenerator[str, None]:
        esc = self.settings
        expected = self.first_clause_ms
        route_ns = self.clock.now_ns()
        # Start the model now: the acknowledgement may wait for the hold before it plays.
        answer = ahead(self.large.clauses(turn))
        if expected is None or expected > esc.ack_after_ms:
            turn.ack = True
            yield Ack(esc.acknowledgement)
        spoken = 0
        try:
            async for clause in answer:
                if spoken == 0:
                    self._learn((self.clock.now_ns() - route_ns) / 1e6)
                spoken += 1
                yield clause
        except LlmError as e:
            turn.fallback = "fast" if spoken == 0 else "apology"
            turn.large_error = str(e)
            log.warning("large model failed (%s): falling back to %s", e, turn.fallback)
            if spoken == 0:
                turn.generated = ""
                async for clause in self.fallback.clauses(turn):
                    yield clause
            else:
                yield esc.apology
        finally:
            await answer.aclose()

    def _learn(self, ms: float) -> None:
        prev = self.first_clause_ms
        self.first_clause_ms = ms if prev is None else 0.7 * prev + 0.3 * ms


async def ahead(gen: AsyncGenerator[str, None]) -> AsyncGenerator[str, None]:
    """Run `gen` in its own task from now on, so it works ahead of its consumer."""
    queue: asyncio.Queue[tuple[str | None, BaseException | None]] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for item in gen:
                queue.put_nowait((item, None))
        except Exception as e:  # handed to the consumer
            queue.put_nowait((None, e))
        else:
            queue.put_nowait((None, None))
        finally:
            await gen.aclose()

    task = asyncio.create_task(pump(), name="large-model-ahead")
    try:
        while True:
            item, error = await queue.get()
            if error is not None:
                raise error
            if item is None:
                return
            yield item
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
