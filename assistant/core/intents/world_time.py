"""The time in another city: "what time is it in Tokyo?", "what's the time in New York?".

The cities are the ones people ask about most, each with its IANA time zone; the offsets,
summer time included, come from the system's zone database (Debian's tzdata), nothing is
fetched. A city it does not know is said to be unknown, rather than answered with the time
here."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.core.intents.base import IntentBase, IntentContext
from assistant.core.intents.numbers import NUMBER, parse_duration
from assistant.core.intents.time_of_day import say_time

CITIES = {
    "amsterdam": "Europe/Amsterdam", "athens": "Europe/Athens", "auckland": "Pacific/Auckland",
    "bangkok": "Asia/Bangkok", "beijing": "Asia/Shanghai", "berlin": "Europe/Berlin",
    "boston": "America/New_York", "buenos aires": "America/Argentina/Buenos_Aires",
    "cairo": "Africa/Cairo", "chicago": "America/Chicago", "copenhagen": "Europe/Copenhagen",
    "delhi": "Asia/Kolkata", "denver": "America/Denver", "dubai": "Asia/Dubai",
    "dublin": "Europe/Dublin", "helsinki": "Europe/Helsinki", "hong kong": "Asia/Hong_Kong",
    "honolulu": "Pacific/Honolulu", "istanbul": "Europe/Istanbul", "jakarta": "Asia/Jakarta",
    "johannesburg": "Africa/Johannesburg", "kyiv": "Europe/Kyiv", "lagos": "Africa/Lagos",
    "lisbon": "Europe/Lisbon", "london": "Europe/London", "los angeles": "America/Los_Angeles",
    "madrid": "Europe/Madrid", "manila": "Asia/Manila", "melbourne": "Australia/Melbourne",
    "mexico city": "America/Mexico_City", "miami": "America/New_York", "moscow": "Europe/Moscow",
    "mumbai": "Asia/Kolkata", "nairobi": "Africa/Nairobi", "new delhi": "Asia/Kolkata",
    "new york": "America/New_York", "oslo": "Europe/Oslo", "paris": "Europe/Paris",
    "prague": "Europe/Prague", "rome": "Europe/Rome", "san francisco": "America/Los_Angeles",
    "sao paulo": "America/Sao_Paulo", "seattle": "America/Los_Angeles", "seoul": "Asia/Seoul",
    "shanghai": "Asia/Shanghai", "singapore": "Asia/Singapore", "stockholm": "Europe/Stockholm",
    "sydney": "Australia/Sydney", "taipei": "Asia/Taipei", "tokyo": "Asia/Tokyo",
    "toronto": "America/Toronto", "vancouver": "America/Vancouver", "vienna": "Europe/Vienna",
    "warsaw": "Europe/Warsaw", "zurich": "Europe/Zurich",
}  # fmt: skip
"""City as said (normalized) -> IANA time zone."""

ALIASES = {
    "new york city": "new york", "nyc": "new york", "la": "los angeles", "kiev": "kyiv",
    "washington": "new york", "washington dc": "new york", "bombay": "mumbai",
    "peking": "beijing", "saigon": "ho chi minh city",
}  # fmt: skip
COUNTRIES = {
    "japan": "Asia/Tokyo", "india": "Asia/Kolkata", "china": "Asia/Shanghai",
    "south korea": "Asia/Seoul", "korea": "Asia/Seoul", "france": "Europe/Paris",
    "germany": "Europe/Berlin", "italy": "Europe/Rome", "spain": "Europe/Madrid",
    "england": "Europe/London", "britain": "Europe/London", "the uk": "Europe/London",
    "uk": "Europe/London", "ireland": "Europe/Dublin", "greece": "Europe/Athens",
    "egypt": "Africa/Cairo", "israel": "Asia/Jerusalem", "thailand": "Asia/Bangkok",
    "vietnam": "Asia/Ho_Chi_Minh", "ho chi minh city": "Asia/Ho_Chi_Minh",
    "philippines": "Asia/Manila", "the philippines": "Asia/Manila", "poland": "Europe/Warsaw",
    "ukraine": "Europe/Kyiv", "turkey": "Europe/Istanbul", "kenya": "Africa/Nairobi",
    "nigeria": "Africa/Lagos", "sweden": "Europe/Stockholm", "norway": "Europe/Oslo",
    "finland": "Europe/Helsinki", "portugal": "Europe/Lisbon",
    "the netherlands": "Europe/Amsterdam", "netherlands": "Europe/Amsterdam",
    "switzerland": "Europe/Zurich", "austria": "Europe/Vienna",
}  # fmt: skip
"""Places with one time zone (or one most people mean) -> IANA time zone."""
ZONES = {**CITIES, **COUNTRIES}

WORLD_TIME = re.compile(
    r"^(?:what(?:'s| is) the (?:time|local time)|what time is it|what time it is|"
    r"tell me the time|(?:the )?time)(?: .*)? in (?:the )?(?P<place>[a-z][a-z ]*?)"
    r"(?: right now| now| today| at the moment)?$"
)
"""The last "in X" of a time question: "what time is it in the morning in Tokyo" asks
about Tokyo."""
NOT_A_PLACE = re.compile(
    r"^(?:here|there|this room|the house|the morning|morning|the afternoon|afternoon|"
    r"the evening|evening|the night|night|a (?:minute|moment|bit|while)|"
    r"(?:kitchen|living room|bedroom|bathroom|hallway|garage|office|garden|oven|attic|"
    r"basement|dining room|nursery|cellar|house|room)(?: .*)?)$"
)
"""What follows "in" in a time question without being a place with a time of its own:
here, a part of the day, a room of a house."""


@dataclass(frozen=True, slots=True)
class WorldTime(IntentBase):
    """The time of day in a city."""

    city: str
    """The place as said (normalized): "tokyo", "new york", "japan"."""
    name: ClassVar[str] = "world_time"

    @property
    def whole(self) -> bool:
        """A place it does not know may be half said ("what time is it in New ... York")."""
        return self.city in ZONES

    def record(self) -> dict[str, Any]:
        return {"place": self.city}

    def reply(self, ctx: IntentContext) -> str:
        place = self.city.title()
        try:
            zone = ZoneInfo(ZONES[self.city])
        except (KeyError, ZoneInfoNotFoundError):
            return f"Sorry, I don't know the time in {place}."
        there = ctx.now.astimezone(zone)
        here = ctx.now if ctx.now.tzinfo else ctx.now.astimezone()  # naive: local
        day = "" if there.date() == here.date() else f" on {there:%A}"
        return f"In {place} it is {say_time(there)}{day}."


def world_time(text: str, rooms: Sequence[str] = ()) -> WorldTime | None:
    """The place a time question asks about (normalized text), if it names one with a time
    of its own: a city or country it knows ("tokyo japan" is Tokyo), or one it does not
    know (said to be unknown). None for here, a part of the day, a room (of the house or
    of `rooms`) or a time from now ("in five hours"): the time here answers those."""
    if (m := WORLD_TIME.match(text)) is None:
        return None
    place = ALIASES.get(m.group("place"), m.group("place"))
    words = place.split()
    for n in range(len(words), 0, -1):  # "tokyo japan": the longest known start
        known = ALIASES.get(" ".join(words[:n]), " ".join(words[:n]))
        if known in ZONES:
            return WorldTime(known)
    if NOT_A_PLACE.match(place) or place in rooms or parse_duration(place) is not None:
        return None
    if re.match(rf"^(?:{NUMBER}|a|an|half|few)\b", place):
        return None  # "in five hours", "in a few minutes"
    return WorldTime(place)
