"""`assistant eval`: a labelled answer set through the assistant, typed, each reply scored
against its pattern; right % per kind and per route, beside each route's latency.

A line of the set is `kind<TAB>question<TAB>pattern` (a Python regex, case-insensitive,
searched in the reply). A follow-up is several turns of one conversation, "A || B": only
the last reply is scored. Each item starts a fresh conversation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.app import Assistant
from assistant.audio.wav import WavSpeaker
from assistant.core.errors import AssistantError
from assistant.core.latency import TurnRecord, percentile

KINDS = ("fact", "explanation", "small_talk", "follow_up", "cannot")


@dataclass(frozen=True, slots=True)
class Item:
    kind: str
    turns: tuple[str, ...]
    pattern: re.Pattern[str]
    line: int


@dataclass(frozen=True, slots=True)
class Scored:
    item: Item
    record: TurnRecord
    right: bool

    def to_dict(self) -> dict[str, Any]:
        return self.record.to_dict() | {
            "kind": self.item.kind,
            "asked": list(self.item.turns),
            "right": self.right,
        }


def read_answers(path: Path) -> list[Item]:
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise AssistantError(f"{path}: cannot read: {e.strerror}") from None
    items = []
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise AssistantError(f"{path}:{n}: expected kind<TAB>question<TAB>pattern")
        kind, question, pattern = fields
        if kind not in KINDS:
            raise AssistantError(f"{path}:{n}: unknown kind {kind!r} (known: {', '.join(KINDS)})")
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as e:
            raise AssistantError(f"{path}:{n}: bad pattern: {e}") from None
        turns = tuple(t.strip() for t in question.split("||"))
        items.append(Item(kind, turns, compiled, n))
    if not items:
        raise AssistantError(f"{path}: no questions")
    return items


async def evaluate(
    a: Assistant, items: Sequence[Item], progress: Callable[[str], None]
) -> list[Scored]:
    nowhere = WavSpeaker(Path("/dev/null"), a.reply_rate_hz, a.clock)
    scored = []
    for i, item in enumerate(items, start=1):
        progress(f"[{i}/{len(items)}] {item.turns[-1]}")
        a.runner.forget()  # each item is a conversation of its own
        for text in item.turns[:-1]:
            await a.runner.run(text, nowhere)
            # A person takes a while to say the next question: the prefill between turns
            # is done by then (turn after turn at once, the next would wait for it).
            await a.runner.settled()
        await a.runner.settled()
        record = await a.runner.run(item.turns[-1], nowhere)
        scored.append(Scored(item, record, bool(item.pattern.search(record.reply))))
    await a.runner.settled()
    return scored


def _row(label: str, group: Sequence[Scored]) -> str:
    right = sum(s.right for s in group)
    first = [s.record.first_audio_ms for s in group if s.record.first_audio_ms is not None]
    p50 = f"{percentile(first, 50):.0f}" if first else "-"
    p95 = f"{percentile(first, 95):.0f}" if first else "-"
    pct = 100 * right / len(group)
    return f"{label:<13} {len(group):>5} {right:>5} {pct:>6.0f} % {p50:>9} {p95:>9}"


def print_scores(scored: Sequence[Scored]) -> None:
    head = f"{'':<13} {'asked':>5} {'right':>5} {'right':>8} {'p50 ms':>9} {'p95 ms':>9}"
    print(head)
    for kind in KINDS:
        group = [s for s in scored if s.item.kind == kind]
        if group:
            print(_row(kind, group))
    print(_row("all", scored))
    print()
    print(head.replace(" " * 13, "route".ljust(13), 1))
    for route in sorted({s.record.route for s in scored}):
        print(_row(route, [s for s in scored if s.record.route == route]))
    wrong = [s for s in scored if not s.right]
    if wrong:
        print("\nwrong:")
        for s in wrong:
            question, reply = s.item.turns[-1], s.record.reply
            print(f"  {s.item.kind:<11} {s.record.route:<6} {question!r} -> {reply!r}")
