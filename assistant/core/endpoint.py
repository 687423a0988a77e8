"""End-pointing as a pure state machine over per-frame speech probabilities.

Two thresholds of silence matter. At `pause_ms` the utterance *may* be over: the listener
starts the turn speculatively (ASR, LLM and TTS run while the user is silent). At the hold
(decided per pause from evidence: `turn_end.py`) it *is* over and the reply may play.
Speech before the hold resumes the utterance and the speculative turn is dropped, so a
natural hesitation never splits a sentence, and the hold costs little: the reply is being
prepared while it runs. No audio, no asyncio here.

The VAD says whether the user is speaking; the levels of each frame's four 8 ms parts,
when the caller gives them, say where the sound starts and stops. By itself the VAD heard a
0.45 s pause as anything from 416 to 672 ms, depending on the words and on where the speech
fell in its 32 ms frames: it lets a fading last consonant go early (a final "s" through
PulseAudio's resampling: 200 ms of it that it did not call speech), calls a softly opening
word ("and", "the") speech a frame or three late, and, remembering the speech in its state,
goes on calling a frame or two of digital silence speech. So silence is timed from the end
of the last part that is sound: within `sound_range_db` of the utterance's loudest (and 10
dB above the room's noise), up to `sound_edge_ms` after the VAD's last speech frame, or
inside what the VAD calls speech, at least audible over the noise. Sound in a pause makes
the end wait for the VAD to decide, at most `sound_edge_ms` once per pause: steady noise
costs little; noise that hides the quiet edges of words grows the hold instead, as they
make a pause sound longer than it was. That end of the sound is also the end of speech a
turn's latency is timed from: the latency probe's rule on the played file puts it within
~4 ms of there (`scripts/hesitation-sweep` has the figures for the pause).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated

from annotated_types import Ge, Gt, Le, Lt

from assistant.core.levels import RANGE_DB

ABOVE_NOISE_DB = 10.0
"""Sound must stand this far above the room's noise."""
AUDIBLE_DB = 6.0
"""Within what the VAD calls speech, a part of a frame this far above the room's noise
still counts as sound (speech can be soft)."""
DEFAULT_HOLD_MS = 500
"""The hold when nothing sets one (a pause of 0.45 s is heard as 440-464 ms of silence, a
0.5 s one as 488-512: `scripts/hesitation-sweep`). The listener sets each pause's from
evidence (`turn_end.py`)."""
NOISE_FOLLOW = 0.05
"""How fast the noise estimate follows the level between utterances, per 32 ms frame
(about 0.6 s to come most of the way)."""


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    """End-pointing (a pipeline's `[endpoint]`); times in ms. Silero's frames are 32 ms."""

    threshold: Annotated[float, Gt(0), Lt(1)] = 0.5
    """Speech probability at or above which a frame is speech."""
    neg_threshold: Annotated[float, Gt(0), Lt(1)] = 0.35
    """Below this a frame is silence (in between, the current state holds). In the window
    after a commit, the user going on starts at it (`turn_taking.starting`)."""
    min_speech_ms: Annotated[int, Ge(32), Le(2000)] = 120
    """Shorter bursts (a click, a cough) do not start an utterance."""
    pause_ms: Annotated[int, Ge(64), Le(5000)] = 100
    """Silence after which the turn starts speculatively (ASR at once)."""
    max_utterance_ms: Annotated[int, Ge(1000), Le(60_000)] = 15_000
    pre_roll_ms: Annotated[int, Ge(0), Le(2000)] = 300
    """Audio kept from before the speech started, so the first syllable is never lost."""
    sound_range_db: Annotated[float, Gt(0)] = RANGE_DB
    """A frame this close to the utterance's loudest is sound (the probe's rule)."""
    sound_edge_ms: Annotated[int, Ge(0), Le(2000)] = 250
    """Sound the VAD does not call speech still delays the hold up to this long after the
    VAD's last speech frame (a final "s" can fade for 200 ms), and sound in a pause makes
    the end wait up to this long for the VAD (an opening "s" is as long)."""
    masked_ms_per_db: Annotated[float, Ge(0)] = 8.0
    """In a noisy room sound must stand `ABOVE_NOISE_DB` over the noise, which can be
    above the level `sound_range_db` sets: the soft ends and starts of words are lost in
    the noise, and a pause is heard longer than it was. The hold grows by this much per dB
    the noise lifts that threshold (`scripts/hesitation-sweep --noise-dbfs`: in pink noise
    at -50 to -30 dBFS a 0.45 s pause was heard as up to 712 ms; the grown hold split none
    of the 5632 sentences)."""

    def __post_init__(self) -> None:
        if not self.neg_threshold <= self.threshold:
            raise ValueError("neg_threshold must not exceed threshold")
        if self.pause_ms > DEFAULT_HOLD_MS:
            raise ValueError(f"pause_ms must not exceed the hold ({DEFAULT_HOLD_MS} ms)")


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    start_ns: int


@dataclass(frozen=True, slots=True)
class Paused:
    speech_end_ns: int
    """Audio time at which the speech stopped (the end of its sound, as far as known)."""


@dataclass(frozen=True, slots=True)
class Resumed:
    silence_ns: int = 0
    """How long the pause was: from the end of speech to the first sound after it."""


@dataclass(frozen=True, slots=True)
class Ended:
    speech_end_ns: int
    reason: str
    """"silence" or "max_length"."""
    peak_db: float = field(default=-math.inf, compare=False)
    """The utterance's loudest 8 ms part (dBFS; -inf where no levels came)."""


Event = SpeechStarted | Paused | Resumed | Ended


class _State(Enum):
    IDLE = "idle"
    SPEECH = "speech"


@dataclass(frozen=True, slots=True)
class Start:
    """What starts an utterance: `min_speech_ms` of frames at `threshold` or above, and,
    where their levels are known, each with a part at `min_level_db` (dBFS) or louder."""

    min_speech_ms: int
    threshold: float
    min_level_db: float = -math.inf


class Endpointer:
    def __init__(
        self, settings: EndpointSettings | None = None, hold_ms: int = DEFAULT_HOLD_MS
    ) -> None:
        """`hold_ms`: the hold at each pause until `set_hold` says otherwise."""
        self.s = settings or EndpointSettings()
        self.default_hold_ms = hold_ms
        self.hold_ms = hold_ms
        self.start = Start(self.s.min_speech_ms, self.s.threshold)
        """What starts an utterance (the listener eases it while the user may be going on
        with one it committed: the reply must stop quickly)."""
        self._floor_db = -100.0  # the room's noise, followed between utterances: kept
        self.reset()

    def reset(self) -> None:
        """Forget the utterance in progress (not the room's noise)."""
        self._state = _State.IDLE
        self._candidate_ns: int | None = None  # start of a burst not yet long enough
        self._start_ns = 0
        self._last_voiced_end_ns = 0
        self._paused = False
        self.hold_ms = self.default_hold_ms
        self._peak_db = -math.inf  # the utterance's loudest voiced frame, once levels come
        self._sound_end_ns = 0  # the same, or the end of the sound that followed it
        self._onset_ns: int | None = None  # sound in this pause, not yet called speech
        self._onset_spent = False  # this pause had its wait already

    @property
    def in_speech(self) -> bool:
        return self._state is _State.SPEECH

    def set_hold(self, ms: int) -> None:
        """The hold for the pause in progress (`turn_end.decide`: from the evidence so far);
        the next pause starts from the default again."""
        self.hold_ms = ms

    def update(
        self,
        prob: float,
        start_ns: int,
        end_ns: int,
        level_db: float | Sequence[float] | None = None,
    ) -> Event | None:
        """Feed one frame's speech probability with its audio start and end times, and
        its level (dBFS) if known: one figure, or the levels of its equal parts in order,
        which place the edges of the sound within the frame."""
        parts = _parts(start_ns, end_ns, level_db)
        if self._state is _State.IDLE:
            return self._idle(prob, start_ns, end_ns, parts)
        return self._speech(prob, start_ns, end_ns, parts)

    @property
    def awaiting_hold(self) -> bool:
        """In a pause, waiting for the hold to run out (when `tick` can end the utterance)."""
        return self._state is _State.SPEECH and self._paused

    def tick(self, end_ns: int, level_db: float) -> Ended | None:
        """The audio after the last frame, up to `end_ns`, and its level: ends the
        utterance as soon as the hold has run, not at the next frame's end. Sound in it
        leaves the decision to that frame."""
        if not self.awaiting_hold:
            return None
        if self._sound(level_db) or self._onset_ns is not None:
            return None
        if end_ns - self._sound_end_ns >= self._hold_ns():
            return self._end("silence")
        return None

    def _sound_db(self) -> float:
        """The level from which a part of a frame is sound: within the utterance's range
        of its loudest, and above the room's noise."""
        return max(self._peak_db - self.s.sound_range_db, self._floor_db + ABOVE_NOISE_DB)

    def _masked_db(self) -> float:
        """How far the room's noise lifts that level above the utterance's own range: the
        quiet edges of words that far down are lost in the noise."""
        if self._peak_db == -math.inf:
            return 0.0  # no levels: nothing is hidden that would have been heard
        return self._sound_db() - (self._peak_db - self.s.sound_range_db)

    def _hold_ns(self) -> int:
        """The hold, grown by what the noise hides of the edges of the pause."""
        return int((self.hold_ms + self.s.masked_ms_per_db * self._masked_db()) * 1e6)

    def _sound(self, level_db: float | None) -> bool:
        return level_db is not None and level_db >= self._sound_db()

    def _idle(self, prob: float, start_ns: int, end_ns: int, parts: list[_Part]) -> Event | None:
        if parts:
            started = self._candidate_ns is not None
            loudest = max(part.level_db for part in parts)
            self._peak_db = max(self._peak_db, loudest) if started else loudest
        if prob < self.start.threshold:
            self._candidate_ns = None
            if (level_db := _overall_db(parts)) is not None:  # the room's noise, slowly
                self._floor_db += NOISE_FOLLOW * (level_db - self._floor_db)
            return None
        if parts and loudest < self.start.min_level_db:
            self._candidate_ns = None  # speech, too quiet to be the speech wanted
            return None
        if self._candidate_ns is None:
            self._candidate_ns = start_ns
        if end_ns - self._candidate_ns >= self.start.min_speech_ms * 1_000_000:
            self._state = _State.SPEECH
            self._start_ns = self._candidate_ns
            self._last_voiced_end_ns = end_ns
            self._paused = False
            self.hold_ms = self.default_hold_ms
            self._voiced(end_ns)
            return SpeechStarted(self._start_ns)
        return None

    def _voiced(self, sound_end_ns: int) -> None:
        """A frame the VAD calls speech, whose sound ends at `sound_end_ns`."""
        self._sound_end_ns = sound_end_ns
        self._onset_ns, self._onset_spent = None, False

    def _sound_end_in(self, end_ns: int, parts: list[_Part], sounding: list[_Part]) -> int:
        """Where the sound of a frame the VAD calls speech ends."""
        if not parts:
            return end_ns  # no levels: the VAD's word
        # Silero's state remembers the speech for a frame or two after it stops (a frame
        # of digital silence at p=0.57): what is not audible over the noise does not count.
        audible = self._floor_db + AUDIBLE_DB
        heard = sounding or [part for part in parts if part.level_db >= audible]
        if heard:
            return heard[-1].end_ns
        # Speech again after a pause, too soft to place: all of it.
        return end_ns if self._paused else self._sound_end_ns

    def _speech(self, prob: float, start_ns: int, end_ns: int, parts: list[_Part]) -> Event | None:
        if end_ns - self._start_ns >= self.s.max_utterance_ms * 1_000_000:
            return self._end("max_length")
        sounding = [part for part in parts if self._sound(part.level_db)]
        # Hysteresis: within speech a weaker frame still counts; after a pause only a
        # confident one resumes the utterance.
        if prob >= (self.s.threshold if self._paused else self.s.neg_threshold):
            first_sound_ns = sounding[0].start_ns if sounding else start_ns
            onset_ns = first_sound_ns if self._onset_ns is None else self._onset_ns
            silence_ns = onset_ns - self._sound_end_ns
            self._last_voiced_end_ns = end_ns
            self._voiced(self._sound_end_in(end_ns, parts, sounding))
            if parts:
                self._peak_db = max(self._peak_db, *(part.level_db for part in parts))
            if self._paused:
                self._paused = False
                self.hold_ms = self.default_hold_ms
                return Resumed(silence_ns)
            return None
        edge_ns = self.s.sound_edge_ms * 1_000_000
        # A fading end of the last word does not delay the pause (the speculative start),
        # only the hold, which decides whether the user is done, and the end of speech.
        for part in sounding:
            if self._onset_ns is None and part.end_ns - self._last_voiced_end_ns <= edge_ns:
                self._sound_end_ns = part.end_ns  # the fading end of the last word
            elif self._onset_ns is None and not self._onset_spent:
                self._onset_ns = part.start_ns
        if self._onset_ns is not None and end_ns - self._onset_ns > edge_ns:
            self._onset_ns, self._onset_spent = None, True  # not speech after all
        hold_ns = self._hold_ns()
        if end_ns - self._sound_end_ns >= hold_ns:
            waiting_for_vad = (
                self._onset_ns is not None and self._onset_ns - self._sound_end_ns < hold_ns
            )
            if waiting_for_vad:
                return None
            return self._end("silence")
        # The pause starts the turn early on whichever says silence first: the VAD, or
        # the sound, which Silero's state outlasts by a frame or two.
        silence_ms = (end_ns - min(self._last_voiced_end_ns, self._sound_end_ns)) / 1_000_000
        if not self._paused and silence_ms >= self.s.pause_ms:
            self._paused = True
            return Paused(self._sound_end_ns)
        return None

    def finish(self) -> Ended | None:
        """The input ended: end the utterance in progress, if any."""
        return self._end("end_of_input") if self._state is _State.SPEECH else None

    def _end(self, reason: str) -> Ended:
        end = self._sound_end_ns
        self._state = _State.IDLE
        self._candidate_ns = None
        self._paused = False
        return Ended(end, reason, self._peak_db)


@dataclass(frozen=True, slots=True)
class _Part:
    start_ns: int
    end_ns: int
    level_db: float


def _parts(start_ns: int, end_ns: int, level_db: float | Sequence[float] | None) -> list[_Part]:
    if level_db is None:
        return []
    levels = [level_db] if isinstance(level_db, int | float) else list(level_db)
    step = (end_ns - start_ns) // max(len(levels), 1)
    return [
        _Part(
            start_ns + i * step, end_ns if i == len(levels) - 1 else start_ns + (i + 1) * step, lv
        )
        for i, lv in enumerate(levels)
    ]


def _overall_db(parts: list[_Part]) -> float | None:
    """The frame's level from its equal parts' levels (the mean of their powers)."""
    if not parts:
        return None
    power = sum(10 ** (part.level_db / 10) for part in parts) / len(parts)
    return 10 * math.log10(max(power, 1e-20))


_RUNS_ON = re.compile(
    r"\b(the|a|an|to|of|and|or|but|for|with|in|on|at|my|your|is|are|was|what's|what|"
    r"how|which|who|whether|because|so|then|um|uh|er|if|from|into|about|than)$"
)


def looks_incomplete(transcript: str) -> bool:
    """True when a partial transcript plainly runs on: it ends in a word that cannot end a
    sentence, or with a trailing ellipsis or comma."""
    text = transcript.strip().lower()
    if not text:
        return True
    if text.endswith(("...", "…", ",", "-")):
        return True
    return bool(_RUNS_ON.search(re.sub(r"[^a-z0-9' ]+", " ", text).strip()))
