"""The intent answer: the grammar's one-line reply, its action carried out once committed."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from datetime import datetime

from assistant.core.actions import ActionSink
from assistant.core.clock import Clock
from assistant.core.dialog import Dialog
from assistant.core.home import Home
from assistant.core.intents import DeviceAction, Intent, IntentContext, question
from assistant.core.intents.base import Timers
from assistant.pipeline.context import Turn


class AskedOnce:
    """The action sink as the turn found it when it answered: whether a device can be
    reached is asked once, so the action (after the hold) does what the answer said even if
    Home Assistant went or came back in between."""

    def __init__(self, sink: ActionSink) -> None:
        self.sink = sink
        self._away: dict[str, str | None] = {}

    def send(self, action: DeviceAction) -> None:
        self.sink.send(action)

    def unreachable(self, device: str) -> str | None:
        if device not in self._away:
            self._away[device] = self.sink.unreachable(device)
        return self._away[device]


class IntentAnswer:
    def __init__(
        self,
        home: Home,
        timers: Timers,
        actions: ActionSink,
        dialog: Dialog,
        clock: Clock,
        wall_clock: Callable[[], datetime],
    ) -> None:
        self.home, self.timers, self.actions = home, timers, actions
        self.dialog, self.clock, self.wall_clock = dialog, clock, wall_clock

    async def clauses(self, turn: Turn, intent: Intent) -> AsyncGenerator[str, None]:
        """Carry the intent out and yield its one-line answer. A speculative turn (the user
        may not have finished) does nothing irreversible until the hold commits it: the
        action is sent, and the timer started, only when its answer is about to play. Both
        read the same wall-clock time, so a reminder goes off when its answer said."""
        home, actions = self.home, AskedOnce(self.actions)
        ctx = IntentContext(self.wall_clock(), home.devices, self.timers, actions, home.readings)
        reply = intent.reply(ctx)
        turn.intent_fields = intent.record()
        yield reply
        # The speaker asked for more: the confirmation has been handed over, so the turn
        # is committed (speech before the hold cancels the turn before this point). If the
        # user may still go on ("... ten minutes | and a half"), the whole utterance decides:
        # the action waits until they can't (a resumed turn is cancelled here).
        if turn.gate is not None:
            await turn.gate.settled()
        intent.act(ctx)
        self.dialog.acted(intent, self.clock.now_ns())
        turn.asks = question(intent, turn.transcript, reply)
