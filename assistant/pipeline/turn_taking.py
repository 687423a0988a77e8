"""Whose turn it is: the hold at each pause, decided from evidence as it comes in (the
transcript when the speculative turn has it, the turn model's probability from its own
thread), and recovery when the user goes on after a commit (their audio is kept for a
window, so both halves are heard and answered together). The listener owns one."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Literal

import numpy as np

from assistant.core.clock import Clock
from assistant.core.endpoint import Endpointer, EndpointSettings, Start, looks_incomplete
from assistant.core.frames import AudioChunk
from assistant.core.levels import sound_onset
from assistant.core.turn_end import (
    Evidence,
    Heard,
    Hold,
    PauseHistory,
    TurnEndSettings,
    decide,
    said_whole,
)
from assistant.engines import TurnModels
from assistant.pipeline.context import TurnGate

log = logging.getLogger(__name__)

KEPT_AFTER_SPEECH_NS = 150_000_000
"""Of a committed utterance's silence, this much is kept before what the user says next."""
LEAD_BEFORE_SOUND_NS = 120_000_000
"""Of the silence before the user goes on, this much is kept before their sound's onset
(`sound_onset`), and before where the VAD heard speech start, whichever is earlier."""


OVER_ECHO_MIN_SPEECH_MS = 64
"""The least speech that is the user going on while the reply sounds with echo cancellation:
two VAD frames (a frame of the echo the canceller lets through is not the user; live through
the null sinks with the speaker looped back at -18 dB, a user going on was heard at one frame
or two; the stop takes ~30 ms longer with two)."""

OVER_ECHO_RANGE_DB = 20.0
"""Over the reply's echo, speech this far under the committed utterance's loudest part is
not the user going on. What AEC3 lets through while it learns a room sounds like speech to
the VAD, but it is far quieter than the user who spoke a moment ago (a reverberant room, the
echo 18 dB down: -50 dBFS, against a user at -13). In simulated rooms (`scripts/double-talk`:
the reply's first 1.5 s, ten replies in two voices, two rooms, four couplings, first and
later replies), utterances started on the echo alone in 33 of 320 replies without it, in 2
with it (both with the echo as loud as the user); the user going on was heard 157 and 160
times of 160."""


def starting(
    s: EndpointSettings,
    resume_ms: int,
    resuming: bool,
    over_echo: bool,
    loudest_db: float = -math.inf,
) -> Start:
    """What starts an utterance now. Outside the window after a commit, the end-pointer's
    own rule. In it, the user going on is speech continued: `resume_min_speech_ms` of frames
    at `neg_threshold`, the probability that keeps speech going, so the reply stops soon.
    On the pause corpus's splits (`assistant eot recover`, a first half with no filler),
    their utterance started p95 134 ms after their voice held out, 144 ms tuning, against
    146 and 156 at `threshold` (0.5); answered whole as often. 288 synthetic breaths, coughs,
    knocks, clicks, clatters and rustles started none at either (at 0.3, 4 of the 24
    clatters did). Over the reply's echo (echo cancellation, while it sounds),
    `OVER_ECHO_MIN_SPEECH_MS` at the full `threshold`, and within `OVER_ECHO_RANGE_DB` of
    `loudest_db`, the committed utterance's loudest part: what the canceller lets through of
    the echo is not the user. (Before the commit, speech in the pause resumes at `threshold`
    as ever: nothing plays yet, and the pauses are timed as measured.) The listener and
    `assistant eot recover` ask this."""
    if not resuming:
        return Start(s.min_speech_ms, s.threshold)
    if over_echo:
        return Start(
            max(resume_ms, OVER_ECHO_MIN_SPEECH_MS), s.threshold, loudest_db - OVER_ECHO_RANGE_DB
        )
    return Start(resume_ms, s.neg_threshold)


def kept(utterance: list[AudioChunk], speech_end_ns: int) -> list[AudioChunk]:
    """What is kept of a committed utterance, to go before what the user says next: its
    speech, and `KEPT_AFTER_SPEECH_NS` of the silence after, not the silence of the hold
    (joined to what the user says next, a long gap made Whisper drop or repeat words)."""
    keep_until = speech_end_ns + KEPT_AFTER_SPEECH_NS
    return [c for c in utterance if c.captured_ns < keep_until]


def joined(first: list[AudioChunk], rest: list[AudioChunk], start_ns: int) -> list[AudioChunk]:
    """The utterance the user went on with: what was `kept` of the committed one, then
    what they say now (`rest`: from its pre-roll; the VAD heard speech from `start_ns`),
    less the silence before their sound. A gap at the join makes Whisper hear two
    sentences: "what time is it [pause] in Tokyo" as "What time is it, then Tokyo?", "how
    tall is Mount Everest [pause] in feet" as "How tall is Mount Everest?" (`assistant eot
    recover`, the same scorer on the pause corpus's held-out splits: 100 of 119 answered
    whole with the pre-roll's silence kept, 110 with it cut; on the tuning splits, 194 of
    209 either way). Only silence is cut: the onset is looked for before `start_ns`, taken
    back through a softer rise before it (a fricative over room noise), and at least
    `LEAD_BEFORE_SOUND_NS` is kept before both. The pre-roll may also reach back into the
    silence the first half kept (a pause under ~450 ms): not twice."""
    kept_ns = first[-1].end_ns if first else 0
    rest = [c for c in rest if c.captured_ns >= kept_ns]
    if not rest:
        return first
    rate = rest[0].sample_rate_hz
    # Where the VAD's start falls in the rest's samples (the blocks' own times).
    start, at = 0, 0
    for c in rest:
        if c.end_ns > start_ns:
            start = at + max(0, (start_ns - c.captured_ns) * rate // 1_000_000_000)
            break
        at += len(c.samples)
    else:
        start = at
    # The onset on what the VAD hears (the echo taken out while a reply sounds).
    onset = sound_onset(np.concatenate([c.samples for c in rest])[:start], rate)
    cut = min(start if onset is None else onset, start) - LEAD_BEFORE_SOUND_NS * rate // 10**9
    trimmed = []
    for c in rest:
        if cut >= len(c.samples):
            cut -= len(c.samples)
            continue
        trimmed.append(c if cut <= 0 else _from(c, cut))
        cut = 0
    return first + trimmed


def _from(c: AudioChunk, skip: int) -> AudioChunk:
    """The chunk from its sample `skip` on."""
    return dataclasses.replace(
        c,
        samples=c.samples[skip:],
        for_asr=None if c.for_asr is None else c.for_asr[skip:],
        captured_ns=c.captured_ns + skip * 1_000_000_000 // c.sample_rate_hz,
    )


class TurnTaking:
    def __init__(
        self,
        endpointer: Endpointer,
        clock: Clock,
        settings: TurnEndSettings,
        *,
        models: TurnModels,
        resume_window_ms: int,
    ) -> None:
        self.endpointer, self.clock, self.settings = endpointer, clock, settings
        self.models = models
        """The end-of-turn models, each with its worker thread (none: the transcript alone
        decides)."""
        self.evidence = Evidence()
        """What is known at the pause in progress; decides its hold."""
        self.hold: Hold | None = None
        self._pause_no = 0
        """Counts pauses: a turn model's answer for an earlier one is stale."""
        self._answers: set[asyncio.Task[None]] = set()
        self.pauses = PauseHistory()
        """The user's own mid-sentence pauses this session."""
        self._window_ns = resume_window_ms * 1_000_000
        self.resume_until_ns = 0
        """Until then, speech goes on with the committed utterance."""
        self._committed: list[AudioChunk] | None = None
        """The audio of the utterance committed last, while it may still be resumed."""
        self.committed_peak_db = -math.inf
        """Its loudest 8 ms part (dBFS): how loud the user going on can be expected to be."""
        self._gone_on_from_db = -math.inf
        """The same, of the first half of the utterance in progress, which goes on from it."""
        self._went_on_over_echo = False
        """The utterance in progress is the user going on, heard over a reply's echo."""
        self._committed_over_echo = False
        """So was the one committed last."""

    # ------------------------------------------------------------------ the hold

    def paused(self, utterance: list[AudioChunk] | None, judge: bool) -> None:
        """A pause began: the hold is unsure until evidence comes in. `judge`: a turn was
        started for it (armed), so ask the turn model."""
        self._pause_no += 1
        self.evidence = Evidence()
        self._decide()
        # The audio model only runs where it may decide (`finished_p` below 1): at ~105 ms
        # of a core per pause, beside ASR, it cost ~40 ms of first audio when it did not.
        if judge and utterance and self.models.audio is not None and self.settings.finished_p < 1:
            self._judge(utterance)

    def resumed(self, silence_ns: int) -> None:
        """Speech before the hold ran out: a pause of this user's, for the history."""
        self._pause_no += 1
        self.pauses.add(silence_ns // 1_000_000)

    def heard(self, heard: Heard) -> None:
        """The speculative turn's transcript, as the turn understood it; then the text
        model's view of it (on its own thread)."""
        text, runs_on = heard.text, looks_incomplete(heard.text)
        self.evidence = dataclasses.replace(
            self.evidence,
            text=text,
            runs_on=runs_on,
            intent=heard.intent,
            part_name=heard.part_name,
        )
        self._decide()
        if self.models.text is not None and not runs_on and not said_whole(self.evidence):
            model, worker = self.models.text
            self._later(worker.call(model.end_log10, text), "text_end")

    def ended_without_pause(self) -> None:
        self.hold = None

    def _decide(self) -> None:
        m = self.models
        self.hold = decide(
            self.evidence, self.settings, self.pauses,
            audio=m.audio is not None and self.settings.finished_p < 1, text=m.text is not None,
        )  # fmt: skip
        self.endpointer.set_hold(self.hold.ms)

    def _judge(self, utterance: list[AudioChunk]) -> None:
        """Ask the audio turn model about the utterance so far, on its own thread."""
        assert self.models.audio is not None
        model, worker = self.models.audio
        audio = np.concatenate([c.heard for c in utterance])
        rate = utterance[0].sample_rate_hz
        self._later(worker.call(model.probability, audio, rate), "finished_p")

    def _later(self, answer: Awaitable[float], field: Literal["finished_p", "text_end"]) -> None:
        """A turn model's answer goes into the evidence for this pause when it comes (not
        if the pause has ended by then)."""
        pause = self._pause_no

        async def wait() -> None:
            try:
                value = await answer
            except Exception as e:  # the hold stays unsure; the turn goes on
                log.warning("turn model failed: %s", e)
                return
            if pause == self._pause_no:
                if field == "finished_p":
                    self.evidence = dataclasses.replace(self.evidence, finished_p=value)
                else:
                    self.evidence = dataclasses.replace(self.evidence, text_end=value)
                self._decide()

        task = asyncio.create_task(wait(), name=f"turn-model-{field}")
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    # ------------------------------------------------------------------ recovery

    def commit(
        self,
        gate: TurnGate,
        utterance: list[AudioChunk],
        speech_end_ns: int,
        on_window: Callable[[], None],
        peak_db: float = -math.inf,
    ) -> None:
        """The utterance is over (its loudest part `peak_db`). With recovery, the user may
        still go on for a while: its audio is kept, and the gate settles (actions may go
        out) when they no longer can. `on_window` is called when such a window opens
        (`resume_until_ns` is set)."""
        now = self.clock.now_ns()
        self.pauses.utterance_ended()
        resumable = self._window_ns > 0 and bool(utterance)
        gate.commit(now, self.hold, resumable=resumable)
        if resumable:
            self._committed = kept(utterance, speech_end_ns)
            # (The end-pointer measured only the second half of an utterance gone on with.)
            self.committed_peak_db = max(peak_db, self._gone_on_from_db)
            self._committed_over_echo = self._went_on_over_echo
            self.resume_until_ns = now + self._window_ns
            on_window()
            asyncio.get_running_loop().call_later(self._window_ns / 1e9, gate.settle)
        self._gone_on_from_db = -math.inf
        self._went_on_over_echo = False

    @property
    def going_on_level_db(self) -> float:
        """Near what level the user going on over the reply's echo is expected: that of the
        utterance committed last (`committed_peak_db`). Never, if that one already went on
        over a reply's echo: a second time in a row is more likely the echo again than the
        user. (What the canceller let through of one reply was answered, with its echo
        heard as the user's; that reply's echo went on with it, and so on: seven times in
        one live run, with the echo as loud as the user.)"""
        return math.inf if self._committed_over_echo else self.committed_peak_db

    def resuming(self, turn_running: bool) -> bool:
        """Is speech now the user going on with the utterance just committed (its reply
        not yet over)?"""
        return (
            self._committed is not None
            and turn_running
            and self.clock.now_ns() < self.resume_until_ns
        )

    def resume(
        self, voice_ns: int, output_latency_s: float, *, over_echo: bool
    ) -> list[AudioChunk]:
        """The user went on (their voice from `voice_ns`; `over_echo`: heard over the reply's
        echo): the committed utterance's audio, to go before what they say now (the listener
        stops the reply)."""
        # Stopped now; heard to stop once the device has played what it holds.
        late_ms = (self.clock.now_ns() - voice_ns) / 1e6 + output_latency_s * 1000
        log.info(
            "the user went on: the reply stops %.0f ms after their voice; both halves are one"
            " turn", late_ms,
        )  # fmt: skip
        committed, self._committed = self._committed or [], None
        self._gone_on_from_db = self.committed_peak_db
        self._went_on_over_echo = over_echo
        return committed

    def afresh(self) -> None:
        """An utterance started that does not go on from the committed one: what was known
        of one that went on (and was never committed: dropped, muted) is not its."""
        self._gone_on_from_db = -math.inf
        self._went_on_over_echo = False

    def forget_committed(self) -> None:
        self._committed = None
