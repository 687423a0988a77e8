"""One turn, streamed and overlapped: audio -> transcript -> route -> LLM tokens -> clauses ->
TTS -> speaker.

The stages are chained async generators run by one task, with the LLM generating ahead on
its own worker thread. Overlap is where it pays: the speaker takes clause n without
blocking and TTS renders clause n+1 while it plays, the LLM writing on meanwhile (it
pauses between tokens while TTS holds the CPU gate, so the clause the user is waiting for
is rendered on both cores). Cancelling the task running `TurnRunner.run` stops
everything at once: the worker streams stop at the next token or audio chunk and the
speaker flushes what it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from assistant.audio import Speaker
from assistant.clauses import ClauseSplitter, SplitterSettings
from assistant.clock import Clock
from assistant.engines.asr import Transcriber
from assistant.engines.llm import ChatModel, Message
from assistant.engines.tts import Synthesizer
from assistant.engines.worker import CpuGate, Worker
from assistant.errors import AsrError, AssistantError, LlmError, StageError, TtsError
from assistant.frames import Pcm16, Utterance
from assistant.intents import match_intent
from assistant.latency import Outcome, TurnRecord, TurnTrace, build_record
from assistant.memory import ConversationMemory

log = logging.getLogger(__name__)
record_log = logging.getLogger("assistant.turn")


@dataclass(frozen=True, slots=True)
class TurnSettings:
    system_prompt: str
    max_reply_tokens: int
    splitter: SplitterSettings


@dataclass
class Engines:
    """The loaded, warmed engines, each with its own worker thread."""

    asr: Transcriber
    llm: ChatModel
    tts: Synthesizer
    asr_worker: Worker
    llm_worker: Worker
    tts_worker: Worker
    gate: CpuGate

    def shutdown(self) -> None:
        for w in (self.asr_worker, self.llm_worker, self.tts_worker):
            w.shutdown()


class _Reply:
    """What was said so far in a turn (for the record and the memory)."""

    def __init__(self) -> None:
        self.clauses: list[str] = []

    @property
    def text(self) -> str:
        return " ".join(self.clauses)


class TurnRunner:
    def __init__(
        self,
        engines: Engines,
        memory: ConversationMemory,
        settings: TurnSettings,
        clock: Clock,
        *,
        wall_clock: Callable[[], datetime] = datetime.now,
        on_record: Callable[[TurnRecord], None] | None = None,
    ) -> None:
        self.engines = engines
        self.memory = memory
        self.settings = settings
        self.clock = clock
        self.wall_clock = wall_clock
        self.on_record = on_record
        self.turns = 0

    async def run(
        self,
        heard: Utterance | str,
        speaker: Speaker,
        *,
        file: str | None = None,
    ) -> TurnRecord:
        """Run one turn to its end and return its record (also logged as one JSON line)."""
        self.turns += 1
        trace = TurnTrace(self.clock)
        reply = _Reply()
        transcript, route, reason = "", "", ""
        outcome: Outcome = "ok"
        error: str | None = None
        origin = "voice" if isinstance(heard, Utterance) else "text"
        try:
            transcript = await self._hear(heard, trace)
            if not transcript:
                outcome = "empty"
            else:
                clauses, route, reason = self._route(transcript, trace, reply)
                await speaker.play(
                    self._speech(clauses, trace, reply),
                    on_first_sample=lambda ns: trace.mark("first_sample", ns),
                )
                trace.mark("done")
                self.memory.add(transcript, reply.text)
        except asyncio.CancelledError:
            outcome = "cancelled"
            self._finish(
                trace, origin, transcript, reply, route, reason, outcome, None, speaker, file
            )
            raise
        except AssistantError as e:
            outcome, error = "error", f"{e.code}: {e}"
            # A stage error is an expected outcome of a turn: one line, no traceback.
            log.error("turn %d failed: %s", self.turns, error)  # noqa: TRY400
        return self._finish(
            trace, origin, transcript, reply, route, reason, outcome, error, speaker, file
        )

    def _finish(
        self,
        trace: TurnTrace,
        origin: str,
        transcript: str,
        reply: _Reply,
        route: str,
        reason: str,
        outcome: Outcome,
        error: str | None,
        speaker: Speaker,
        file: str | None,
    ) -> TurnRecord:
        record = build_record(
            trace,
            turn=self.turns,
            origin="voice" if origin == "voice" else "text",
            transcript=transcript,
            reply=reply.text,
            route=route,
            reason=reason,
            outcome=outcome,
            output_latency_ms=speaker.output_latency_s * 1000,
            error=error,
            file=file,
        )
        record_log.info("%s", record.to_json())
        if self.on_record is not None:
            self.on_record(record)
        return record

    async def _hear(self, heard: Utterance | str, trace: TurnTrace) -> str:
        if isinstance(heard, str):
            trace.mark("speech_end")
            return heard.strip()
        trace.mark("speech_end", heard.speech_end_ns)
        trace.mark("endpoint", heard.endpoint_ns)
        asr = self.engines.asr
        with _stage_errors(AsrError):
            text = await self.engines.asr_worker.call(
                asr.transcribe, heard.samples, heard.sample_rate_hz
            )
        trace.mark("asr_final")
        return text

    def _route(
        self, transcript: str, trace: TurnTrace, reply: _Reply
    ) -> tuple[AsyncGenerator[str, None], str, str]:
        intent = match_intent(transcript, self.wall_clock())
        trace.mark("route")
        if intent is not None:
            return _one(intent.reply), "intent", intent.name
        return self._llm_clauses(transcript, trace), "fast", "default"

    async def _llm_clauses(self, transcript: str, trace: TurnTrace) -> AsyncGenerator[str, None]:
        messages = [Message("system", self.settings.system_prompt)]
        for ex in self.memory.history():
            messages += [Message("user", ex.user), Message("assistant", ex.assistant)]
        messages.append(Message("user", transcript))
        llm = self.engines.llm
        splitter = ClauseSplitter(self.settings.splitter)
        tokens = self.engines.llm_worker.stream(
            lambda: llm.stream(messages, self.settings.max_reply_tokens),
            yield_to=self.engines.gate,
        )
        try:
            with _stage_errors(LlmError):
                async for delta in tokens:
                    trace.mark("llm_first_token")
                    for clause in splitter.feed(delta):
                        trace.mark("first_clause")
                        yield clause
        finally:
            await tokens.aclose()
        for clause in splitter.flush():
            trace.mark("first_clause")
            yield clause

    async def _speech(
        self, clauses: AsyncGenerator[str, None], trace: TurnTrace, reply: _Reply
    ) -> AsyncGenerator[Pcm16, None]:
        tts, gate = self.engines.tts, self.engines.gate

        def render(text: str) -> Iterator[Pcm16]:
            with gate.hold():
                yield from tts.synthesize(text)

        try:
            async for clause in clauses:
                reply.clauses.append(clause)
                audio = self.engines.tts_worker.stream(
                    lambda c=clause: render(c),  # type: ignore[misc]
                    on_stop=tts.interrupt,
                )
                try:
                    with _stage_errors(TtsError):
                        async for pcm in audio:
                            trace.mark("tts_first_audio")
                            yield pcm
                finally:
                    await audio.aclose()
        finally:
            await clauses.aclose()


async def _one(text: str) -> AsyncGenerator[str, None]:
    yield text


@contextlib.contextmanager
def _stage_errors(error: type[StageError]) -> Iterator[None]:
    """Inside a stage, anything but our own errors becomes that stage's error.
    (Cancellation is a BaseException and passes through untouched.)"""
    try:
        yield
    except StageError:
        raise
    except Exception as e:
        raise error(str(e)) from e
