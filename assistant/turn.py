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
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

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
from assistant.wakeword import strip_wake_phrase

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


class TurnGate:
    """What the listener and a running turn share: the listener commits the turn (its audio
    waits until then), the turn reports when its reply starts to sound."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.committed_ns: int | None = None
        self.first_sample_ns: int | None = None
        """When the first reply sample was handed to the device (set from its thread)."""

    @property
    def is_speaking(self) -> bool:
        return self.first_sample_ns is not None

    def commit(self, now_ns: int) -> None:
        if self.committed_ns is None:
            self.committed_ns = now_ns
            self._event.set()

    @property
    def is_committed(self) -> bool:
        return self.committed_ns is not None

    async def wait(self) -> None:
        await self._event.wait()


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """How the listener runs a voice turn (a typed question needs none of it)."""

    gate: TurnGate | None = None
    """Speculative until the gate is committed; reports when the reply starts to sound."""
    wake_phrase: str | None = None
    """The wake word was heard in this utterance: Whisper is told, and it is removed from
    the transcript."""
    on_transcript: Callable[[str], None] | None = None
    """Hears the transcript as soon as it is final (the end-pointer's hold depends on it)."""
    file: str | None = None
    """The record's `file` (the bench's WAV)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """More fields for the record."""


NO_OPTIONS = TurnOptions()


class _Reply:
    """What was said so far in a turn (for the record and the memory)."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.generated = ""
        """The LLM's text exactly as it came (the clauses are cleaned up for speech)."""

    @property
    def text(self) -> str:
        return " ".join(self.clauses)


@dataclass
class _Turn:
    """What one turn has found out so far."""

    trace: TurnTrace
    origin: Literal["voice", "text"]
    transcript: str = ""
    route: str = ""
    reason: str = ""
    outcome: Outcome = "ok"
    error: str | None = None
    reply: _Reply = field(default_factory=lambda: _Reply())


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
        self, heard: Utterance | str, speaker: Speaker, options: TurnOptions = NO_OPTIONS
    ) -> TurnRecord:
        """Run one turn to its end and return its record (also logged as one JSON line)."""
        self.turns += 1
        t = _Turn(TurnTrace(self.clock), "voice" if isinstance(heard, Utterance) else "text")
        try:
            t.transcript = await self._hear(heard, t.trace, options.wake_phrase)
            if options.on_transcript is not None:
                options.on_transcript(t.transcript)
            if not t.transcript:
                t.outcome = "empty"
            else:
                clauses, t.route, t.reason = self._route(t.transcript, t.trace, t.reply)
                await speaker.play(
                    self._speech(clauses, t.trace, t.reply, options.gate),
                    on_first_sample=lambda ns: _first_sample(t.trace, options.gate, ns),
                )
                t.trace.mark("done")
                if t.route != "intent":
                    # As generated, so the LLM's cache matches it next turn.
                    self.memory.add(t.transcript, t.reply.generated or t.reply.text)
        except asyncio.CancelledError:
            gate = options.gate
            t.outcome = "cancelled" if gate is None or gate.is_committed else "speculative"
            self._finish(t, speaker, options)
            raise
        except AssistantError as e:
            t.outcome, t.error = "error", f"{e.code}: {e}"
            # A stage error is an expected outcome of a turn: one line, no traceback.
            log.error("turn %d failed: %s", self.turns, t.error)  # noqa: TRY400
        except Exception as e:
            # A bug, not bad input: the traceback goes to the log, the process goes on.
            t.outcome, t.error = "error", f"internal: {e!r}"
            log.exception("turn %d failed", self.turns)
        return self._finish(t, speaker, options)

    def _finish(self, t: _Turn, speaker: Speaker, options: TurnOptions) -> TurnRecord:
        trace = t.trace
        if options.gate is not None and options.gate.committed_ns is not None:
            trace.mark("commit", options.gate.committed_ns)
        fields = dict(options.extra)
        commit_ms = trace.span_ms("speech_end", "commit")
        if commit_ms is not None:
            fields["commit_ms"] = commit_ms
            held = trace.span_ms("tts_first_audio", "commit")
            fields["held_ms"] = max(0.0, held) if held is not None else 0.0
        record = build_record(
            trace,
            turn=self.turns,
            origin=t.origin,
            transcript=t.transcript,
            reply=t.reply.text,
            route=t.route,
            reason=t.reason,
            outcome=t.outcome,
            output_latency_ms=speaker.output_latency_s * 1000,
            error=t.error,
            file=options.file,
            extra=fields,
        )
        # Dropped speculation is routine: keep it out of the INFO log.
        level = logging.DEBUG if t.outcome == "speculative" else logging.INFO
        record_log.log(level, "%s", record.to_json())
        if self.on_record is not None:
            self.on_record(record)
        return record

    async def _hear(self, heard: Utterance | str, trace: TurnTrace, wake_phrase: str | None) -> str:
        if isinstance(heard, str):
            trace.mark("speech_end")
            return heard.strip()
        trace.mark("speech_end", heard.speech_end_ns)
        trace.mark("endpoint", heard.endpoint_ns)
        asr = self.engines.asr
        with _stage_errors(AsrError):
            text = await self.engines.asr_worker.call(
                asr.transcribe,
                heard.samples,
                heard.sample_rate_hz,
                # Told the wake phrase came first, Whisper spells it as written.
                f"{wake_phrase}," if wake_phrase else "",
            )
        trace.mark("asr_final")
        return strip_wake_phrase(text, wake_phrase) if wake_phrase else text

    def _route(
        self, transcript: str, trace: TurnTrace, reply: _Reply
    ) -> tuple[AsyncGenerator[str, None], str, str]:
        intent = match_intent(transcript, self.wall_clock())
        trace.mark("route")
        if intent is not None:
            return _one(intent.reply), "intent", intent.name
        return self._llm_clauses(transcript, trace, reply), "fast", "default"

    async def _llm_clauses(
        self, transcript: str, trace: TurnTrace, reply: _Reply
    ) -> AsyncGenerator[str, None]:
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
                    reply.generated += delta
                    for clause in splitter.feed(delta):
                        trace.mark("first_clause")
                        yield clause
        finally:
            await tokens.aclose()
        for clause in splitter.flush():
            trace.mark("first_clause")
            yield clause

    async def _speech(
        self,
        clauses: AsyncGenerator[str, None],
        trace: TurnTrace,
        reply: _Reply,
        commit: TurnGate | None,
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
                            if commit is not None and not commit.is_committed:
                                await commit.wait()  # speculative: nothing plays before the hold
                            yield pcm
                finally:
                    await audio.aclose()
        finally:
            await clauses.aclose()


def _first_sample(trace: TurnTrace, gate: TurnGate | None, ns: int) -> None:
    trace.mark("first_sample", ns)
    if gate is not None and gate.first_sample_ns is None:
        gate.first_sample_ns = ns


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
