"""One turn, streamed and overlapped: audio -> transcript -> route -> reply clauses -> TTS ->
speaker.

The router (`router.py`) picks one of three paths: an intent (the grammar's answer, with
its device action or timer carried out here: no language model), the fast model, or the
large one. An escalated turn plays a pre-rendered acknowledgement when the large model's
first clause is expected late, and every model path has deadlines: a large model that
fails or stalls before speaking falls back to the fast model, after speaking to a short
apology. A turn never hangs.

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
import dataclasses
import logging
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import numpy as np

from assistant.audio.devices import Speaker
from assistant.audio.wakeword import strip_wake_phrase
from assistant.core.actions import ActionSink, LogActionSink
from assistant.core.clauses import (
    NOT_SURE_SAY,
    ClauseSplitter,
    RepeatGuard,
    SplitterSettings,
    runaway_number,
)
from assistant.core.clock import Clock
from assistant.core.errors import AsrError, AssistantError, LlmError, StageError, TtsError
from assistant.core.frames import Pcm16, Utterance
from assistant.core.intents import (
    ANSWER_WINDOW_S,
    IT_WINDOW_S,
    Device,
    DeviceCommand,
    Intent,
    IntentContext,
    Question,
    question,
)
from assistant.core.latency import Mark, Outcome, TurnRecord, TurnTrace, build_record
from assistant.core.levels import audible_start
from assistant.core.memory import ConversationMemory
from assistant.core.router import Path as RoutePath
from assistant.core.router import Route, route
from assistant.engines.asr import Transcriber
from assistant.engines.llm import ChatModel, Message
from assistant.engines.tts import Synthesizer
from assistant.engines.worker import CpuGate, Worker
from assistant.pipeline.timers import Timers

record_log = logging.getLogger("assistant.turn")
"""One JSON line per turn, and nothing else: what `grep 'assistant.turn: '` reads. It is
this module's name, so the module's own messages go to a child logger, not `__name__`."""
log = logging.getLogger(f"{__name__}.run")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """How one language model is asked, and how long it may take."""

    system_prompt: str
    max_reply_tokens: int
    first_token_s: float = 8.0
    stall_s: float = 4.0


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    model: ModelSettings
    acknowledgement: str = "Let me think."
    ack_after_ms: int = 700
    apology: str = "Sorry, I lost my train of thought."


@dataclass(frozen=True, slots=True)
class TurnSettings:
    fast: ModelSettings
    """The pipeline's own model (llm.fast, or llm.large when the pipeline says so)."""
    splitter: SplitterSettings
    escalation: EscalationSettings | None = None
    """None: no large model; every non-intent turn goes to the fast one."""
    devices: tuple[Device, ...] = ()
    intents: bool = True
    """False: no turn is answered by the intent grammar (the models answer everything)."""
    primary_route: Literal["fast", "large"] = "fast"
    """What a turn on the primary model is recorded as: "large" when the pipeline's own
    model is `llm.large` (so records say which model answered)."""


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
    large: ChatModel | None = None
    large_worker: Worker | None = None
    """Its own thread: a stalled server or a slow prefill must not hold up the fallback."""
    phrases: dict[str, Pcm16] = field(default_factory=dict)
    """Audio rendered at start-up (confirmations, the acknowledgement), played as is."""

    def shutdown(self) -> None:
        for w in (self.asr_worker, self.llm_worker, self.tts_worker, self.large_worker):
            if w is not None:
                w.shutdown()

    async def prerender(self, texts: list[str]) -> None:
        """Render phrases once (at start-up), so saying them costs no TTS time."""
        for text in texts:
            if text not in self.phrases:
                pcm = await self.tts_worker.call(lambda t=text: list(self.tts.synthesize(t)))
                self.phrases[text] = np.concatenate(pcm) if pcm else np.zeros(0, np.int16)


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
    dropped_frames: int | None = None
    """The record's `dropped_frames` (the listener's count for the utterance)."""


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
    origin: Literal["voice", "text", "announce"]
    transcript: str = ""
    route: str = ""
    path: RoutePath | None = None
    reason: str = ""
    outcome: Outcome = "ok"
    error: str | None = None
    reply: _Reply = field(default_factory=lambda: _Reply())
    asks: Question | None = None
    """The question its reply asked (once it was said), for the next turn to answer."""
    ack: bool | None = None
    fallback: Literal["fast", "apology"] | None = None
    large_error: str | None = None
    intent_fields: dict[str, Any] = field(default_factory=dict)
    """What the intent adds to the record (`Intent.record()`: TurnRecord field names)."""


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
        actions: ActionSink | None = None,
    ) -> None:
        self.engines = engines
        self.memory = memory
        self.settings = settings
        self.clock = clock
        self.wall_clock = wall_clock
        self.on_record = on_record
        self.actions: ActionSink = actions or LogActionSink()
        self.announcements: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        """(text, reason) to say between turns, played by whoever owns the speaker (the
        listener, push-to-talk): timers that ran out, MQTT's `say`."""
        self.timers = Timers(
            clock, self.say_between_turns, wall_clock=lambda: self.wall_clock().astimezone(UTC)
        )
        self.turns = 0
        self.previous_path: RoutePath | None = None
        self.mode: Literal["auto", "fast", "large"] = "auto"
        """Routing mode (MQTT `model/set`): auto is the router; fast never escalates;
        large sends every turn that is not an intent to the large model."""
        self._asked: tuple[Question, int] | None = None
        """The question the last turn asked, and when it finished asking (clock ns)."""
        self._commanded: tuple[DeviceCommand, int] | None = None
        """The last device command carried out, and when (clock ns): "turn it off"."""
        self._prefilling: asyncio.Task[None] | None = None
        self.large_first_clause_ms: float | None = None
        """Running estimate (EWMA) of route -> first clause on the large path: decides
        whether the acknowledgement is needed. Seeded at warm-up."""

    async def run(
        self, heard: Utterance | str, speaker: Speaker, options: TurnOptions = NO_OPTIONS
    ) -> TurnRecord:
        """Run one turn to its end and return its record (also logged as one JSON line)."""
        self.turns += 1
        t = _Turn(TurnTrace(self.clock), "voice" if isinstance(heard, Utterance) else "text")
        try:
            asked = self._open_question()
            t.transcript = await self._hear(heard, t.trace, options.wake_phrase, asked)
            if options.on_transcript is not None:
                options.on_transcript(t.transcript)
            if not t.transcript:
                t.outcome = "empty"
            else:
                clauses = self._route(t, asked, speculative=options.gate is not None)
                await speaker.play(
                    self._speech(clauses, t.trace, t.reply, options.gate),
                    on_first_sample=lambda ns: _first_sample(t.trace, options.gate, ns),
                )
                t.trace.mark(Mark.DONE)
                self.previous_path = t.path
                # A turn said to its end answers (or passes over) the open question.
                self._asked = (t.asks, self.clock.now_ns()) if t.asks is not None else None
                if t.route != "intent":
                    # As generated, so the LLM's cache matches it next turn.
                    self.memory.add(t.transcript, t.reply.generated or t.reply.text)
                    self._prefill_soon()
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

    def say_between_turns(self, text: str, reason: str) -> None:
        self.announcements.put_nowait((text, reason))

    async def announce(
        self, text: str, speaker: Speaker, options: TurnOptions = NO_OPTIONS, reason: str = "timer"
    ) -> TurnRecord:
        """Say something nobody asked for just now (a timer that ran out), as a turn of its
        own: the listener keeps the microphone deaf while it plays, and it gets a record."""
        self.turns += 1
        t = _Turn(TurnTrace(self.clock), "announce", route="announce", reason=reason)
        t.trace.mark(Mark.SPEECH_END)
        try:
            await speaker.play(
                self._speech(_one(text), t.trace, t.reply, options.gate),
                on_first_sample=lambda ns: _first_sample(t.trace, options.gate, ns),
            )
            t.trace.mark(Mark.DONE)
        except asyncio.CancelledError:
            t.outcome = "cancelled"
            self._finish(t, speaker, options)
            raise
        except AssistantError as e:
            t.outcome, t.error = "error", f"{e.code}: {e}"
            log.error("announcement failed: %s", t.error)  # noqa: TRY400
        return self._finish(t, speaker, options)

    def _finish(self, t: _Turn, speaker: Speaker, options: TurnOptions) -> TurnRecord:
        trace = t.trace
        if options.gate is not None and options.gate.committed_ns is not None:
            trace.mark(Mark.COMMIT, options.gate.committed_ns)
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
        )
        record = dataclasses.replace(
            record,
            dropped_frames=options.dropped_frames,
            ack=t.ack,
            fallback=t.fallback,
            large_error=t.large_error,
            **t.intent_fields,
        )
        # Dropped speculation is routine: keep it out of the INFO log.
        level = logging.DEBUG if t.outcome == "speculative" else logging.INFO
        record_log.log(level, "%s", record.to_json())
        if self.on_record is not None:
            self.on_record(record)
        return record

    async def _hear(
        self,
        heard: Utterance | str,
        trace: TurnTrace,
        wake_phrase: str | None,
        asked: Question | None,
    ) -> str:
        if isinstance(heard, str):
            trace.mark(Mark.SPEECH_END)
            return heard.strip()
        trace.mark(Mark.SPEECH_END, heard.speech_end_ns)
        trace.mark(Mark.ENDPOINT, heard.endpoint_ns)
        asr = self.engines.asr
        # Whisper is told what was said just before: the question the answer may be to,
        # and the wake phrase (it then spells it as written, and can strip it).
        prompt = " ".join(
            p for p in (asked and asked.words, wake_phrase and f"{wake_phrase},") if p
        )
        with _stage_errors(AsrError):
            text = await self.engines.asr_worker.call(
                asr.transcribe, heard.samples, heard.sample_rate_hz, prompt
            )
        trace.mark(Mark.ASR_FINAL)
        return strip_wake_phrase(text, wake_phrase) if wake_phrase else text

    def _route(
        self, t: _Turn, asked: Question | None, *, speculative: bool
    ) -> AsyncGenerator[str, None]:
        st = self.settings
        has_large = st.escalation is not None and self.engines.large is not None
        r = route(
            t.transcript,
            st.devices,
            has_large=has_large and self.mode != "fast",
            previous=self.previous_path,
            intents=st.intents,
            asked=asked,
            last=self._last_command(),
        )
        if self.mode == "large" and has_large and r.path == "fast":
            r = Route("large", "mode_large")
        t.trace.mark(Mark.ROUTE)
        t.route, t.reason, t.path = r.path, r.reason, r.path
        if r.path == "fast":
            t.route = st.primary_route
        if r.path == "intent":
            assert r.intent is not None
            return self._intent(r.intent, t, speculative)
        if r.path == "large":
            return self._large(t)
        return self._llm_clauses(self.engines.llm, self.engines.llm_worker, st.fast, t)

    def _last_command(self) -> DeviceCommand | None:
        return self._lately(self._commanded, IT_WINDOW_S)

    def _open_question(self) -> Question | None:
        return self._lately(self._asked, ANSWER_WINDOW_S)

    def _lately(self, kept: tuple[_T, int] | None, window_s: float) -> _T | None:
        """What was kept (with its clock ns), if that was within the window."""
        if kept is None:
            return None
        thing, kept_ns = kept
        return thing if self.clock.now_ns() - kept_ns <= window_s * 1e9 else None

    async def _intent(
        self, intent: Intent, t: _Turn, speculative: bool
    ) -> AsyncGenerator[str, None]:
        """Carry the intent out and yield its one-line answer. A speculative turn (the user
        may not have finished) does nothing irreversible until the hold commits it: the
        action is sent, and the timer started, only when its answer is about to play. Both
        read the same wall-clock time, so a reminder goes off when its answer said."""
        ctx = IntentContext(self.wall_clock(), self.settings.devices, self.timers, self.actions)
        reply = intent.reply(ctx)
        t.intent_fields = intent.record()
        yield reply
        # The speaker asked for more: the confirmation has been handed over, so the turn
        # is committed (speech before the hold cancels the turn before this point).
        intent.act(ctx)
        if isinstance(intent, DeviceCommand):  # done, heard to its end or not
            self._commanded = (intent, self.clock.now_ns())
        t.asks = question(intent, t.transcript, reply)

    async def _large(self, t: _Turn) -> AsyncGenerator[str, None]:
        """The large model, with an acknowledgement when it will be slow and a fallback
        when it fails: to the fast model if nothing was said yet, else to an apology."""
        esc = self.settings.escalation
        large, worker = self.engines.large, self.engines.large_worker
        assert esc is not None and large is not None and worker is not None
        expected = self.large_first_clause_ms
        route_ns = self.clock.now_ns()
        # Start the model now: the acknowledgement may wait for the hold before it plays.
        answer = _ahead(self._llm_clauses(large, worker, esc.model, t))
        if expected is None or expected > esc.ack_after_ms:
            t.ack = True
            yield _Ack(esc.acknowledgement)
        spoken = 0
        try:
            async for clause in answer:
                if spoken == 0:
                    self._learn_large_latency((self.clock.now_ns() - route_ns) / 1e6)
                spoken += 1
                yield clause
        except LlmError as e:
            t.fallback = "fast" if spoken == 0 else "apology"
            t.large_error = str(e)
            log.warning("large model failed (%s): falling back to %s", e, t.fallback)
            if spoken == 0:
                t.reply.generated = ""
                fast = self.settings.fast
                async for clause in self._llm_clauses(
                    self.engines.llm, self.engines.llm_worker, fast, t
                ):
                    yield clause
            else:
                yield esc.apology
        finally:
            await answer.aclose()

    def _prefill_soon(self) -> None:
        """Between turns, have each model evaluate the conversation as the next turn will
        send it. Without this a turn re-reads the history after the memory forgot its
        oldest exchanges, or after the other model answered: measured 150-300 ms of
        first-token time on SmolLM2 (prefill runs at ~330 tokens/s on two cores)."""
        if self._prefilling is not None:
            self._prefilling.cancel()
        self._prefilling = asyncio.create_task(self._prefill(), name="prefill")

    async def _prefill(self) -> None:
        e, st = self.engines, self.settings
        models: list[tuple[ChatModel, Worker, str]] = [(e.llm, e.llm_worker, st.fast.system_prompt)]
        if e.large is not None and e.large_worker is not None and st.escalation is not None:
            models.append((e.large, e.large_worker, st.escalation.model.system_prompt))
        # One after the other: never two models on the two cores at once.
        for model, worker, system in models:
            t0 = self.clock.now_ns()
            messages = self._conversation(system)
            await worker.call(model.prefill, messages)
            log.debug(
                "prefilled %d messages in %.0f ms", len(messages), (self.clock.now_ns() - t0) / 1e6
            )

    def _conversation(self, system_prompt: str) -> list[Message]:
        """The system prompt and the remembered exchanges, as a model is sent them."""
        messages = [Message("system", system_prompt)]
        for ex in self.memory.history():
            messages += [Message("user", ex.user), Message("assistant", ex.assistant)]
        return messages

    async def settled(self) -> None:
        """Returns once the background prefill (if any) is done."""
        if self._prefilling is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._prefilling

    async def close(self) -> None:
        """Stop background work (the prefill, the timers)."""
        self.timers.close()
        if self._prefilling is not None:
            self._prefilling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prefilling

    def _learn_large_latency(self, ms: float) -> None:
        prev = self.large_first_clause_ms
        self.large_first_clause_ms = ms if prev is None else 0.7 * prev + 0.3 * ms

    async def _llm_clauses(
        self, llm: ChatModel, worker: Worker, ms: ModelSettings, t: _Turn
    ) -> AsyncGenerator[str, None]:
        trace, reply = t.trace, t.reply
        # A prefill still running (a question right after a reply) finishes first: it is
        # work this turn needs anyway, and two models at once would slow both.
        await self.settled()
        messages = [*self._conversation(ms.system_prompt), Message("user", t.transcript)]
        splitter, said = ClauseSplitter(self.settings.splitter), RepeatGuard()

        def new(clause: str) -> bool:
            if said.repeats(clause):
                log.info("reply ended: the model began to repeat %r", clause)
                return False
            trace.mark(Mark.FIRST_CLAUSE)
            return True

        tokens = worker.stream(
            lambda: llm.stream(messages, ms.max_reply_tokens),
            yield_to=self.engines.gate,
        )
        deadline_s, started = ms.first_token_s, False
        try:
            with _stage_errors(LlmError):
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
                    reply.generated += delta
                    for clause in splitter.feed(delta):
                        if not new(clause):
                            return  # (closing the stream stops the model)
                        yield clause
                    pending = splitter.pending
                    if any(c.isdigit() for c in delta) and runaway_number(pending):
                        # Not kept for the next turn either: the model would take it up.
                        log.info("reply ended: a number ran away in %r", pending)
                        reply.generated = reply.generated[: len(reply.generated) - len(pending)]
                        if splitter.emitted == 0 and new(NOT_SURE_SAY):
                            reply.generated = NOT_SURE_SAY
                            yield NOT_SURE_SAY
                        return
        finally:
            await tokens.aclose()
        for clause in splitter.flush():
            if not new(clause):
                return
            yield clause

    async def _speech(
        self,
        clauses: AsyncGenerator[str, None],
        trace: TurnTrace,
        reply: _Reply,
        commit: TurnGate | None,
    ) -> AsyncGenerator[Pcm16, None]:
        tts, gate = self.engines.tts, self.engines.gate
        started = False  # the reply's first audible sample went out

        def render(text: str) -> Iterator[Pcm16]:
            with gate.hold():
                yield from tts.synthesize(text)

        def audible(pcm: Pcm16) -> Pcm16:
            """Until the reply is heard, the silence a render starts with is dead air in
            the latency: dropped. (Later it is the pause between clauses: kept.)"""
            nonlocal started
            if not started:
                pcm = pcm[audible_start(pcm) :]
                started = pcm.size > 0
            return pcm

        try:
            async for clause in clauses:
                if not isinstance(clause, _Ack):
                    reply.clauses.append(clause)
                if (ready := self.engines.phrases.get(clause)) is not None:
                    trace.mark(Mark.TTS_FIRST_AUDIO)
                    pcm = audible(ready)  # (before the hold runs out, not after)
                    if commit is not None and not commit.is_committed:
                        await commit.wait()
                    if pcm.size:
                        yield pcm
                    continue
                audio = self.engines.tts_worker.stream(
                    lambda c=clause: render(c),  # type: ignore[misc]
                    on_stop=tts.interrupt,
                )
                try:
                    with _stage_errors(TtsError):
                        async for pcm in audio:
                            trace.mark(Mark.TTS_FIRST_AUDIO)
                            pcm = audible(pcm)
                            if commit is not None and not commit.is_committed:
                                await commit.wait()  # speculative: nothing plays before the hold
                            if pcm.size:
                                yield pcm
                finally:
                    await audio.aclose()
        finally:
            await clauses.aclose()


class _Ack(str):
    """A phrase said while the answer is coming (not part of the reply or the memory)."""

    __slots__ = ()


async def _ahead(gen: AsyncGenerator[str, None]) -> AsyncGenerator[str, None]:
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

    task = asyncio.create_task(pump())
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


def _first_sample(trace: TurnTrace, gate: TurnGate | None, ns: int) -> None:
    trace.mark(Mark.FIRST_SAMPLE, ns)
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
