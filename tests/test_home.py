"""The home as the assistant knows it (`core/home.py`): devices from several sources merged
with `[[devices]]`, and questions about their state answered from what they last reported."""

from __future__ import annotations

from datetime import datetime

from assistant.core.actions import LogActionSink
from assistant.core.home import Home
from assistant.core.intents import (
    Device,
    DeviceAction,
    IntentContext,
    NoSuchAction,
    Reading,
    StateQuestion,
    TemperatureQuestion,
    WhichDevice,
    match_intent,
)

EXAMPLE = (Device("kitchen lights", "light", "kitchen"), Device("garage door", "cover", "garage"))
FOUND = (
    Device("garage door", "cover", "garage"),
    Device("living room sensor", "sensor", "living room"),
    Device("living room thermostat", "climate", "living room"),
    Device("front door", "sensor", "hallway"),
    Device("kitchen lamp", "light", "kitchen"),
)


def test_the_example_household_stands_until_a_real_device_is_found() -> None:
    home = Home(EXAMPLE, examples=True)
    assert home.devices == EXAMPLE
    assert home.found("zigbee2mqtt", FOUND[:1]) is True
    assert [d.name for d in home.devices] == ["garage door"]
    assert home.source("garage door") == "zigbee2mqtt"
    assert home.found("zigbee2mqtt", FOUND[:1]) is False  # the same again: no change


def test_the_users_devices_override_and_add_to_what_is_found() -> None:
    mine = (
        Device("garage door", "cover", "", ("the big door",)),
        Device("porch light", "light", "porch"),
    )
    home = Home(mine)
    home.found("mqtt discovery", FOUND)
    by_name = {d.name: d for d in home.devices}
    assert by_name["garage door"].aliases == ("the big door",)
    assert by_name["garage door"].room == "garage"  # the user gave none: the found one's
    assert home.source("garage door") == "mqtt discovery + config"
    assert home.source("porch light") == "config"
    assert len(home.devices) == len(FOUND) + 1


def test_a_rename_is_followed_and_what_the_old_name_reported_is_forgotten() -> None:
    home = Home()
    home.found("zigbee2mqtt", FOUND)
    home.read("kitchen lamp", Reading(state="on"))
    renamed = (*FOUND[:4], Device("kitchen ceiling light", "light", "kitchen"))
    assert home.found("zigbee2mqtt", renamed)
    assert "kitchen lamp" not in home.readings
    assert "kitchen ceiling light" in [d.name for d in home.devices]
    home.read("no such device", Reading(state="on"))
    assert "no such device" not in home.readings


def test_a_partial_report_keeps_what_it_does_not_say() -> None:
    home = Home()
    home.found("zigbee2mqtt", FOUND)
    home.read("living room thermostat", Reading(state="on", temperature=19.0))
    home.read("living room thermostat", Reading(temperature=20.5))
    assert home.readings["living room thermostat"] == Reading("on", 20.5)


def answer(home: Home, said: str) -> str:
    intent = match_intent(said, home.devices)
    assert intent is not None, said
    ctx = IntentContext(datetime(2026, 12, 6), home.devices, None, LogActionSink(), home.readings)  # type: ignore[arg-type]
    return intent.reply(ctx)


def test_is_the_door_open_is_answered_from_its_last_report() -> None:
    home = Home()
    home.found("zigbee2mqtt", FOUND)
    assert isinstance(match_intent("Is the garage door open?", home.devices), StateQuestion)
    assert answer(home, "Is the garage door open?") == (
        "I don't know: the garage door hasn't reported whether it's open."
    )
    home.read("garage door", Reading(state="open"))
    assert answer(home, "Is the garage door open?") == "Yes, the garage door is open."
    assert answer(home, "is the garage door closed") == "No, the garage door is open."
    assert answer(home, "Is the garage open?") == "Yes, the garage door is open."  # its room
    home.read("front door", Reading(state="closed"))
    assert answer(home, "Is the front door shut?") == "Yes, the front door is closed."
    home.read("kitchen lamp", Reading(state="off"))
    assert answer(home, "Is the kitchen lamp on?") == "No, the kitchen lamp is off."


def test_the_temperature_of_a_room_comes_from_its_sensor_before_its_thermostat() -> None:
    home = Home()
    home.found("zigbee2mqtt", FOUND)
    q = match_intent("What's the temperature in the living room?", home.devices)
    assert isinstance(q, TemperatureQuestion)
    assert q.devices == ("living room sensor", "living room thermostat")
    assert answer(home, "What's the temperature in the living room?") == (
        "I don't know: nothing in the living room has reported a temperature."
    )
    home.read("living room thermostat", Reading(temperature=19.0))
    assert answer(home, "How warm is the living room?") == "It's 19 degrees in the living room."
    home.read("living room sensor", Reading(temperature=21.34))
    assert answer(home, "what is the living room temperature") == (
        "It's 21.5 degrees in the living room."
    )
    # Not a room of this home: not answered from it (the weather, or a model).
    assert not isinstance(
        match_intent("What's the temperature in Paris?", home.devices), TemperatureQuestion
    )


def test_a_sensor_takes_no_command_and_an_unknown_device_is_not_asked_about() -> None:
    home = Home()
    home.found("zigbee2mqtt", FOUND)
    intent = match_intent("Turn off the living room sensor", home.devices)
    assert isinstance(intent, NoSuchAction) and intent.kind == "sensor", intent
    assert answer(home, "Turn off the living room sensor") == (
        "Sorry, the living room sensor is a sensor: I can only tell you what it reads."
    )
    assert match_intent("Is the swimming pool open?", home.devices) is None
    two = (Device("bedroom lights", "light", "bedroom"), Device("bedroom fan", "fan", "bedroom"))
    assert isinstance(match_intent("Is the bedroom on?", two), WhichDevice)


class AwaySink:
    """Home Assistant's devices cannot be reached; the others can."""

    def __init__(self) -> None:
        self.sent: list[DeviceAction] = []

    def send(self, action: DeviceAction) -> None:
        self.sent.append(action)

    def unreachable(self, device: str) -> str | None:
        return "Home Assistant" if device != "porch light" else None


def test_a_command_that_cannot_reach_its_device_is_said_not_done() -> None:
    devices = (Device("kitchen lamp", "light", "kitchen"), Device("porch light", "light"))
    sink = AwaySink()
    ctx = IntentContext(datetime(2026, 12, 6), devices, None, sink)  # type: ignore[arg-type]
    both = match_intent("Turn off the kitchen lamp and the porch light", devices)
    assert both is not None
    assert both.reply(ctx) == "Sorry, I can't reach Home Assistant right now: nothing was changed."
    both.act(ctx)
    assert sink.sent == []  # none of it, rather than the part it could reach
    porch = match_intent("Turn off the porch light", devices)
    assert porch is not None and porch.reply(ctx) == "Okay, porch light off."
    porch.act(ctx)
    assert [a.device for a in sink.sent] == ["porch light"]


class Flapping(AwaySink):
    """Home Assistant comes back after the answer, before the action."""

    def __init__(self) -> None:
        super().__init__()
        self.back = False

    def unreachable(self, device: str) -> str | None:
        return None if self.back else "Home Assistant"


async def test_the_action_does_what_the_answer_said_when_the_link_comes_and_goes() -> None:
    # Through the turn's intent stage, as the daemon answers: the reply, then (the hold
    # run out) the action, with the link gone or back in between.
    from assistant.core.clock import MONOTONIC
    from assistant.core.dialog import Dialog
    from assistant.core.latency import TurnTrace
    from assistant.pipeline.context import Turn
    from assistant.pipeline.stages.intent import IntentAnswer

    devices = (Device("kitchen lamp", "light", "kitchen"),)
    intent = match_intent("Turn off the kitchen lamp", devices)
    assert intent is not None
    for away_first in (True, False):
        sink = Flapping()
        sink.back = not away_first
        stage = IntentAnswer(
            Home(devices), None, sink, Dialog(), MONOTONIC,  # type: ignore[arg-type]
            lambda: datetime(2026, 12, 6),
        )  # fmt: skip
        answer = stage.clauses(Turn(TurnTrace(MONOTONIC), "voice"), intent)
        said = await anext(answer)
        sink.back = away_first  # it changed during the hold
        async for _ in answer:  # the action
            pass
        assert ("nothing was changed" in said) == (sink.sent == []), (said, sink.sent)
