"""A language model's reply, streamed as clauses for speech, with deadlines: a first token
within `first_token_s`, then no gap longer than `stall_s`, or the stage fails (and the turn
falls back or ends). A reply that starts repeating itself, or a number that runs away, is
cut where it went wrong."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Annotated

from annotated_types import Gt

from assistant.core.clauses import (
    NOT_SURE_SAY,
    ClauseSplitter,
    PhraseLoop,
    RepeatGuard,
    SplitterSettings,
    runaway_number,
)
from assistant.core.clock import Clock
from assistant.core.errors import LlmError
from assistant.core.latency import Mark
from assistant.core.memory import ConversationMemory
from assistant.engines.llm import ChatModel, Message
from assistant.engines.worker import CpuGate, Worker
from assistant.pipeline.context import Turn, stage_errors
from assistant.pipeline.stages.prefill import Prefill

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplySettings:
    """How the pipeline's own model is asked (config.toml's `[assistant]`)."""

    # Measured on SmolLM2-135M: this wording (and greedy decoding) keeps it in English and
    # on topic; "voice assistant in a home" made it answer in French.
    system_prompt: str = "You are a helpful assistant. Answer in English, in one short sentence."
    max_reply_tokens: Annotated[int, Gt(0)] = 64
    max_reply_s: Annotated[float, Gt(0)] = 20.0
    """A reply ends at the clause that takes it past this much speech (either model)..."""
    long_reply_s: Annotated[float, Gt(0)] = 60.0
    """...or past this much when a long one was asked for ("tell me a story", "explain in
    detail": `core/router.wants_long`)."""


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """How one language model is asked, and how long it may take: its prompt settings and
    its role's deadlines in models.toml, put together (the defaults live there)."""

    system_prompt: str
    max_reply_tokens: int
    first_token_s: float
    stall_s: float


class ModelReply:
    def __init__(
        self,
        model: ChatModel,
        worker: Worker,
        settings: ModelSettings,
        splitter: SplitterSettings,
        *,
        memory: ConversationMemory,
        prefill: Prefill,
        cpu: CpuGate,
        clock: Clock,
    ) -> None:
        self.model, self.worker, self.settings, self.splitter = model, worker, settings, splitter
        self.memory, self._prefill, self.cpu, self.clock = memory, prefill, cpu, clock

    def conversation(self) -> list[Message]:
        """The system prompt and the remembered exchanges, as the model is sent them."""
        messages = [Message("system", self.settings.system_prompt)]
        for ex in self.memory.history():
            messages += [Message("user", ex.user), Message("assistant", ex.assistant)]
        return messages

    async def prefill(self) -> None:
        t0 = self.clock.now_ns()
        messages = self.conversation()
        await self.worker.call(self.model.prefill, messages)
        log.debug(
            "prefilled %d messages in %.0f ms", len(messages), (self.clock.now_ns() - t0) / 1e6
        )

    async def clauses(self, turn: Turn) -> AsyncGenerator[str, None]:
        trace, ms = turn.trace, self.settings
        # A prefill still running (a question right after a reply) finishes first: it is
        # work this turn needs anyway, and two models at once would slow both.
        await self._prefill.settled()
        messages = [*self.conversation(), Message("user", turn.transcript)]
        splitter, said, loop = ClauseSplitter(self.splitter), RepeatGuard(), PhraseLoop()

        def new(clause: str) -> bool:
            if said.repeats(clause):
                log.info("reply ended: the model began to repeat %r", clause)
                turn.cut = "repeat"
                return False
            trace.mark(Mark.FIRST_CLAUSE)
            return True

        tokens = self.worker.stream(
            lambda: self.model.stream(messages, ms.max_reply_tokens), yield_to=self.cpu
        )
        deadline_s, started = ms.first_token_s, False
        try:
            with stage_errors(LlmError):
                while True:
                    try:
                        async with asyncio.timeout(deadline_s):
                            delta = await anext(tokens)
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        if not started:
                            raise LlmError(f"no first token within {deadline_s:g} s") from None
                        raise LlmError(f"stalled: no token for {deadline_s:g} s") from None
                    started, deadline_s = True, ms.stall_s
                    trace.mark(Mark.LLM_FIRST_TOKEN)
                    turn.generated += delta
                    if (phrase := loop.feed(delta)) is not None:
                        log.info("reply ended: %r came back a third time", phrase)
                        turn.cut = "loop"
                        if splitter.emitted == 0 and new(NOT_SURE_SAY):
                            turn.unsure = True  # (rather than silence)
                            yield NOT_SURE_SAY
                        return
                    for clause in splitter.feed(delta):
                        if not new(clause):
                            return  # (closing the stream stops the model)
                        yield clause
                    pending = splitter.pending
                    if any(c.isdigit() for c in delta) and runaway_number(pending):
                        # Not kept for the next turn either: the model would take it up.
                        log.info("reply ended: a number ran away in %r", pending)
                        turn.cut = "number"
                        if splitter.emitted == 0 and new(NOT_SURE_SAY):
                            turn.unsure = True
                            yield NOT_SURE_SAY
                        return
        finally:
            await tokens.aclose()
        for clause in splitter.flush():
            if not new(clause):
                return
            yield clause
