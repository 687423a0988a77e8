"""Numbers and durations as people say them: "twenty five", "an hour and a half"."""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
NUMBER_WORDS = frozenset(_UNITS.keys() - {"a", "an"} | _TENS.keys())
"""The words of a spoken number ("a" and "an" only say one in "an hour")."""
_DIGITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
NUMBER = (
    r"(?:\d+(?:\.\d+)?|(?:" + "|".join(_TENS) + r")(?: (?:" + "|".join(_DIGITS) + r"))?"
    r"|" + "|".join(_UNITS) + r")"
)


def parse_number(words: str) -> float | None:
    words = words.strip()
    try:
        return float(words)
    except ValueError:
        pass
    parts = words.split()
    if len(parts) == 1:
        if parts[0] in _UNITS:
            return float(_UNITS[parts[0]])
        if parts[0] in _TENS:
            return float(_TENS[parts[0]])
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in _UNITS:
        return float(_TENS[parts[0]] + _UNITS[parts[1]])
    return None


_UNIT_S = {"second": 1, "minute": 60, "hour": 3600}
_DURATION_PART = re.compile(rf"({NUMBER}) (second|minute|hour)s?\b")


def parse_duration(text: str) -> int | None:
    """ "10 minutes", "an hour and a half", "one minute 30 seconds", "half an hour" -> s."""
    total = 0.0
    found = False
    for phrase, seconds in (("half an hour", 1800), ("quarter of an hour", 900)):
        if phrase in text:
            text = text.replace(phrase, " ")
            total += seconds
            found = True
    for m in _DURATION_PART.finditer(text):
        n = parse_number(m.group(1))
        if n is None:
            continue
        total += n * _UNIT_S[m.group(2)]
        found = True
        rest = text[m.end() :]
        if rest.startswith(" and a half"):
            total += _UNIT_S[m.group(2)] / 2
    return int(total) if found and total > 0 else None


def say_duration(seconds: int) -> str:
    parts = []
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    return " and ".join(parts) if parts else "0 seconds"
