"""The large model, for hard turns: an acknowledgement when its first clause will be late,
and a fallback when it fails (to the fast model if nothing was said yet, else an apology)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Annotated

from annotated_types import Ge, Gt

from assistant.core.clock import Clock
from assistant.core.errors import LlmError
from assistant.core.latency import Mark
from assistant.pipeline.context import Ack, Turn
from assistant.pipeline.stages.llm import ModelReply

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    """How hard turns are asked of `llm.large` (config.toml's `[escalation]`; which turns
    are hard: `core/router.py`)."""

    # Measured on Qwen2.5-Coder-1.5B: told only "in a few words", it still answered facts
    # with a whole sentence ("The capital of Australia is Canberra.", 0.75 s); with these
    # examples it often says just the answer ("Mercury.", 0.5 s), explanations unchanged.
    # (The examples are not in the answer set, tests/data/answers.tsv, that scores it.)
    system_prompt: str = (
        "You are a voice assistant in a home; your words are spoken aloud. Answer a question "
        "of fact with just the answer, in a few words: 'What is the capital of Peru?' - "
        "'Lima.' 'How many wheels does a tricycle have?' - 'Three.' 'Who wrote Don Quixote?' "
        "- 'Miguel de Cervantes.' Explain a why or how question in two to four short "
        "sentences of plain spoken English."
    )
    max_reply_tokens: Annotated[int, Gt(0)] = 160
    max_first_words: Annotated[int, Gt(0)] = 4
    """The large model's first clause is spoken once it is this many words long, at a word
    boundary, if no clause has ended before: it writes ~15 tokens/s on two cores, so
    waiting for a whole first sentence cost ~0.4 s of silence."""
    acknowledgement: str = "Let me think."
    """Played at once when the large model's first clause is expected late; and when it
    was not, but the model has not begun to write when the wait passes the bar."""
    ack_after_ms: Annotated[int, Ge(0)] = 500
    """Wait (from the routing decision to the first clause) beyond which the
    acknowledgement is played: at once if the wait is expected to be longer; else when it
    turns out to be, unless the model is writing by then (its first clause is a few words
    off, and the answer would wait for the acknowledgement to end: played at the bar
    regardless, it once sounded 0.11 s before "The capital of France is Paris." was
    ready); 0 always plays it. Below the 700 ms a wait may last before the user hears
    something: the estimate is an average, and with Qwen2.5-1.5B here the first clauses of
    explanations spread ~100 ms either side of it."""
    fact_ack_after_ms: Annotated[int, Ge(0)] = 1200
    """The same for a question of fact: its answer is a few words, and "Let me think."
    before "Canberra." is worse than a short wait."""
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
        warm_up_ms: Mapping[str, float] | None = None,
    ) -> None:
        self.large, self.fallback, self.settings, self.clock = large, fallback, settings, clock
        self.warm_up_ms = dict(warm_up_ms or {})
        """Route -> first clause at warm-up, per routing reason ("default" for the others):
        the estimate for a kind of turn not seen yet."""
        self.first_clause_ms: dict[str, float] = {}
        """Running estimate (EWMA) of route -> first clause per routing reason: decides
        whether the acknowledgement is needed. Per reason because they differ: a fact's
        answer ("Canberra.") comes in a few tokens, an explanation's first clause later."""

    def expected_ms(self, reason: str) -> float | None:
        if (learned := self.first_clause_ms.get(reason)) is not None:
            return learned
        return self.warm_up_ms.get(reason, self.warm_up_ms.get("default"))

    async def clauses(self, turn: Turn) -> AsyncGenerator[str, None]:
        esc = self.settings
        expected = self.expected_ms(turn.reason)
        route_ns = self.clock.now_ns()
        # Start the model now, not when the acknowledgement has been taken: a speculative
        # turn's waits for the commit, and until 2026-12-07 the model waited with it.
        answer = ahead(self.large.clauses(turn))
        first = asyncio.create_task(_next(answer), name="large-model-first-clause")
        bar = esc.fact_ack_after_ms if turn.reason == "question" else esc.ack_after_ms
        spoken = 0
        try:
            if expected is None or expected > bar:
                turn.ack = "expected"
                yield Ack(esc.acknowledgement)
            else:  # expected in time: said anyway if it is not
                waited_ms = (self.clock.now_ns() - route_ns) / 1e6
                timeout_s = (bar - waited_ms) / 1000
                late = not (await asyncio.wait({first}, timeout=timeout_s))[0]
                # Once it writes, its first clause is a few words off: sooner than the
                # acknowledgement would end, which the answer would wait for.
                if late and not turn.trace.has(Mark.LLM_FIRST_TOKEN):
                    turn.ack = "late"
                    yield Ack(esc.acknowledgement)
            clause = await first
            if clause is not None:  # (when it was written, not when it was asked for)
                self._learn(turn.reason, turn.trace.span_ms(Mark.ROUTE, Mark.FIRST_CLAUSE))
            while clause is not None:
                spoken += 1
                yield clause
                clause = await anext(answer, None)
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
            first.cancel()  # (the turn was dropped while it waited: the model stops)
            await asyncio.wait({first})
            if not first.cancelled():
                first.exception()  # a failure nobody waited for any more is not news
            await answer.aclose()

    def _learn(self, reason: str, ms: float | None) -> None:
        if ms is None:
            return
        prev = self.first_clause_ms.get(reason)
        self.first_clause_ms[reason] = ms if prev is None else 0.7 * prev + 0.3 * ms


async def _next(gen: AsyncGenerator[str, None]) -> str | None:
    return await anext(gen, None)


async def ahead(gen: AsyncGenerator[str, None]) -> AsyncGenerator[str, None]:
    """Run `gen` in its own task, so it works ahead of its consumer: from the first item
    asked for, not from the call (this is an async generator too)."""
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
