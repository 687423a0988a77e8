"""Always listening: microphone chunks -> Silero VAD -> end-pointer -> turns.

At a pause the turn starts speculatively (see `endpoint.py`): its audio waits behind a
`TurnGate` that opens when the silence reaches the hold. Speech before then drops the
speculative turn and the utterance goes on. Half-duplex (an open speaker, no echo
cancellation): while a committed turn speaks (and for a short echo tail after), the
microphone is not heard at all; with echo cancellation (the default), only for the user
going on in the window after the commit. With barge-in,
speech during a reply cancels it and the speaker flushes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable

import numpy as np

from assistant.audio.vad import FRAME_SAMPLES, Reframer, SpeechDetector, feed_endpointer
from assistant.audio.wakeword import WakeWordDetector, WakeWordSettings
from assistant.audio.wav import Speaker
from assistant.core.clock import Clock
from assistant.core.endpoint import (
    Ended,
    Endpointer,
    EndpointSettings,
    Event,
    Paused,
    Resumed,
    SpeechStarted,
)
from assistant.core.frames import AudioChunk, Utterance
from assistant.core.latency import TurnRecord
from assistant.core.turn_end import Heard, TurnEndSettings
from assistant.engines import TurnModels
from assistant.pipeline.announcements import announce_between_turns
from assistant.pipeline.context import TurnGate
from assistant.pipeline.listening import ListenSettings, ListenState
from assistant.pipeline.turn import TurnRunner
from assistant.pipeline.turn_taking import TurnTaking, joined, starting

__all__ = ["ListenSettings", "ListenState", "Listener"]

log = logging.getLogger(__name__)

QUIET_EXTRA_FRAMES = 3
"""While nothing goes on, the listener is woken for the microphone's audio every ~0.1 s (the
next VAD frame and three more), not at every frame (~31 times a second) and every wake word
decision (~33 more, between them). Speech or the wake word is then seen up to 0.13 s after
its frame. The turn does not move: the audio is stamped when it was heard, the end of the
utterance (its silence hold) comes long after, and once speech is confirmed
(`min_speech_ms`) every block is taken as it comes. What does move is what is said of it:
the `listening` and `wake` states (MQTT, sd_notify) come up to 0.13 s later, and an
announcement first takes in what the microphone holds (`CATCH_UP_S`) so it does not start
over a user just begun. Idle, here (three 20 s runs each, back to back with the build
before): the wake word 5.95 -> 5.63 % of one core, the open mic 5.30 -> 5.23 % (the output
stream's callback wakes the process every 5 ms anyway; see `docs/service.md`)."""

CATCH_UP_S = 0.2
"""Before an announcement asks whether anyone speaks, the listener takes in what the
microphone holds: the audio up to that moment (less `CATCH_UP_SLACK_NS`, the block still
filling), or this long at most (a stalled microphone does not hold announcements up)."""
CATCH_UP_SLACK_NS = 10_000_000

WAKE_REFRACTORY_NS = 2_000_000_000
"""The detector fires on every block while it is sure; one wake word per 2 s is logged."""


class Listener:
    def __init__(
        self,
        runner: TurnRunner,
        vad: SpeechDetector,
        clock: Clock,
        *,
        settings: ListenSettings | None = None,
        endpoint: EndpointSettings | None = None,
        wake_settings: WakeWordSettings | None = None,
        dropped_frames: Callable[[], int] = lambda: 0,
        on_state: Callable[[ListenState], None] = lambda state: None,
        on_mute: Callable[[bool], None] = lambda muted: None,
        label: str | None = None,
        wake: WakeWordDetector | None = None,
        turn_end: TurnEndSettings | None = None,
        turn_models: TurnModels | None = None,
        echo_cancelled: bool = False,
    ) -> None:
        settings = settings or ListenSettings()
        self.runner, self.vad, self.settings, self.clock = runner, vad, settings, clock
        self.dropped_frames = dropped_frames
        self.on_state = on_state
        self.on_mute = on_mute
        """Told the mute every time it is set (MQTT's retained `mute` follows it)."""
        self.state = ListenState.IDLE
        """The state last told `on_state`."""
        self.wake = wake
        self._wake_heard_ns: int | None = None
        """Audio time of the end of the block the wake word was last heard in."""
        self._fed_until_ns = 0
        """The end of the last block fed (clock time)."""
        self._catching_up: tuple[int, asyncio.Event] | None = None
        """An announcement waiting for the blocks up to this time to be fed."""
        self._armed_until_ns = 0
        endpoint = endpoint or EndpointSettings()
        wake_settings = wake_settings or WakeWordSettings()
        self.echo_cancelled = echo_cancelled
        """The reply's echo is taken out of the microphone's audio (`audio/echo.py`)."""
        turn_end = turn_end or TurnEndSettings()
        if settings.half_duplex and not settings.barge_in and not echo_cancelled:
            # Deaf while the reply sounds: a user going on could not be heard then.
            turn_end = dataclasses.replace(turn_end, eager_ms=turn_end.half_duplex_eager_ms)
        self.endpointer = Endpointer(endpoint, hold_ms=turn_end.unsure_ms)
        self.taking = TurnTaking(
            self.endpointer, clock, turn_end,
            models=turn_models or TurnModels(), resume_window_ms=settings.resume_window_ms,
        )  # fmt: skip
        self._resumed = False
        """The utterance in progress goes on from a committed one."""
        self._awake_ns = int(wake_settings.awake_s * 1e9)
        """After the wake word (or a push-to-talk press), the question may start this late."""
        self._follow_up_ns = int(wake_settings.follow_up_s * 1e9)
        """With a wake word: after a reply, a follow-up needs none this long."""
        self.reframer = Reframer()
        # Speech is only confirmed min_speech_ms after it began (and a VAD frame or
        # three later), so keep that much more. Kept by audio time: blocks come in any size.
        ep = endpoint
        self._pre_roll_ns = ep.pre_roll_ms * 1_000_000
        self._keep_ns = (ep.pre_roll_ms + ep.min_speech_ms + 100) * 1_000_000
        self._pre_roll: deque[AudioChunk] = deque()
        self._utterance: list[AudioChunk] | None = None
        self._turn: asyncio.Task[TurnRecord] | None = None
        self._gate: TurnGate | None = None
        self._deaf_until_ns = 0
        self._drops_at_start = 0
        self.label = label
        """Goes into each turn record's `file` field (the bench's WAV file)."""
        self._muted = False
        self._press_heard = False
        """Muted, a push-to-talk press is heard: until its utterance ends or its time is up."""
        self._told_speaking: TurnGate | None = None
        self.want_now: Callable[[], None] = lambda: None
        """Told when something outside the audio (an announcement, a press, the mute) needs
        each block seen as it comes again, not only every ~0.1 s (`samples_wanted`)."""
        self.records: list[TurnRecord] = []
        """Records of the turns that ran to an end (not dropped speculation)."""

    # ------------------------------------------------------------------ audio in

    async def run(self, source: AsyncIterator[AudioChunk], speaker: Speaker) -> None:
        """Listen until the source ends (a file) or the task is cancelled (a microphone)."""
        self.speaker = speaker
        announcing = asyncio.create_task(self._announcements(), name="announcements")
        try:
            async for chunk in source:
                self.feed(chunk)
            self._flush()
            # A file has ended: let its last turn finish.
            if self._turn is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._turn
        finally:
            announcing.cancel()
            await self.cancel_turn()

    async def _announcements(self) -> None:
        """Timers that ran out are announced between turns, half-duplex like a reply: not
        over the user, not over a reply."""
        await announce_between_turns(
            self.runner.announcements,
            busy=lambda: self._turn is not None or self.endpointer.in_speech,
            say=self._announce,
            catch_up=self._catch_up,
        )

    async def _catch_up(self) -> None:
        """Take in what the microphone holds (a quiet one is read ~0.1 s at a time), so an
        announcement does not start over a user who began to speak a moment ago: until a
        block heard up to now has been fed (not a guessed wait, which a loaded loop can
        outlast)."""
        until_ns = self.clock.now_ns() - CATCH_UP_SLACK_NS
        if self._fed_until_ns >= until_ns:
            return
        caught_up = asyncio.Event()
        self._catching_up = (until_ns, caught_up)
        self.want_now()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CATCH_UP_S):
                    await caught_up.wait()
        finally:
            self._catching_up = None

    async def _announce(self, text: str, reason: str) -> None:
        self.want_now()
        gate = TurnGate()
        gate.commit(self.clock.now_ns())
        self._gate = gate
        self._turn = asyncio.create_task(
            self.runner.announce(text, self.speaker, gate=gate, reason=reason),
            name="announcement",
        )
        self._turn.add_done_callback(self._turn_done)
        await asyncio.wait({self._turn})  # (its cancellation is not ours)

    def feed(self, chunk: AudioChunk) -> None:
        self._fed_until_ns = chunk.end_ns
        if self._catching_up is not None and chunk.end_ns >= self._catching_up[0]:
            self._catching_up[1].set()
        gate = self._gate
        if gate is not None and gate.is_speaking and self._told_speaking is not gate:
            self._told_speaking = gate  # (checked every block: the device thread sets it)
            self._tell(ListenState.SPEAKING)
        if self.state is ListenState.WAKE or self._press_heard:
            self._check_awake()
        if self._muted and not self._press_heard:
            if self.endpointer.in_speech or self._utterance is not None:
                self._reset_listening()
            return
        if self._deaf(chunk):
            return
        self._pre_roll.append(chunk)
        while self._pre_roll[0].end_ns <= chunk.end_ns - self._keep_ns:
            self._pre_roll.popleft()
        if self.wake is not None and self.wake.process(chunk.samples):
            before_ns = self._wake_heard_ns
            if before_ns is None or chunk.end_ns - before_ns > WAKE_REFRACTORY_NS:
                log.info("wake word heard")
            self._wake_heard_ns = chunk.end_ns
            self._armed_until_ns = self.clock.now_ns() + self._awake_ns
            self._tell(ListenState.WAKE)
        if self._utterance is not None:
            self._utterance.append(chunk)
        resuming = self.taking.resuming(turn_running=self._turn is not None)
        ep = self.endpointer
        ep.start = starting(
            ep.s, self.settings.resume_min_speech_ms, resuming, self._over_echo,
            self.taking.going_on_level_db,
        )  # fmt: skip
        heard = feed_endpointer(
            self.vad, self.endpointer, self.reframer, chunk.samples, chunk.captured_ns
        )
        for _, _, event in heard:
            if event is not None:
                self._on_event(event)

    @property
    def _over_echo(self) -> bool:
        """The reply sounds, and its echo is cancelled: speech is heard over it."""
        return self.echo_cancelled and self._gate is not None and self._gate.is_speaking

    @property
    def quiet(self) -> bool:
        """Nothing is going on: nobody speaking, no turn, announcement or press, not muted."""
        return not (
            self.state is not ListenState.IDLE
            or self._turn is not None
            or self._gate is not None
            or self._muted
            or self._press_heard
            or self._utterance is not None
            or self.endpointer.in_speech
        )

    def samples_wanted(self) -> int:
        """How many more samples the listener can wait for before it must see them: while
        nothing is going on, until the VAD frame `QUIET_EXTRA_FRAMES` after the next is
        complete (the audio up to it is taken as before, every block in order). Else 1, each
        block as it comes (the silence hold runs out between frames; a reply's start makes
        the microphone deaf; the wake word's window runs out by the clock)."""
        if not self.quiet:
            return 1
        return max(1, self.reframer.samples_to_frame) + QUIET_EXTRA_FRAMES * FRAME_SAMPLES

    def _tell(self, state: ListenState) -> None:
        self.state = state
        self.on_state(state)

    def _check_awake(self) -> None:
        """The wake word or a push-to-talk press armed the microphone and no question began
        in time: say so (`idle`), or the state stays `wake` until something else happens.
        An utterance or a turn in progress says its own state when it ends."""
        if self.clock.now_ns() < self._armed_until_ns:
            return
        if self.endpointer.in_speech or self._utterance is not None or self._turn is not None:
            return
        self._press_heard = False
        if self.state is ListenState.WAKE:
            self._tell(ListenState.IDLE)

    def _deaf(self, chunk: AudioChunk) -> bool:
        """Half-duplex: is the assistant's reply sounding (or has it just stopped)?

        Keyed on the reply's first sample, not on the turn: a turn that is still thinking,
        or says nothing (the wake word alone), must not make the microphone deaf, or the
        start of the user's next words is lost. With echo cancellation the microphone is
        heard through the reply while the user may still go on with what they said (and
        throughout, with barge-in); after that, deaf as without it: a reply is not stopped by
        what is left of its own echo, or by a word to someone else in the room."""
        if self.settings.barge_in or not self.settings.half_duplex:
            return False
        now = self.clock.now_ns()
        speaking = self._gate is not None and self._gate.is_speaking
        if speaking:
            self._deaf_until_ns = now + self.settings.echo_tail_ms * 1_000_000
        if not (speaking or chunk.captured_ns < self._deaf_until_ns):
            return False
        if self.echo_cancelled and now < self.taking.resume_until_ns:
            return False
        if self._resumed and self._utterance is not None:
            return False  # the user went on (the reply stopped): heard to the end
        if self._gate is not None:
            self._gate.settle()  # deaf now: the user can no longer be heard going on
        if self.endpointer.in_speech or self._utterance is not None:
            self._reset_listening()
        return True

    def _reset_listening(self) -> None:
        self.endpointer.reset()
        self.vad.reset()
        self.reframer.reset()
        self._utterance = None
        self._pre_roll.clear()

    # ------------------------------------------------------------------ events

    def _on_event(self, event: Event) -> None:
        match event:
            case SpeechStarted(start_ns=start_ns):
                since = start_ns - self._pre_roll_ns
                self._utterance = [c for c in self._pre_roll if c.end_ns > since]
                if self.taking.resuming(turn_running=self._turn is not None):
                    first_half = self.taking.resume(
                        start_ns, self.speaker.output_latency_s, over_echo=self._over_echo
                    )
                    self._utterance = joined(first_half, self._utterance, start_ns)
                    if self._gate is not None:
                        self._gate.superseded = True
                    self._cancel_soon()
                    self._resumed = True
                else:
                    self.taking.afresh()
                    if self._turn is not None and self.settings.barge_in:
                        log.info("barge-in: the user spoke over the reply")
                        self._cancel_soon()
                self.taking.forget_committed()
                self._drops_at_start = self.dropped_frames()
                self._tell(ListenState.LISTENING)
            case Paused(speech_end_ns=end_ns):
                started = self._start_turn(end_ns)
                self.taking.paused(self._utterance, judge=started)
            case Resumed(silence_ns=silence_ns):
                self.taking.resumed(silence_ns)
                if self._gate is not None and not self._gate.is_committed:
                    self._cancel_soon()
                self._tell(ListenState.LISTENING)
            case Ended(speech_end_ns=end_ns, reason=reason, peak_db=peak_db):
                if self._gate is None or self._turn is None or self._turn.done():
                    self.taking.ended_without_pause()
                    self._start_turn(end_ns)  # no pause came first (e.g. max length)
                log.debug("end of utterance (%s, %s)", reason, self.taking.hold)
                utterance, self._utterance = self._utterance, None
                self._press_heard = False  # (muted: its one utterance is in)
                if self._gate is None:
                    self._tell(ListenState.IDLE)  # not armed: speech without the wake word
                    return
                self._commit(self._gate, utterance or [], end_ns, peak_db)
                self._tell(ListenState.THINKING)

    def _commit(
        self, gate: TurnGate, utterance: list[AudioChunk], speech_end_ns: int, peak_db: float
    ) -> None:
        self._resumed = False

        def window_open() -> None:  # going on needs no wake word
            if self.wake is not None:
                self._armed_until_ns = max(self._armed_until_ns, self.taking.resume_until_ns)

        self.taking.commit(gate, utterance, speech_end_ns, window_open, peak_db)

    @property
    def _wake_in_utterance(self) -> bool:
        """Was the wake word heard in the audio this utterance takes in? (The detector may
        fire before the VAD confirms speech: the pre-roll counts.)"""
        heard_ns, utterance = self._wake_heard_ns, self._utterance
        if not utterance or heard_ns is None:
            return False
        return heard_ns > utterance[0].captured_ns

    def _armed(self) -> bool:
        """May this utterance be a turn? Always without a wake word; with one, if it was
        heard in the utterance, or lately (awake or follow-up window)."""
        return (
            self.wake is None
            or self._wake_in_utterance
            or self.clock.now_ns() < self._armed_until_ns
        )

    def _start_turn(self, speech_end_ns: int) -> bool:
        """Start a turn on the utterance so far (speculative until committed); False if it
        is not one (nothing heard, or no wake word)."""
        if self._utterance is None or not self._armed():
            return False
        self._cancel_soon()
        audio = np.concatenate([c.heard for c in self._utterance])
        rate = self._utterance[0].sample_rate_hz
        utterance = Utterance(audio, rate, speech_end_ns, self.clock.now_ns())
        gate = TurnGate()

        gate.resumed = self._resumed

        def on_transcript(heard: Heard) -> None:
            if self._gate is gate and not gate.is_committed:
                self.taking.heard(heard)

        turn = self.runner.run(
            utterance,
            self.speaker,
            gate=gate,
            wake_phrase=self.wake.phrase if self.wake and self._wake_in_utterance else None,
            on_transcript=on_transcript,
            file=self.label,
            dropped_frames=self.dropped_frames() - self._drops_at_start,
        )
        self._gate = gate
        self._turn = asyncio.create_task(turn, name=f"turn-{self.runner.turns + 1}")
        self._turn.add_done_callback(self._turn_done)
        return True

    def _turn_done(self, task: asyncio.Task[TurnRecord]) -> None:
        if not task.cancelled():
            if (error := task.exception()) is not None:
                log.error("turn task failed", exc_info=error)
            else:
                self.records.append(task.result())
        if task is self._turn:
            spoke = self._gate is not None and self._gate.is_speaking
            self._turn = None
            self._gate = None
            if spoke:
                now = self.clock.now_ns()
                self._deaf_until_ns = now + self.settings.echo_tail_ms * 1_000_000
                if self.wake is not None:
                    self._armed_until_ns = max(self._armed_until_ns, now + self._follow_up_ns)
            self._tell(ListenState.IDLE)

    def cancel_soon(self) -> None:
        """Stop the turn (or announcement) in progress, now."""
        self._cancel_soon()

    def _cancel_soon(self) -> None:
        if self._turn is not None and not self._turn.done():
            self._turn.cancel()
        self._turn = None
        self._gate = None

    async def cancel_turn(self) -> None:
        turn = self._turn
        self._cancel_soon()
        if turn is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await turn

    @property
    def muted(self) -> bool:
        """Muted (MQTT `mute/set`): the microphone is not heard, but for a push-to-talk
        press's one utterance."""
        return self._muted

    @muted.setter
    def muted(self, muted: bool) -> None:
        self._muted = muted
        self._press_heard = False  # muted again during a press: the mute wins
        self.want_now()
        self.on_mute(muted)

    def push_to_talk(self, start: bool) -> None:
        """A push-to-talk button (MQTT `ptt/set`): `start` arms the microphone as the
        wake word would (the next utterance is a turn, wake word or not); `stop` ends the
        utterance in progress now instead of waiting for the silence hold."""
        self.want_now()
        if start:
            self._armed_until_ns = self.clock.now_ns() + self._awake_ns
            # Muted, a press hears its one utterance and leaves the mute as it was: in Home
            # Assistant a button is a moment and mute a standing switch (often an
            # automation's: at night, in a meeting), so a press must neither flip that
            # switch nor leave the microphone open after it. The state (wake, listening,
            # thinking...) shows meanwhile that it hears.
            self._press_heard = self._muted
            self._tell(ListenState.WAKE)
            return
        self._armed_until_ns = max(self._armed_until_ns, self.clock.now_ns() + 1_000_000_000)
        self._flush()

    def _flush(self) -> None:
        """The source ended mid-utterance: end it now."""
        event = self.endpointer.finish()
        if event is not None:
            self._on_event(event)
