"""The assistant's questions, answered in a word or two: after "Which one: the bedroom lights
or the bedroom fan?" the next turn may say "the fan", "yes", "both" or "never mind"; after
"When should I remind you?", "at six"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from assistant.core.intents.base import Device, IntentBase, IntentContext, normalize
from assistant.core.intents.devices import KIND_WORDS, WhichDevice
from assistant.core.intents.reminders import Reminder

NEVER_MIND_SAY = "Okay."


@dataclass(frozen=True, slots=True)
class NeverMind(IntentBase):
    """ "No" or "never mind" for an answer to the assistant's question: nothing is done."""

    name: ClassVar[str] = "never_mind"

    def reply(self, ctx: IntentContext) -> str:
        return NEVER_MIND_SAY


IT_WINDOW_S = 300.0
"""How long after a device command "it" and "them" mean its devices ("turn it off")."""
ANSWER_WINDOW_S = 30.0
"""How long after the assistant asked a question ("Which one: ...?") the next turn may
answer it in a word or two."""

_YES = re.compile(r"^(?:yes|yeah|yep|yup|sure|correct|right|that one|do it|please do)$")
ALL_ANSWER = re.compile(r"^(?:both|all|each|every one|(?:both|all|each) of them|all of it)$")
NEVER_MIND = re.compile(
    r"^(?:no|nope|neither|none|nothing|never ?mind|cancel|forget it|no thanks)$"
)
_FILLER = frozenset(("the", "my", "one", "a"))


@dataclass(frozen=True, slots=True)
class Question:
    """A question an intent's reply asked: which device ("turn off the bedroom"), or when
    to remind ("remind me to call mom"). The next turn may answer it alone: "the fan",
    "yes", "at six", "never mind"."""

    asked: WhichDevice | Reminder
    command: str
    """The user's command that asked it, as `match_intent` read it: the answer completes
    it."""
    words: str
    """The question as the assistant said it: speech recognition is told it came just
    before the answer ("the fan", not "the pan")."""


def offered_device(text: str, offered: Sequence[Device]) -> Device | None:
    """The one offered device the answer names: "yes" for the only one; else the one
    whose name, room and kind words hold all its words ("the fan", "bedroom lights")."""
    if _YES.match(text):
        return offered[0] if len(offered) == 1 else None
    words = set(text.split()) - _FILLER
    if not words:
        return None
    fit = [
        d
        for d in offered
        if words
        <= {w for n in (*d.spoken_names(), normalize(d.room or "")) for w in n.split()}
        | set(KIND_WORDS[d.kind])
    ]
    return fit[0] if len(fit) == 1 else None
