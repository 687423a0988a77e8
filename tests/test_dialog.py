"""The dialog state between turns, as plain logic with the time passed in."""

from __future__ import annotations

import pytest

from assistant.config import DEFAULT_DEVICES
from assistant.core.dialog import MODES, Dialog
from assistant.core.intents import (
    ANSWER_WINDOW_S,
    IT_WINDOW_S,
    Device,
    DeviceCommand,
    Question,
    match_intent,
    question,
)

DEVICES = tuple(Device(d.name, d.kind, d.room, tuple(d.aliases)) for d in DEFAULT_DEVICES)
S = 1_000_000_000


def asked_which() -> Question:
    intent = match_intent("Turn off the bedroom.", DEVICES)
    assert intent is not None
    q = question(intent, "Turn off the bedroom.", "Which one: the bedroom lights or the fan?")
    assert q is not None
    return q


def test_the_open_question_is_answerable_within_its_window_only() -> None:
    d = Dialog()
    d.said("intent", asked_which(), now_ns=0)
    assert d.open_question(int(ANSWER_WINDOW_S * S)) is not None
    assert d.open_question(int(ANSWER_WINDOW_S * S) + 1) is None
    # A turn said to its end without a question closes it.
    d.said("fast", None, now_ns=S)
    assert d.open_question(2 * S) is None


def test_it_is_the_last_commanded_device_within_its_window() -> None:
    d = Dialog()
    command = match_intent("Turn on the kitchen lights.", DEVICES)
    assert isinstance(command, DeviceCommand)
    d.acted(command, now_ns=0)
    assert d.last_command(int(IT_WINDOW_S * S)) is command
    assert d.last_command(int(IT_WINDOW_S * S) + 1) is None
    r = d.route_turn("Turn it off.", DEVICES, intents=True, has_large=True, asked=None, now_ns=S)
    assert (r.path, r.reason) == ("intent", "device")
    # Long after, "it" names no device any more.
    late = int(IT_WINDOW_S * S) + 1
    r = d.route_turn("Turn it off.", DEVICES, intents=True, has_large=True, asked=None, now_ns=late)
    assert (r.path, r.reason) == ("intent", "unknown_device")


@pytest.mark.parametrize(
    ("mode", "path", "reason"),
    [
        ("auto", "fast", "small_talk"),
        ("fast", "fast", "no_large"),
        ("large", "large", "mode_large"),
    ],
)
def test_the_routing_mode_decides_between_the_models_never_over_an_intent(
    mode: str, path: str, reason: str
) -> None:
    d = Dialog()
    d.set_mode(mode)
    r = d.route_turn(
        "Good morning!",
        DEVICES,
        intents=True,
        has_large=True,
        asked=None,
        now_ns=0,
    )
    assert (r.path, r.reason) == (path, reason)
    r = d.route_turn(
        "What time is it?", DEVICES, intents=True, has_large=True, asked=None, now_ns=0
    )
    assert r.path == "intent"
    # Without a large model, no mode sends a turn to it.
    r = d.route_turn(
        "Why is the sky blue?", DEVICES, intents=True, has_large=False, asked=None, now_ns=0
    )
    assert r.path == "fast"


def test_an_unknown_mode_is_refused_and_the_mode_kept() -> None:
    d = Dialog()
    d.set_mode("large")
    with pytest.raises(ValueError, match="unknown routing mode 'huge'"):
        d.set_mode("huge")
    assert d.mode == "large"
    assert MODES == ("auto", "fast", "large")


def test_a_follow_up_goes_where_the_last_turn_went() -> None:
    d = Dialog()
    d.said("large", None, now_ns=0)
    r = d.route_turn("Why is that?", DEVICES, intents=True, has_large=True, asked=None, now_ns=S)
    assert (r.path, r.reason) == ("large", "follow_up")
