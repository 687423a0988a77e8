"""How long to hold at a pause before the turn is over, decided per pause from evidence.

The end-pointer (`endpoint.py`) times the silence; this decides the hold it waits for. The
evidence: the text Whisper made of the utterance so far (a request an intent understood
whole, or words that plainly run on: "turn off the"), the audio (a turn model's probability
that the speaker has finished, which hears a voice that runs on where Whisper has already
put a full stop), and this user's own pauses in the session. Confident: commit after
`eager_ms`. Unsure: wait longer, up to `max_ms`. Pure policy: no audio, no models here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from annotated_types import Ge, Gt, Le, Lt

from assistant.core.intents import Device, Intent, ends_in_part_of_a_name


@dataclass(frozen=True, slots=True)
class TurnEndSettings:
    """A pipeline's `[turn_end]`: the hold from evidence; times in ms of silence."""

    eager_ms: Annotated[int, Ge(64), Le(2000)] = 200
    """The hold when the evidence says the turn is over, where the user can be heard
    going on while the reply sounds (headphones, echo cancellation: `[listen]`)."""
    half_duplex_eager_ms: Annotated[int, Ge(64), Le(2000)] = 500
    """The same where the microphone is deaf while the reply sounds: a user going on after
    a complete-looking half ("set a timer for ten minutes ... and thirty seconds") could
    not be heard, so the hold covers a hesitation (0.45 s is heard as at most 464 ms)."""
    unsure_ms: Annotated[int, Ge(64), Le(10_000)] = 2100
    """The hold when it does not say either way (or has not come in yet)."""
    max_ms: Annotated[int, Ge(64), Le(10_000)] = 2600
    """The hold when the words plainly run on, and the most a learned hold may grow to. Over
    2.46 s: the end-pointer heard a 2.0 s pause as up to 2448 ms (tuning set) and 2464 ms
    (held-out; p95 2.32 s), so at 2400 a 2.0 s pause after words that plainly run on was
    still cut off (2.9 % of unfinished halves held out, 1.6 % at 2600)."""
    finished_log10: Annotated[float, Lt(0)] = -3.0
    """The text model's log10 probability that the message ends here, at or above which
    the words say "finished"."""
    intent_log10: Annotated[float, Lt(0)] = -6.0
    """A request an intent understood whole, whose words end in part of a device's name
    ("open the garage", before "door"), is finished unless the text model puts it below
    this. With every slot said, an intent is not asked about: the text model is no judge
    of a request that ends in a number ("remind me to call mom at 6": -7.9, "at six":
    -5.4; "set the thermostat to 21": -9.4) or of "what's the time?" (-6.4)."""
    unfinished_log10: Annotated[float, Lt(0)] = -4.5
    """At or below this the words say "not finished" (the hold is `max_ms`)."""
    finished_p: Annotated[float, Gt(0), Le(1)] = 1.0
    """The audio turn model's probability at or above which the audio alone says
    "finished" (1.0: never; see `assistant eot` for why, on synthetic speech)."""
    learn_pauses: bool = True
    """Learn from the user's own pauses in this session: the unsure hold grows past their
    hesitations, and shrinks to `fluent_unsure_ms` once they have said `fluent_after`
    utterances without one (a first hesitation after that may be cut off: the price)."""
    fluent_after: Annotated[int, Ge(1)] = 3
    fluent_unsure_ms: Annotated[int, Ge(64), Le(10_000)] = 800

    def __post_init__(self) -> None:
        if not self.eager_ms <= self.unsure_ms <= self.max_ms:
            raise ValueError("need eager_ms <= unsure_ms <= max_ms")
        if not self.half_duplex_eager_ms <= self.unsure_ms:
            raise ValueError("need half_duplex_eager_ms <= unsure_ms")
        if not self.eager_ms <= self.fluent_unsure_ms <= self.max_ms:
            raise ValueError("need eager_ms <= fluent_unsure_ms <= max_ms")
        if not self.unfinished_log10 < self.finished_log10:
            raise ValueError("need unfinished_log10 < finished_log10")


@dataclass(frozen=True, slots=True)
class Evidence:
    """What is known about the utterance so far, at a pause."""

    text: str | None = None
    """Whisper's transcript, once ASR has run."""
    runs_on: bool = False
    """The text plainly runs on (`endpoint.looks_incomplete`)."""
    intent: bool = False
    """An intent understood the text as a whole request."""
    part_name: bool = False
    """The words end in part of a device's name (`ends_in_part_of_a_name`)."""
    finished_p: float | None = None
    """The audio turn model's probability, once it has run (None: not yet, or no model)."""
    text_end: float | None = None
    """The text turn model's log10 probability that the message ends here (None: not yet,
    or no model)."""


@dataclass(frozen=True, slots=True)
class Heard:
    """A speculative turn's transcript, as the turn understood it: what it tells the
    listener for the hold (`Evidence` gets all three)."""

    text: str
    intent: bool = False
    """An intent understood it as a whole request, every slot it needs said."""
    part_name: bool = False
    """Its words end in part of a device's name (`ends_in_part_of_a_name`)."""


def heard_of(text: str, intent: Intent | None, devices: Sequence[Device]) -> Heard:
    """What a transcript and the intent it was routed to (None: no intent) tell the hold.
    The one place it is made: the turn tells the listener this, and `assistant eot`
    records it for the sweep."""
    whole = intent is not None and intent.whole
    return Heard(text, intent=whole, part_name=whole and ends_in_part_of_a_name(text, devices))


@dataclass(frozen=True, slots=True)
class Hold:
    ms: int
    """Silence to wait for, from the end of speech."""
    by: str
    """Which evidence decided: "text runs on", "intent", "audio", "unsure", "waiting"."""


class PauseHistory:
    """The user's own pauses this session. Mid-sentence hesitations (speech that resumed
    before the hold ran out, after `HESITATION_MS` or more): a user who pauses 1.3 s between
    words gets an unsure hold past that. And how many utterances they have finished: a user
    who has said several without a hesitation is not kept waiting the full unsure hold."""

    def __init__(self, size: int = 20) -> None:
        self._pauses: deque[int] = deque(maxlen=size)
        self.utterances = 0

    def add(self, ms: int) -> None:
        if ms >= HESITATION_MS:
            self._pauses.append(ms)

    def utterance_ended(self) -> None:
        self.utterances += 1

    def typical_long_ms(self) -> int | None:
        """The second-longest of the recent hesitations (one outlier does not move it)."""
        if len(self._pauses) < 2:
            return None
        return sorted(self._pauses)[-2]

    def unsure_ms(self, s: TurnEndSettings) -> int:
        """The unsure hold for this user so far."""
        if not s.learn_pauses:
            return s.unsure_ms
        if (long_ms := self.typical_long_ms()) is not None:
            return min(s.max_ms, max(s.unsure_ms, long_ms + LEARNED_MARGIN_MS))
        longest = max(self._pauses, default=0)
        fluent = self.utterances >= s.fluent_after
        if fluent and longest + LEARNED_MARGIN_MS <= s.fluent_unsure_ms:
            return s.fluent_unsure_ms
        return s.unsure_ms


HESITATION_MS = 250
"""A pause between words this long or longer is a hesitation (shorter ones are the gaps of
fluent speech: a stop consonant, a breath)."""
LEARNED_MARGIN_MS = 300
"""A learned hold waits this much past the user's long pauses."""


def said_whole(ev: Evidence) -> bool:
    """An intent understood the request with every slot said: the hold is eager whatever a
    turn model says, so none needs asking."""
    return ev.text is not None and ev.intent and not ev.part_name


def decide(
    ev: Evidence,
    s: TurnEndSettings,
    history: PauseHistory | None = None,
    *,
    audio: bool = True,
    text: bool = True,
) -> Hold:
    """The hold for a pause, from the evidence so far. `audio`, `text`: those turn models
    run (their answers are waited for; without them the transcript decides alone)."""
    unsure = s.unsure_ms if history is None else history.unsure_ms(s)
    if ev.text == "":
        return Hold(s.eager_ms, "nothing said")  # (a cough, the wake word alone)
    if ev.text is not None and ev.runs_on:
        return Hold(s.max_ms, "text runs on")
    if said_whole(ev):
        return Hold(s.eager_ms, "intent")  # the text model is not waited for
    if ev.text is None or (text and ev.text_end is None):
        return Hold(unsure, "waiting")
    if ev.intent and (ev.text_end is None or ev.text_end >= s.intent_log10):
        return Hold(s.eager_ms, "intent")
    if ev.text_end is not None and ev.text_end <= s.unfinished_log10:
        return Hold(s.max_ms, "text unfinished")
    if ev.text_end is not None and ev.text_end >= s.finished_log10:
        return Hold(s.eager_ms, "text finished")
    if audio and s.finished_p < 1 and ev.finished_p is None:
        return Hold(unsure, "waiting")
    if ev.finished_p is not None and ev.finished_p >= s.finished_p:
        return Hold(s.eager_ms, "audio")
    return Hold(unsure, "unsure")
