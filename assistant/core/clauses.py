"""Incremental clause splitting of a streamed LLM reply, so speech can start early.

The first clause goes to TTS as soon as it ends at a clause boundary and is a few words
long (or, with no boundary in sight, once it reaches `max_first_words`): that is what the
user waits for. Later text goes out by sentence, which sounds better and costs nothing
because the first clause is already playing. Pure code: no audio, no asyncio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from annotated_types import Gt

_SENTENCE_END = frozenset(".!?")
_CLAUSE_END = frozenset(",;:")
# Abbreviations whose full stop does not end a sentence (lower case, without the dot).
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "prof", "vs", "etc", "e.g", "i.e", "approx", "no", "jr", "sr"}
)
_MARKUP = re.compile(r"[*_`#~|<>\[\]{}]+")
_SPACES = re.compile(r"\s+")


def speakable(text: str) -> str:
    """Text as it should be spoken: markdown and stray markup removed, whitespace folded."""
    return _SPACES.sub(" ", _MARKUP.sub("", text)).strip()


@dataclass(frozen=True, slots=True)
class SplitterSettings:
    """How a reply is cut into clauses for speech (a pipeline's `[clauses]`)."""

    min_first_words: Annotated[int, Gt(0)] = 3
    """The first clause is released at a clause boundary once it has this many words."""
    max_first_words: Annotated[int, Gt(0)] = 8
    """...or at a word boundary when it reaches this many words with no boundary."""
    max_words: Annotated[int, Gt(0)] = 30
    """Later text without a sentence end is released at a clause boundary past this size
    (it caps a run-on sentence)."""

    def __post_init__(self) -> None:
        if self.max_first_words < self.min_first_words:
            raise ValueError("max_first_words must be at least min_first_words")


class ClauseSplitter:
    """Feed it text deltas; it returns clauses ready to speak."""

    def __init__(self, settings: SplitterSettings | None = None) -> None:
        self.settings = settings or SplitterSettings()
        self._buf = ""
        self._emitted = 0

    def feed(self, delta: str) -> list[str]:
        self._buf += delta
        out: list[str] = []
        while (cut := self._next_cut()) is not None:
            clause, self._buf = self._buf[:cut], self._buf[cut:]
            if text := speakable(clause):
                out.append(text)
                self._emitted += 1
        return out

    @property
    def pending(self) -> str:
        """Text fed but not yet released as a clause."""
        return self._buf

    @property
    def emitted(self) -> int:
        """Clauses released so far."""
        return self._emitted

    def flush(self) -> list[str]:
        """The rest of the reply, at the end of the stream."""
        text = speakable(self._buf)
        self._buf = ""
        if not text:
            return []
        self._emitted += 1
        return [text]

    def _next_cut(self) -> int | None:
        """Index just past the next releasable clause in the buffer, or None."""
        buf = self._buf
        first = self._emitted == 0
        words = 0
        in_word = False
        last_clause_cut: int | None = None
        for i, ch in enumerate(buf):
            if ch.isspace():
                in_word = False
                continue
            if not in_word:
                words += 1
                in_word = True
                # With no boundary in sight, the first clause goes out at a word boundary.
                if first and words > self.settings.max_first_words:
                    return i
            # A boundary is only certain once whitespace follows it (think "3.5", "U.S.").
            if i + 1 >= len(buf) or not buf[i + 1].isspace():
                continue
            if ch in _SENTENCE_END and not (ch == "." and self._is_abbreviation(buf, i)):
                if words >= (self.settings.min_first_words if first else 1):
                    return i + 1
            elif ch in _CLAUSE_END or _is_dash(buf, i):
                if first and words >= self.settings.min_first_words:
                    return i + 1
                last_clause_cut = i + 1
        if not first and words > self.settings.max_words and last_clause_cut is not None:
            return last_clause_cut
        return None

    @staticmethod
    def _is_abbreviation(buf: str, dot: int) -> bool:
        start = dot
        while start > 0 and not buf[start - 1].isspace():
            start -= 1
        word = buf[start:dot].lower().lstrip("(\"'")
        return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


class RepeatGuard:
    """Tells when a reply starts saying again what it already said.

    A small model decoding greedily can fall into a loop: SmolLM2-135M answered "Remind me
    to call mom at six" with "I'm going to call mom at 6." six times over, a 12 s reply.
    Nobody says the same sentence twice in one answer, so the reply ends at the first
    clause that repeats an earlier one. Clauses under `min_words` words ("Yes.", "Very
    big.") may come back."""

    def __init__(self, min_words: int = 3) -> None:
        self.min_words = min_words
        self._said: set[str] = set()

    def repeats(self, clause: str) -> bool:
        """Does this clause, or a sentence or clause in it, say again what an earlier one
        said? ("..., but I'm unable to help with that. I'm unable to help with that.")"""
        keys = [
            " ".join(words)
            for part in (clause, *re.split(r"(?<=[.!?,;:])\s+", clause))
            if len(words := re.sub(r"[^\w']+", " ", part.lower()).split()) >= self.min_words
        ]
        if any(key in self._said for key in keys):
            return True
        self._said.update(keys)
        return False


class PhraseLoop:
    """Tells when a reply loops without ending a clause: a phrase of `words` words or more
    said `times` times in a row, whatever the punctuation between.

    `RepeatGuard` compares clauses, so a loop with no clause end never trips it: after one
    misheard question SmolLM2-135M answered `The answer is "The answer is "The answer is
    ...` for 15 s. Only back-to-back repeats count: a recipe's "1 cup of flour, 1 cup of
    sugar and 1 cup of milk" or a story's "the little fox" three times is not a loop.
    Words are compared lower-case, without punctuation."""

    def __init__(self, words: int = 3, times: int = 3, longest: int = 16) -> None:
        self.words, self.times, self.longest = words, times, longest
        self._seen: list[str] = []
        self._partial = ""

    def feed(self, delta: str) -> str | None:
        """Text as it comes; the phrase once it has come `times` times in a row."""
        text = (self._partial + delta).lower()
        tokens = _WORD.findall(text)
        # A word at the very end may go on in the next delta: held back until it ends.
        self._partial = ""
        if tokens and _WORD.fullmatch(text[-1:] or " "):
            self._partial = tokens.pop()
        for word in tokens:
            self._seen.append(word)
            if (phrase := self._looped()) is not None:
                return phrase
        return None

    def _looped(self) -> str | None:
        seen = self._seen
        for n in range(self.words, self.longest + 1):
            if len(seen) < n * self.times:
                break
            unit = seen[-n:]
            if all(seen[-n * (k + 1) : len(seen) - n * k] == unit for k in range(self.times)):
                return " ".join(unit)
        return None


_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")  # (\u2019: the curly apostrophe)
_NUMBER = re.compile(r"\d[\d,.]*")
_LOOPING_DIGITS = re.compile(r"(\d{3,}?)\1{2,}")

NOT_SURE_SAY = "Sorry, I'm not sure."
"""Said when the model's answer fell apart before any of it could be said."""


def runaway_number(text: str) -> bool:
    """Does the text hold a number whose digits loop? Greedy SmolLM2-135M put the moon
    "221,072,072,072,072 miles" away, and does it again in the same conversation. Three
    times the same group of three digits or more in one number ("1,000,000,000" apart)."""
    for number in _NUMBER.findall(text):
        digits = re.sub(r"\D", "", number)
        if any(group.strip("0") for group in _LOOPING_DIGITS.findall(digits)):
            return True
    return False


def _is_dash(buf: str, i: int) -> bool:
    """A spaced dash (" - ", " — ") separates clauses; a hyphen inside a word does not."""
    return buf[i] in "-\u2013\u2014" and i > 0 and buf[i - 1].isspace()
