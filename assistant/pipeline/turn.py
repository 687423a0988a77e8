"""One turn, streamed and overlapped: hear -> route -> answer (intent, fast model, or large
model) -> speech -> speaker, and a record at the end.

The stages (`pipeline/stages/`) are async generators chained by one task, the LLM generating
ahead on its own worker thread. Overlap is where it pays: the speaker takes clause n without
blocking and TTS renders clause n+1 while it plays, the LLM writing on meanwhile (it pauses
between tokens while TTS holds the CPU gate, so the clause the user is waiting for is
rendered on both cores). Cancelling the task running `TurnRunner.run` stops everything at
once: the worker streams stop at the next token or audio chunk and the speaker flushes what
it holds. A turn never hangs: every model path has deadlines (`stages/llm.py`) and the large
one a fallback (`stages/escalation.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from assistant.audio.wav import Speaker
from assistant.core.actions import ActionSink, LogActionSink
from assistant.core.clauses import SplitterSettings
from assistant.core.clock import Clock
from assistant.core.dialog import Dialog
from assistant.core.errors import AssistantError
from assistant.core.frames import Utterance
from assistant.core.home import Home
from assistant.core.intents import Device, Question
from assistant.core.latency import Mark, TurnRecord, TurnTrace, build_record
from assistant.core.memory import ConversationMemory
from assistant.core.router import wants_long
from assistant.core.turn_end import Heard, heard_of
from assistant.engines import Engines
from assistant.engines.llm import ChatModel
from assistant.engines.worker import Worker
from assistant.pipeline.context import Turn, TurnGate
from assistant.pipeline.stages import STAGE_NAMES
from assistant.pipeline.stages.escalation import Escalation, EscalationSettings
from assistant.pipeline.stages.hear import Hearing
from assistant.pipeline.stages.intent import IntentAnswer
from assistant.pipeline.stages.llm import ModelReply, ModelSettings
from assistant.pipeline.stages.prefill import Prefill
from assistant.pipeline.stages.speech import Speech
from assistant.pipeline.timers import Timers

record_log = logging.getLogger("assistant.turn")
"""One JSON line per turn, and nothing else: what `grep 'assistant.turn: '` reads."""
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TurnSettings:
    fast: ModelSettings
    """The pipeline's own model (llm.fast, or llm.large when the pipeline says so)."""
    splitter: SplitterSettings
    escalation: EscalationSettings | None = None
    """None: no large model; every non-intent turn goes to the fast one."""
    large: ModelSettings | None = None
    """The large model's prompt and deadlines: given with `escalation`, or neither."""
    devices: tuple[Device, ...] = ()
    stages: tuple[str, ...] = STAGE_NAMES
    """The stages this pipeline runs (`stages.STAGES`): without `intents` no turn is
    answered by the grammar, without `escalation` none goes to the large model."""
    primary_route: Literal["fast", "large"] = "fast"
    """What a turn on the primary model is recorded as: "large" when the pipeline's own
    model is `llm.large` (so records say which model answered)."""

    max_reply_s: float | None = None
    """A model's reply ends at the clause past this much speech (None: no bound)..."""
    long_reply_s: float | None = None
    """...or past this much when a long reply was asked for."""

    def __post_init__(self) -> None:
        if (self.escalation is None) != (self.large is None):
            raise ValueError("escalation and the large model's settings go together")


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
        large_first_clause_ms: Mapping[str, float] | None = None,
        home: Home | None = None,
    ) -> None:
        """`large_first_clause_ms`: how long the large model took to its first clause at
        warm-up, per routing reason ("default" for the rest): the acknowledgement's first
        estimate. `home`: the devices as they are found and what they report (default: the
        settings' devices, and nothing reported)."""
        self.memory, self.settings, self.clock = memory, settings, clock
        self.home = home if home is not None else Home(settings.devices)
        self.on_record = on_record
        self.announcements: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        """(text, reason) to say between turns, played by whoever owns the speaker (the
        listener, push-to-talk): timers that ran out, MQTT's `say`."""
        self.timers = Timers(
            clock, self.say_between_turns, wall_clock=lambda: wall_clock().astimezone(UTC)
        )
        self.turns = 0
        self.dialog = Dialog()
        self.prefill = Prefill()
        e = engines
        self.hearing = Hearing(e.asr, e.asr_worker)
        self.intents: IntentAnswer | None = None
        if "intents" in settings.stages:
            self.intents = IntentAnswer(
                self.home, self.timers, actions or LogActionSink(), self.dialog, clock,
                wall_clock,
            )  # fmt: skip

        def reply(
            model: ChatModel, worker: Worker, ms: ModelSettings, splitter: SplitterSettings
        ) -> ModelReply:
            return ModelReply(
                model, worker, ms, splitter,
                memory=memory, prefill=self.prefill, cpu=e.gate, clock=clock,
            )  # fmt: skip

        self.fast = reply(e.llm, e.llm_worker, settings.fast, settings.splitter)
        self.escalation: Escalation | None = None
        esc = settings.escalation
        large_ms = settings.large
        escalates = "escalation" in settings.stages
        if escalates and esc and large_ms and e.large is not None and e.large_worker is not None:
            first = min(settings.splitter.max_first_words, esc.max_first_words)
            splitter = dataclasses.replace(
                settings.splitter,
                min_first_words=min(settings.splitter.min_first_words, first),
                max_first_words=first,
            )
            large = reply(e.large, e.large_worker, large_ms, splitter)
            self.escalation = Escalation(
                large, self.fast, esc, clock, warm_up_ms=large_first_clause_ms
            )
        self.speech = Speech(e.tts, e.tts_worker, e.gate, e.phrases)

    async def run(
        self,
        heard: Utterance | str,
        speaker: Speaker,
        *,
        gate: TurnGate | None = None,
        wake_phrase: str | None = None,
        on_transcript: Callable[[Heard], None] | None = None,
        file: str | None = None,
        dropped_frames: int | None = None,
    ) -> TurnRecord:
        """Run one turn to its end and return its record (also logged as one JSON line).
        The keywords are the listener's (see `Turn`); a typed question needs none."""
        self.turns += 1
        origin: Literal["voice", "text"] = "voice" if isinstance(heard, Utterance) else "text"
        turn = Turn(
            TurnTrace(self.clock), origin, gate, wake_phrase, on_transcript, file, dropped_frames
        )
        async with self._ending(turn, speaker):
            asked = self.dialog.open_question(self.clock.now_ns())
            turn.transcript = await self.hearing.transcript(turn, heard, asked)
            if not turn.transcript:
                turn.outcome = "empty"
                if turn.on_transcript is not None:
                    turn.on_transcript(Heard(""))
            else:
                clauses = self._answer(turn, asked)
                audio = self.speech.audio(turn, clauses, self._max_reply_s(turn))
                await speaker.play(audio, on_first_sample=turn.first_sample)
                turn.trace.mark(Mark.DONE)
                self._said(turn)
        return self._finish(turn, speaker)

    @contextlib.asynccontextmanager
    async def _ending(self, turn: Turn, speaker: Speaker) -> AsyncIterator[None]:
        """How any turn (an announcement too) ends when it does not end well. A cancelled
        one is recorded and the cancellation goes on; a stage error or a bug ends the turn
        with its outcome, never the runner."""
        try:
            yield
        except asyncio.CancelledError:
            gate = turn.gate
            speculative = turn.origin != "announce" and gate is not None and not gate.is_committed
            superseded = gate is not None and gate.superseded
            turn.outcome = (
                "speculative" if speculative else "resumed" if superseded else "cancelled"
            )
            self._finish(turn, speaker)
            raise
        except AssistantError as e:
            turn.outcome, turn.error = "error", f"{e.code}: {e}"
            # A stage error is an expected outcome of a turn: one line, no traceback.
            log.error("turn %d failed: %s", self.turns, turn.error)  # noqa: TRY400
        except Exception as e:
            # A bug, not bad input: the traceback goes to the log, the process goes on.
            turn.outcome, turn.error = "error", f"internal: {e!r}"
            log.exception("turn %d failed", self.turns)

    def _answer(self, turn: Turn, asked: Question | None) -> AsyncGenerator[str, None]:
        """Route the transcript, and start the stage that answers it."""
        st = self.settings
        r = self.dialog.route_turn(
            turn.transcript,
            self.home.devices,
            intents=self.intents is not None,
            has_large=self.escalation is not None,
            asked=asked,
            now_ns=self.clock.now_ns(),
        )
        turn.trace.mark(Mark.ROUTE)
        turn.path, turn.reason = r.path, r.reason
        turn.route = st.primary_route if r.path == "fast" else r.path
        if turn.on_transcript is not None:
            intent = r.intent if self.intents is not None else None
            turn.on_transcript(heard_of(turn.transcript, intent, self.home.devices))
        if r.intent is not None and self.intents is not None:
            return self.intents.clauses(turn, r.intent)
        if r.path == "large" and self.escalation is not None:
            return self.escalation.clauses(turn)
        return self.fast.clauses(turn)

    def _max_reply_s(self, turn: Turn) -> float | None:
        """How much a model may say (an intent's answer is one line)."""
        if turn.path == "intent":
            return None
        st = self.settings
        return st.long_reply_s if wants_long(turn.transcript) else st.max_reply_s

    def _said(self, turn: Turn) -> None:
        """The turn was said to its end: the dialog and the memory move on."""
        self.dialog.said(turn.path, turn.asks, self.clock.now_ns())
        if turn.path != "intent":
            if (remembered := turn.remembered) is not None:
                self.memory.add(turn.transcript, remembered)
            else:
                log.info("not remembered: the reply went wrong (%s)", turn.cut or turn.fallback)
            self.prefill.soon(self._models())

    def _models(self) -> Sequence[ModelReply]:
        if self.escalation is None:
            return [self.fast]
        return [self.fast, self.escalation.large]

    def forget(self) -> None:
        """Start a new conversation: the memory and the dialog state are cleared."""
        self.memory.clear()
        self.dialog.forget()

    def say_between_turns(self, text: str, reason: str) -> None:
        self.announcements.put_nowait((text, reason))

    async def announce(
        self, text: str, speaker: Speaker, *, gate: TurnGate | None = None, reason: str = "timer"
    ) -> TurnRecord:
        """Say something nobody asked for just now (a timer that ran out), as a turn of its
        own: the listener keeps the microphone deaf while it plays, and it gets a record."""
        self.turns += 1
        turn = Turn(TurnTrace(self.clock), "announce", gate, route="announce", reason=reason)
        turn.trace.mark(Mark.SPEECH_END)
        async with self._ending(turn, speaker):
            await speaker.play(
                self.speech.audio(turn, _one(text)), on_first_sample=turn.first_sample
            )
            turn.trace.mark(Mark.DONE)
        return self._finish(turn, speaker)

    def _finish(self, turn: Turn, speaker: Speaker) -> TurnRecord:
        trace = turn.trace
        if turn.gate is not None and turn.gate.committed_ns is not None:
            trace.mark(Mark.COMMIT, turn.gate.committed_ns)
        record = build_record(
            trace,
            turn=self.turns,
            origin=turn.origin,
            transcript=turn.transcript,
            reply=turn.reply,
            route=turn.route,
            reason=turn.reason,
            outcome=turn.outcome,
            output_latency_ms=speaker.output_latency_s * 1000,
            error=turn.error,
            file=turn.file,
        )
        gate_hold = turn.gate.hold if turn.gate is not None else None
        record = dataclasses.replace(
            record,
            dropped_frames=turn.dropped_frames,
            ack=turn.ack,
            fallback=turn.fallback,
            large_error=turn.large_error,
            cut=turn.cut,
            hold_ms=None if gate_hold is None else gate_hold.ms,
            end_by=None if gate_hold is None else gate_hold.by,
            resumed=True if turn.gate is not None and turn.gate.resumed else None,
            **turn.intent_fields,
        )
        # Dropped speculation, or a first half the user went on from, is routine: kept out
        # of the INFO log (the turn that answers says `resumed`).
        level = logging.DEBUG if record.dropped else logging.INFO
        record_log.log(level, "%s", record.to_json())
        if self.on_record is not None:
            self.on_record(record)
        return record

    async def settled(self) -> None:
        """Returns once the background prefill (if any) is done."""
        await self.prefill.settled()

    async def close(self) -> None:
        """Stop background work (the prefill, the timers)."""
        self.timers.close()
        await self.prefill.close()


async def _one(text: str) -> AsyncGenerator[str, None]:
    yield text
