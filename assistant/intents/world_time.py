"""The time in another city: "what time is it in Tokyo?", "what's the time in New York?".

The cities are the ones people ask about most, each with its IANA time zone; the offsets,
summer time included, come from the system's zone database (Debian's tzdata), nothing is
fetched. A city it does not know is said to be unknown, rather than answered with the time
here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.intents.base import IntentBase, IntentContext
from assistant.intents.time_of_day import say_time

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

WORLD_TIME = re.compile(
    r"^(?:what(?:'s| is) the (?:time|local time)|what time is it|what time it is|"
    r"tell me the time|(?:the )?time) in (?P<city>[a-z][a-z ]*?)(?: right now| now)?$"
)


@dataclass(frozen=True, slots=True)
class WorldTime(IntentBase):
    """The time of day in a city."""

    city: str
    """As said (normalized): "tokyo", "new york"."""
    name: ClassVar[str] = "world_time"

    def reply(self, ctx: IntentContext) -> str:
        place = self.city.title()
        try:
            zone = ZoneInfo(CITIES[self.city])
        except (KeyError, ZoneInfoNotFoundError):
            return f"Sorry, I don't know the time in {place}."
        there = ctx.now.astimezone(zone)
        here = ctx.now.astimezone()
        day = "" if there.date() == here.date() else f" on {there:%A}"
        return f"In {place} it is {say_time(there)}{day}."


def world_time(text: str) -> WorldTime | None:
    """The city a time question asks about (normalized text), if it names one."""
    if (m := WORLD_TIME.match(text)) is None:
        return None
    city = re.sub(r"^the ", "", m.group("city"))
    return WorldTime(city)
