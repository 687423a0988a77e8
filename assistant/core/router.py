"""Which path answers a turn: the intent grammar, the fast model or the large one. Pure code.

Most turns are easy and go to the smallest, fastest path. The table of signals (first match
wins), each one a reason that goes into the turn record:

| signal                                                   | path   | reason       |
|----------------------------------------------------------|--------|--------------|
| answers the assistant's question ("Which one: ...?" -    | intent | intent name  |
|   "the fan"), within `ANSWER_WINDOW_S` of it             |        |              |
| the intent grammar matches (time, timers, devices)       | intent | intent name  |
| no large model is configured                             | fast   | no_large     |
| asks for an explanation or a cause: why, explain,        | large  | explain      |
|   describe, how does X ..., what causes, what would      |        |              |
|   happen, how would I ...                                |        |              |
| compares or weighs: difference, compare, pros and cons,  | large  | compare      |
|   which is better, should I ... or ...                   |        |              |
| asks for a composed text: write, plan, summarize, help   | large  | compose      |
|   me write, tell me about the history of                 |        |              |
| several questions in one: two question clauses joined    | large  | multi_part   |
| long: 16 words or more                                   | large  | long         |
| a bare follow-up ("why is that", "tell me more") to a    | large  | follow_up    |
|   turn the large model answered                          |        |              |
| small talk, the whole utterance: greetings, thanks, "how | fast   | small_talk   |
|   are you", jokes, compliments, how the user feels       |        |              |
| anything else: questions of fact and the rest            | large  | question     |

Facts go to the large model because it gets them right: on `assistant eval`'s answer set
SmolLM2-135M answered 68 % of the facts right and Qwen2.5-1.5B 97 % (docs/routing.md).

Question type comes before length: most "why" and "how does" questions are short but need
the large model. Scored with `assistant route --file tests/data/routing.tsv` (67 texts,
written before the rules) and `tests/data/routing-heldout.tsv` (30 texts written after the
rules were frozen: 80 % on first scoring; the misses it showed, "how does a fridge ...",
"what causes ...", "should I ... or ...", "lights on in the hallway", and "what time does
the sun set" wrongly answered with the clock, were fixed, so it is no longer held out).
The fast model's answer shape (hedging) as an escalation signal is not used: it would cost
the fast model's whole answer before escalating, and it has not been measured.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Literal

from assistant.core.errors import ConfigError
from assistant.core.intents import (
    ASKS_WHY,
    Device,
    DeviceCommand,
    Intent,
    Question,
    answer,
    match_intent,
    normalize,
)

Path = Literal["intent", "fast", "large"]
PATHS: tuple[Path, ...] = ("intent", "fast", "large")


@dataclass(frozen=True, slots=True)
class Route:
    path: Path
    reason: str
    intent: Intent | None = None


LONG_WORDS = 16

_COMPARE = re.compile(
    r"\bdifference between\b|\bcompare\b|\bpros and cons\b|\bversus\b|\bvs\b|"
    r"\bwhich is better\b|\bbetter for\b.*\bor\b|\bshould i (?:consider|choose|buy|get)\b|"
    r"\bwhat should i consider\b|\bchoosing between\b|\bshould i\b.*\bor\b"
)
_COMPOSE = re.compile(
    r"^(?:(?:can|could|would) you )?(?:please )?(?:help me )?(?:write|draft|compose|plan|"
    r"summari[sz]e|outline|give me (?:a|an|some) (?:simple |quick |short )?"
    r"(?:plan|list|recipe|overview|summary|ideas))\b|"
    r"\btell me (?:all )?about (?:the )?(?:history|story|origins?)\b|\bsummary of\b"
)
_QUESTION_START = (
    r"(?:what|how|why|who|where|when|which|is|are|can|could|should|do|does|will|would)"
)
_MULTI = re.compile(rf"[?,.]? (?:and|also|plus) {_QUESTION_START}\b")
_FILLER = r"(?: (?:there|so much|a lot|very much|again|everyone|mate|assistant|too|to you))*"
_SMALL_TALK = re.compile(
    # The whole utterance, give or take a filler: "hello, what's the capital of France?"
    # is a question, not a greeting.
    r"^(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening|night)|goodnight|goodbye|"
    r"bye|see you(?: later| soon| tomorrow)?|thanks?|thank you|cheers|nice to meet you|"
    r"(?:thanks|thank you) for (?:your|the|all your) help|"
    r"have a (?:nice|good|great|lovely) (?:day|night|evening|weekend)|"
    r"(?:ok|okay|alright|all right|cool|great|nice|sure|yes|no|yeah|nope|good)"
    r"(?: (?:thanks?|thank you))?|you're welcome|good job|well done|what's up|"
    rf"(?:hey |hi |so )?how are you(?: doing)?(?: today| this morning| tonight)?|"
    r"how's it going|what(?:'s| is) your name|who are you|what are you|"
    r"are you (?:a |an )?(?:robot|human|ai|real|person|computer|machine)|"
    r"(?:you are|you're) (?:very |so |really |a )?(?:helpful|great|smart|clever|funny|nice|"
    r"kind|awesome|the best|good)|"
    r"i(?:'m| am) (?:so |very |really |a bit |feeling )?(?:bored|tired|sad|happy|hungry|"
    r"sleepy|lonely|fine|good|great|okay|ok))"
    rf"{_FILLER}$|"
    # Jokes and pleasantries may go on ("tell me a joke about cats").
    r"^(?:can you |could you |please )?(?:tell me|say|know) (?:a |another |any |me a )?jokes?\b|"
    r"^say something\b"
)
"""Greetings, thanks, how-are-yous, jokes, compliments, how the user feels (normalized
text): the small model answers these well, and fast."""
_FOLLOW_UP = re.compile(
    r"^(?:and )?(?:why(?: is that| not)?|how come|tell me more|go on|what else|"
    r"can you elaborate|why's that|what do you mean)(?: by that| about (?:it|that))?$"
)


def route(
    transcript: str,
    devices: Sequence[Device] = (),
    *,
    has_large: bool = True,
    previous: Path | None = None,
    intents: bool = True,
    asked: Question | None = None,
    last: DeviceCommand | None = None,
) -> Route:
    """`asked`: the question the assistant asked last turn, still open; `last`: the device
    command said lately ("turn it off")."""
    intent = None
    if intents and asked is not None:
        intent = answer(asked, transcript, devices)
    if intents and intent is None:
        intent = match_intent(transcript, devices, last=last)
    if intent is not None:
        return Route("intent", intent.name, intent)
    if not has_large:
        return Route("fast", "no_large")
    text = normalize(transcript)
    words = len(text.split())
    if _FOLLOW_UP.match(text):
        return Route("large", "follow_up") if previous == "large" else Route("fast", "short")
    if ASKS_WHY.search(text):
        return Route("large", "explain")
    if _COMPARE.search(text):
        return Route("large", "compare")
    if _COMPOSE.search(text):
        return Route("large", "compose")
    if transcript.count("?") >= 2 or _MULTI.search(transcript.lower()):
        return Route("large", "multi_part")
    if words >= LONG_WORDS:
        return Route("large", "long")
    if _SMALL_TALK.search(text):
        return Route("fast", "small_talk")
    # Facts and the rest: measured with `assistant eval`, SmolLM2-135M got 68 % of the
    # answer set's facts right and the 1.5B 97 %, for a few hundred ms more (docs/routing.md).
    return Route("large", "question")


LABEL_PATH: dict[str, Path] = {
    "intent": "intent",
    "easy": "fast",
    "fact": "large",
    "hard": "large",
}


_LONG = re.compile(
    r"\b(?:stor(?:y|ies)|in (?:more |great |full )?detail|at length|step by step|"
    r"everything (?:about|you know)|long (?:answer|version|explanation))\b"
)


def wants_long(transcript: str) -> bool:
    """Was a long reply asked for ("tell me a story", "explain it in detail")? Composed
    texts ("write ...", "plan ...") count too."""
    text = normalize(transcript)
    return bool(_LONG.search(text) or _COMPOSE.search(text))


def read_labelled(path: FilePath) -> list[tuple[str | None, str]]:
    """Texts one per line; 'label<TAB>text' lines carry a label (`LABEL_PATH`).
    Blank lines and '#' comments are skipped."""
    out: list[tuple[str | None, str]] = []
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, text = line.partition("\t")
        if not sep:
            out.append((None, line.strip()))
        elif label.strip() in LABEL_PATH:
            out.append((label.strip(), text.strip()))
        else:
            raise ConfigError(f"{path}:{n}: label {label!r} is not one of {', '.join(LABEL_PATH)}")
    return out


def confusion(
    labelled: Sequence[tuple[str, str]], devices: Sequence[Device], *, has_large: bool = True
) -> tuple[dict[tuple[str, Path], int], list[tuple[str, str, Route]]]:
    """(label, path) counts over (label, text) pairs, and the misrouted texts."""
    counts: dict[tuple[str, Path], int] = {}
    wrong = []
    for label, text in labelled:
        r = route(text, devices, has_large=has_large)
        counts[label, r.path] = counts.get((label, r.path), 0) + 1
        if LABEL_PATH[label] != r.path:
            wrong.append((label, text, r))
    return counts, wrong


def print_confusion(
    labelled: Sequence[tuple[str, str]], devices: Sequence[Device], *, has_large: bool = True
) -> float:
    """Print the confusion matrix and the misrouted texts; return the accuracy."""
    counts, wrong = confusion(labelled, devices, has_large=has_large)
    print("label \\ route " + "".join(f"{p:>8}" for p in PATHS))
    for label in LABEL_PATH:
        print(f"{label:<14} " + "".join(f"{counts.get((label, p), 0):>8}" for p in PATHS))
    accuracy = 1 - len(wrong) / len(labelled)
    print(f"accuracy {accuracy:.1%} ({len(labelled) - len(wrong)}/{len(labelled)})")
    for label, text, r in wrong:
        print(f"  misrouted: {label} -> {r.path} ({r.reason}): {text}")
    return accuracy
