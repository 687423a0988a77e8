"""What it has no means to do (the weather, music): said plainly, rather than let a small
model pretend it did."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Literal

from assistant.core.intents.base import IntentBase, IntentContext

CANNOT_SAY = {
    "weather": "Sorry, I can't check the weather: I work offline.",
    "media": "Sorry, I can't play music or audio.",
}


@dataclass(frozen=True, slots=True)
class CannotDo(IntentBase):
    """Something people ask a voice assistant that this one has no means to do (it is
    offline and has no media player): say so plainly, rather than let a small model
    pretend it did ("I'm playing relaxing music", a made-up forecast)."""

    what: Literal["weather", "media"]
    name: ClassVar[str] = "cannot"

    def reply(self, ctx: IntentContext) -> str:
        return CANNOT_SAY[self.what]


WEATHER = re.compile(
    r"\b(?:weather|forecast)\b|\b(?:is it|will it|is it going to) "
    r"(?:rain|snow|be (?:sunny|cold|hot|warm|windy))\b"
)
ASKS_WHY = re.compile(
    r"^(?:(?:can|could|would) you )?(?:please )?(?:explain|describe)\b|"
    r"^why\b|\bwhy (?:do|does|did|is|are|was|were|can't|don't|doesn't)\b|"
    r"\bhow (?:do|does|did|can|could) .*\b(?:work|happen|form|function)\b|"
    r"\bhow (?:do|does) .* actually\b|\bwhat would happen\b|\bwhat happens (?:if|when)\b|"
    r"\bwhat (?:could|might) be causing\b|\bhow do i fix\b|"
    # Added after the router's held-out set (see tests/data/routing-heldout.tsv):
    r"^how (?:does|do) (?!i\b|you\b|we\b)|\bwhat causes\b|\bhow (?:would|should) i\b"
)
"""Asks for an explanation or a cause (normalized text): the router's signal for the large
model, and what keeps "how does weather forecasting work?" from the weather rule."""
MEDIA = re.compile(
    r"^(?:play|put on|start|shuffle)\b.*\b(?:music|songs?|playlist|radio|album|podcast|"
    r"jazz|audiobook)\b"
)
