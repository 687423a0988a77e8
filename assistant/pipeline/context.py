"""One turn's context: what it was given, what its stages found out, and the gate it shares
with the listener. The stages read and fill in a `Turn`; its record is built from it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.core.errors import StageError
from assistant.core.frames import Utterance
from assistant.core.intents import Question
from assistant.core.latency import AckWhy, Cut, Mark, Outcome, TurnTrace
from assistant.core.router import Path
from assistant.core.turn_end import Heard, Hold

Origin = Literal["voice", "text", "announce"]


class TurnGate:
    """What the listener and a running turn share: the listener commits the turn (its audio
    waits until then), the turn reports when its reply starts to sound."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.committed_ns: int | None = None
        self.first_sample_ns: int | None = None
        """When the first reply sample was handed to the device (set from its thread)."""
        self.hold: Hold | None = None
        """The hold that ended the utterance, and what decided it."""
        self.resumed = False
        """The user went on after an earlier commit: this turn is both halves."""
        self.superseded = False
        """The user went on after this commit: a later turn answers the whole."""
        self._settled = asyncio.Event()

    @property
    def is_speaking(self) -> bool:
        return self.first_sample_ns is not None

    def commit(self, now_ns: int, hold: Hold | None = None, *, resumable: bool = False) -> None:
        """The utterance is over: the reply may play. `resumable`: the user may still go on
        with it for a while (the listener settles the gate when they no longer can)."""
        if self.committed_ns is None:
            self.committed_ns = now_ns
            self.hold = hold
            self._event.set()
            if not resumable:
                self.settle()

    @property
    def is_committed(self) -> bool:
        return self.committed_ns is not None

    async def wait(self) -> None:
        await self._event.wait()

    def settle(self) -> None:
        """The user can no longer go on with this utterance (the window for it closed, or
        the microphone went deaf while the reply sounds): its actions may be carried out."""
        self._settled.set()

    async def settled(self) -> None:
        await self._settled.wait()


@dataclass
class Turn:
    """One turn, from what was heard to its record."""

    trace: TurnTrace
    origin: Origin
    # ------------------------------------------------ given (by the listener, for a voice turn)
    gate: TurnGate | None = None
    """Speculative until the gate is committed; reports when the reply starts to sound."""
    wake_phrase: str | None = None
    """The wake word was heard in this utterance: Whisper is told, and it is removed from
    the transcript."""
    on_transcript: Callable[[Heard], None] | None = None
    """Hears the transcript as soon as it is final and routed, with whether an intent took
    it as a whole request and whether its words end in part of a device's name (the
    end-pointer's hold depends on all three: `turn_end`)."""
    file: str | None = None
    """The record's `file` (the bench's WAV)."""
    dropped_frames: int | None = None
    """The record's `dropped_frames` (the listener's count for the utterance)."""
    # ------------------------------------------------ found out
    transcript: str = ""
    path: Path | None = None
    route: str = ""
    """What the record says answered: the path, or "large" for a pipeline whose own model
    is the large one, or "announce"."""
    reason: str = ""
    outcome: Outcome = "ok"
    error: str | None = None
    clauses: list[str] = field(default_factory=list)
    """What was said, clause by clause (cleaned up for speech)."""
    generated: str = ""
    """The language model's text exactly as it came (what the memory keeps)."""
    asks: Question | None = None
    """The question its reply asked (once it was said), for the next turn to answer."""
    cut: Cut | None = None
    """Why the reply was ended before the model ended it: it repeated a clause, looped on a
    phrase, or a number ran away (degenerate: not remembered), or it ran too long."""
    unsure: bool = False
    """The reply is the stand-in for an answer that could not be given ("not sure")."""
    ack: AckWhy | None = None
    fallback: Literal["fast", "apology"] | None = None
    large_error: str | None = None
    intent_fields: dict[str, Any] = field(default_factory=dict)
    """What the intent adds to the record (`Intent.record()`: TurnRecord field names)."""

    @property
    def reply(self) -> str:
        return " ".join(self.clauses)

    @property
    def remembered(self) -> str | None:
        """What the memory keeps of the reply, as the model will read it next turn: the
        text as generated (so its cache matches). Never what went wrong, which the models
        would read back as their own words and take up again: a reply cut for repeating a
        clause or for a runaway number is kept as it was said (its clauses are sound, the
        rest was never spoken); a loop, an apology, or the "not sure" that stands in for
        a failed answer is not kept at all. A reply cut for length is kept as said."""
        if self.cut == "loop" or self.fallback == "apology" or self.unsure:
            return None
        if self.cut is not None:
            return self.reply or None
        return self.generated or self.reply

    @property
    def speculative(self) -> bool:
        """Started at a pause: the user may not have finished (nothing irreversible yet)."""
        return self.gate is not None

    def heard_from(self, heard: Utterance | str) -> None:
        """Mark when the user stopped speaking (and the end-pointer decided so)."""
        if isinstance(heard, str):
            self.trace.mark(Mark.SPEECH_END)
        else:
            self.trace.mark(Mark.SPEECH_END, heard.speech_end_ns)
            self.trace.mark(Mark.ENDPOINT, heard.endpoint_ns)

    def first_sample(self, ns: int) -> None:
        """The reply's first sample went to the device (called from its thread)."""
        self.trace.mark(Mark.FIRST_SAMPLE, ns)
        if self.gate is not None and self.gate.first_sample_ns is None:
            self.gate.first_sample_ns = ns

    async def held(self) -> None:
        """Returns when the reply may sound: at once, or when the listener commits."""
        if self.gate is not None and not self.gate.is_committed:
            await self.gate.wait()


class Ack(str):
    """A phrase said while the answer is coming (not part of the reply or the memory)."""

    __slots__ = ()


@contextlib.contextmanager
def stage_errors(error: type[StageError]) -> Iterator[None]:
    """Inside a stage, anything but our own errors becomes that stage's error.
    (Cancellation is a BaseException and passes through untouched.)"""
    try:
        yield
    except StageError:
        raise
    except Exception as e:
        raise error(str(e)) from e
