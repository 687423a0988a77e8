"""The labelled answer set and `assistant eval`, which scores a configuration on it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.commands.evaluate import KINDS, read_answers
from assistant.core.errors import AssistantError
from tests.conftest import ROOT, run_assistant

ANSWERS = ROOT / "tests" / "data" / "answers.tsv"


def test_the_answer_set_is_big_enough_and_covers_every_kind() -> None:
    items = read_answers(ANSWERS)
    assert len(items) >= 100
    kinds = Counter(i.kind for i in items)
    assert set(kinds) == set(KINDS) and min(kinds.values()) >= 10, kinds
    assert all(len(i.turns) >= 2 for i in items if i.kind == "follow_up")
    # Every pattern matches a right answer written out, and not its question alone.
    for item in items:
        assert not item.pattern.search("I am not sure."), item


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("fact\tWhat?\n", ":1: expected kind<TAB>question<TAB>pattern"),
        ("fiction\tWhat?\tx\n", ":1: unknown kind 'fiction'"),
        ("fact\tWhat?\t(unclosed\n", ":1: bad pattern"),
        ("# only a comment\n", "no questions"),
    ],
)
def test_a_bad_answer_file_names_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "a.tsv"
    path.write_text(line)
    with pytest.raises(AssistantError, match=message):
        read_answers(path)


@pytest.mark.models
def test_eval_scores_each_answer_per_kind_and_route(tmp_path: Path) -> None:
    answers = tmp_path / "a.tsv"
    answers.write_text(
        "cannot\tWhat's in the news today?\tcan't\n"
        "fact\tWhat is the capital of Italy?\t\\brome\\b\n"
        "fact\tWhat is the capital of Italy?\t\\bparis\\b\n"  # a wrong pattern: scored wrong
        "small_talk\tThank you!\t\\w\n"
    )
    out = tmp_path / "eval.jsonl"
    proc = run_assistant("eval", str(answers), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    tables = proc.stdout.split("wrong:")[0]
    rows = {line.split()[0]: line.split() for line in tables.splitlines() if line.strip()}
    assert rows["fact"][1:4] == ["2", "1", "50"], proc.stdout
    assert rows["cannot"][1:4] == ["1", "1", "100"], proc.stdout
    assert rows["intent"][1:4] == ["1", "1", "100"], proc.stdout
    assert "'What is the capital of Italy?' -> " in proc.stdout  # the wrong one is listed
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[0]["run"]["label"] == "routed"
    assert [r["right"] for r in records[1:]] == [True, True, False, True]
    assert [r["route"] for r in records[1:]] == ["intent", "large", "large", "fast"]
