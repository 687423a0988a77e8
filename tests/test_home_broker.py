"""A home without Home Assistant: the devices from what the broker holds (Zigbee2MQTT's
`bridge/devices`, Home Assistant MQTT discovery configs), against a real Mosquitto, with the
daemon on PulseAudio null sinks. Spoken commands go to the devices' own topics, questions
about their state are answered from their state topics, and a rename is followed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Pulse, espeak_wav, run_assistant
from tests.daemon_helper import Daemon, running_daemon
from tests.mqtt_helper import Broker, Recorder, config_for, recorder

pytestmark = [pytest.mark.models, pytest.mark.audio]


def z2m_device(name: str, ieee: str, exposes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ieee_address": ieee, "friendly_name": name, "type": "Router", "disabled": False,
        "interview_completed": True, "supported": True,
        "definition": {"model": "x", "vendor": "y", "description": "z", "exposes": exposes},
    }  # fmt: skip


LIGHT = [{"type": "light", "features": [
    {"type": "binary", "name": "state", "property": "state", "access": 7,
     "value_on": "ON", "value_off": "OFF"},
    {"type": "numeric", "name": "brightness", "property": "brightness", "access": 7,
     "value_min": 0, "value_max": 254},
]}]  # fmt: skip
COVER = [{"type": "cover", "features": [
    {"type": "enum", "name": "state", "property": "state", "access": 3,
     "values": ["OPEN", "CLOSE", "STOP"]},
]}]  # fmt: skip
TEMPERATURE = [
    {"type": "numeric", "name": "temperature", "property": "temperature", "access": 1,
     "unit": "°C"},
    {"type": "numeric", "name": "humidity", "property": "humidity", "access": 1, "unit": "%"},
]  # fmt: skip
COORDINATOR = {"ieee_address": "0x00", "friendly_name": "Coordinator", "type": "Coordinator",
               "disabled": False, "definition": None}  # fmt: skip


def bridge(lamp: str) -> str:
    return json.dumps([
        COORDINATOR,
        z2m_device(lamp, "0x01", LIGHT),
        z2m_device("garage door", "0x02", COVER),
        z2m_device("living room sensor", "0x03", TEMPERATURE),
    ])  # fmt: skip


LAMP = {
    "name": None, "uniq_id": "bedroom_lamp_1", "~": "home/bedroom",
    "cmd_t": "~/set", "stat_t": "~/state", "pl_on": "ON", "pl_off": "OFF",
    "dev": {"ids": ["bedroom1"], "name": "Bedroom lamp", "sa": "bedroom"},
}  # fmt: skip


@pytest.fixture(scope="module")
def mq(broker: Broker) -> Iterator[Recorder]:
    with recorder(broker, "zigbee2mqtt/#", "home/#") as r:
        # What the broker holds before the daemon starts: retained, as Zigbee2MQTT and a
        # device speaking Home Assistant discovery leave them.
        r.publish("zigbee2mqtt/bridge/devices", bridge("hallway lamp"), retain=True)
        r.publish("zigbee2mqtt/garage door", json.dumps({"state": "OPEN"}), retain=True)
        r.publish("zigbee2mqtt/living room sensor", json.dumps({"temperature": 19}), retain=True)
        r.publish("homeassistant/light/bedroom/lamp/config", json.dumps(LAMP), retain=True)
        yield r
        for topic in ("zigbee2mqtt/bridge/devices", "zigbee2mqtt/garage door",
                      "zigbee2mqtt/living room sensor",
                      "homeassistant/light/bedroom/lamp/config"):  # fmt: skip
            r.publish(topic, "", retain=True)


@pytest.fixture(scope="module")
def daemon(
    pulse: Pulse, broker: Broker, mq: Recorder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Daemon]:
    # No [[devices]]: the bundled example household gives way to the devices found.
    cfg = config_for(broker, tmp_path_factory.mktemp("cfg") / "config.toml", site="home")
    with running_daemon(pulse, "--config", str(cfg)) as d:
        d.wait_until(
            lambda: any("devices from mqtt discovery: bedroom lamp" in x for x in d.stderr),
            20, "the discovered devices",
        )  # fmt: skip
        d.wait_until(lambda: any("confirmations rendered" in x for x in d.stderr), 30,
                     "their confirmations rendered")  # fmt: skip
        yield d


def ask(d: Daemon, pulse: Pulse, tmp: Path, said: str, about: str) -> dict[str, Any]:
    before = len(d.turns())
    pulse.play_into_mic(espeak_wav(said, tmp / "said.wav"))
    return d.wait_turn_about(about, before)


def test_a_spoken_command_goes_to_the_found_devices_topic(
    daemon: Daemon, pulse: Pulse, mq: Recorder, tmp_path: Path
) -> None:
    turn = ask(daemon, pulse, tmp_path, "Turn on the hallway lamp.", "lamp")
    assert turn["reply"] == "Okay, hallway lamp on.", turn
    assert turn["ms"]["tts"] < 5, turn  # rendered once found, as configured devices' are
    assert json.loads(mq.wait_for("zigbee2mqtt/hallway lamp/set")) == {"state": "ON"}
    turn = ask(daemon, pulse, tmp_path, "Turn off the bedroom lamp.", "bedroom")
    assert turn["reply"] == "Okay, bedroom lamp off.", turn
    assert mq.wait_for("home/bedroom/set") == "OFF"
    # The example household is gone: it is not a device of this home.
    turn = ask(daemon, pulse, tmp_path, "Turn on the kitchen lights.", "kitchen")
    # (tiny.en hears "lights" or "light"; the example's "kitchen lights" answers to both.)
    assert turn["reason"] == "unknown_device", turn
    assert turn["reply"].startswith("I don't know a device called kitchen light"), turn


def test_questions_are_answered_from_what_the_devices_report(
    daemon: Daemon, pulse: Pulse, mq: Recorder, tmp_path: Path
) -> None:
    turn = ask(daemon, pulse, tmp_path, "Is the garage door open?", "garage")
    assert turn["reply"] == "Yes, the garage door is open.", turn
    mq.publish("zigbee2mqtt/garage door", json.dumps({"state": "CLOSE"}))
    mq.publish("zigbee2mqtt/living room sensor", json.dumps({"temperature": 21.4, "humidity": 40}))
    time.sleep(0.5)
    turn = ask(daemon, pulse, tmp_path, "Is the garage door open?", "garage")
    assert turn["reply"] == "No, the garage door is closed.", turn
    turn = ask(daemon, pulse, tmp_path, "What's the temperature in the living room?", "temp")
    assert turn["reply"] == "It's 21.5 degrees in the living room.", turn


def test_the_devices_command_lists_what_the_assistant_knows_and_where_from(
    daemon: Daemon, broker: Broker, mq: Recorder, tmp_path: Path
) -> None:
    # (With the daemon running: its own discovery is on the broker, and must not be listed.)
    extra = '[[devices]]\nname = "garage door"\nkind = "cover"\naliases = ["big door"]\n'
    cfg = config_for(broker, tmp_path / "config.toml", extra, site="lister")
    out = run_assistant("devices", "--config", str(cfg), timeout=60)
    assert out.returncode == 0, out.stderr
    rows = {line.split("  ")[0]: line for line in out.stdout.splitlines()}
    assert "zigbee2mqtt/hallway lamp/set" in rows["hallway lamp"], out.stdout
    assert "zigbee2mqtt + config" in rows["garage door"], out.stdout  # the alias is mine
    # What each last reported: the retained states (the test above sent others unretained).
    assert rows["garage door"].endswith("open"), out.stdout
    assert rows["living room sensor"].endswith("19 °C"), out.stdout
    assert "mqtt discovery" in rows["bedroom lamp"] and "home/bedroom/set" in rows["bedroom lamp"]
    assert "kitchen lights" not in rows  # the example household gave way
    # The running daemon's own discovery (its mute switch) is not a device of the home.
    assert not [name for name in rows if name.startswith("assistant")], out.stdout


def test_a_burst_of_retained_configs_is_taken_in_once(
    broker: Broker, mq: Recorder, tmp_path: Path
) -> None:
    # A real home's broker holds hundreds of discovery configs, sent in one burst at connect:
    # the home is rebuilt, and said, once for the burst, not once a config.
    topics = [f"homeassistant/switch/plug{i}/switch/config" for i in range(60)]
    for i, topic in enumerate(topics):
        config = {"name": f"Plug {i}", "uniq_id": f"plug{i}", "cmd_t": f"plugs/{i}/set"}
        mq.publish(topic, json.dumps(config), retain=True)
    try:
        cfg = config_for(broker, tmp_path / "config.toml", site="burst")
        out = run_assistant("devices", "-v", "--config", str(cfg), timeout=60)
        assert out.returncode == 0, out.stderr
        said = [x for x in out.stderr.splitlines() if "devices from mqtt discovery" in x]
        assert len(said) <= 3, said  # (one a config before: ~60; a burst may come in two reads)
        assert all(f"plug {i} " in out.stdout for i in range(60)), out.stdout
    finally:
        for topic in topics:
            mq.publish(topic, "", retain=True)


def test_a_renamed_device_is_followed_without_a_restart(
    daemon: Daemon, pulse: Pulse, mq: Recorder, tmp_path: Path
) -> None:
    mq.publish("zigbee2mqtt/bridge/devices", bridge("landing lamp"), retain=True)
    daemon.wait_until(
        lambda: any("landing lamp" in x for x in daemon.stderr), 10, "the rename"
    )  # fmt: skip
    turn = ask(daemon, pulse, tmp_path, "Turn on the landing lamp.", "lamp")
    assert turn["reply"] == "Okay, landing lamp on.", turn
    assert json.loads(mq.wait_for("zigbee2mqtt/landing lamp/set")) == {"state": "ON"}
