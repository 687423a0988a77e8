"""The assistant as Home Assistant sees it over MQTT: a real Home Assistant (`tests/ha/`, with
its MQTT integration on a real Mosquitto, its recorder and history) and the daemon on
PulseAudio null sinks. After a run of voice turns and announcements, the latency sensor's
history holds the voice turns' latencies and nothing else; once the daemon is idle, every
one of its entities shows what the daemon is in; stopped, they are unavailable."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Pulse, espeak_wav
from tests.daemon_helper import Daemon, running_daemon
from tests.ha.rig import HomeAssistant, ensure_built
from tests.mqtt_helper import Broker, Recorder, config_for, recorder

pytestmark = [pytest.mark.models, pytest.mark.audio, pytest.mark.homeassistant]

SITE = "ha_mqtt"
BASE = f"assistant/{SITE}"
NODE = f"assistant_{SITE}"
DISCOVERY = f"homeassistant/device/{NODE}/config"

# (kind, what): a question said into the microphone (and a word of it to know its turn
# by), or an announcement, on `say` or through Home Assistant's notify entity ("Say").
RUN = [
    ("voice", "What time is it?", "time"),
    ("say", "The washing machine has finished."),
    ("voice", "Set a timer for ten minutes.", "timer"),
    ("notify", "Someone is at the front door."),
    ("voice", "What is the capital of France?", "capital"),  # ("France": "friends", once)
    ("say", "The dishwasher is done."),
]


@pytest.fixture(scope="module")
def ha(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    ensure_built()
    with HomeAssistant(tmp_path_factory.mktemp("home-assistant"), mqtt_port=broker.port) as h:
        h.start()
        yield h


BLANK = {"unknown", "unavailable", ""}
"""States without a value."""


def number(state: str) -> float | str:
    try:
        return float(state)
    except ValueError:
        return state


def eventually(check: Callable[[], Any], what: str, timeout_s: float = 15) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.1)


def the_entities(ha: HomeAssistant, keys: set[str]) -> dict[str, str]:
    """Discovery key ("latency") -> entity_id, from Home Assistant's entity registry, once
    it has every one of `keys` (empty until then)."""
    found = {
        e["unique_id"].removeprefix(f"{NODE}_"): e["entity_id"]
        for e in ha.ws({"type": "config/entity_registry/list"})
        if e["platform"] == "mqtt" and e["unique_id"].startswith(f"{NODE}_")
    }
    return found if set(found) == keys else {}


def states_of(ha: HomeAssistant, entities: dict[str, str]) -> dict[str, dict[str, Any]]:
    every = {s["entity_id"]: s for s in ha.states()}
    return {key: every[entity_id] for key, entity_id in entities.items()}


def retained(mq: Recorder, suffix: str) -> str:
    """What the daemon last published on a topic of its own."""
    return mq.on(f"{BASE}/{suffix}")[-1][0]


def announced(d: Daemon, text: str, after: int) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        return [t for t in d.turns()[after:] if t["origin"] == "announce" and t["reply"] == text]

    d.wait_until(found, 60, f"the announcement {text!r}")
    return found()[0]


def test_home_assistant_shows_what_the_daemon_is_in(
    pulse: Pulse, broker: Broker, ha: HomeAssistant, tmp_path: Path
) -> None:
    start = dt.datetime.now(dt.UTC)
    cfg = config_for(broker, tmp_path / "config.toml", site=SITE)
    with (
        recorder(broker, f"{BASE}/#", "homeassistant/#") as mq,
        running_daemon(pulse, "--config", str(cfg)) as d,
    ):
        # Discovered: every entity the daemon announced, in Home Assistant's registry,
        # available (the daemon said `online`).
        keys = set(json.loads(mq.wait_for(DISCOVERY, timeout_s=30))["cmps"])
        assert len(keys) >= 10, keys
        entities = eventually(lambda: the_entities(ha, keys), "the entities discovered", 30)
        eventually(
            lambda: all(s["state"] != "unavailable" for s in states_of(ha, entities).values()),
            "the entities available",
        )
        eventually(lambda: states_of(ha, entities)["mute"]["state"] == "off", "not muted")

        # The run: voice turns and announcements, one after another, each once the daemon
        # is idle again.
        for step in RUN:
            eventually(lambda: retained(mq, "state") == "idle", "idle", 30)
            before = len(d.turns())
            if step[0] == "voice":
                question, word = step[1], step[2]
                pulse.play_into_mic(espeak_wav(question, tmp_path / "question.wav"))
                turn = d.wait_turn_about(word, before)
                assert turn["origin"] == "voice" and turn["outcome"] == "ok", turn
            elif step[0] == "say":
                mq.publish(f"{BASE}/say", step[1])
                announced(d, step[1], before)
            else:
                ha.call("notify", "send_message",
                        {"entity_id": entities["say"], "message": step[1]})  # fmt: skip
                announced(d, step[1], before)

        records = d.turns()
        voice = [t for t in records if t["origin"] == "voice"]
        said = [t for t in records if t["origin"] == "announce"]
        assert len(voice) == 3 and len(said) == 3, records  # nothing heard that was not said
        assert all(isinstance(t.get("first_audio_ms"), int | float) for t in voice), voice

        # Idle: the daemon's own state says so, and no turn is on its way.
        eventually(lambda: retained(mq, "state") == "idle", "idle", 30)
        time.sleep(1.0)
        assert retained(mq, "state") == "idle" and len(d.turns()) == len(records)

        # Mute and model mode set from Home Assistant, as a user would: the daemon follows
        # (its own retained topics), and Home Assistant shows what the daemon says.
        ha.call("switch", "turn_on", {"entity_id": entities["mute"]})
        mq.wait_for(f"{BASE}/mute", lambda p: p == "ON")
        ha.call("select", "select_option", {"entity_id": entities["model"], "option": "fast"})
        mq.wait_for(f"{BASE}/model", lambda p: p == "fast")

        last_voice, last_said = voice[-1], said[-1]
        last_event = json.loads(mq.on(f"{BASE}/event")[-1][0])
        want = {
            "listening": "off",  # idle
            "speaking": "off",
            "transcript": last_voice["transcript"][:255],
            "reply": last_voice["reply"][:255],
            "latency": last_voice["first_audio_ms"],
            "announcement": last_said["reply"][:255],
            "mute": retained(mq, "mute").lower(),
            "model": retained(mq, "model"),
        }

        def shown() -> dict[str, Any]:
            now = states_of(ha, entities)
            return {k: float(now[k]["state"]) if k == "latency" else now[k]["state"] for k in want}

        eventually(lambda: shown() == want, f"Home Assistant showing {want}", 10)
        now = states_of(ha, entities)
        assert now["transcript"]["attributes"]["route"] == last_voice["route"], now
        assert now["announcement"]["attributes"]["reason"] == last_said["reason"], now
        # The Turn event entity: its last event is the daemon's last event.
        assert now["turn"]["attributes"]["event_type"] == last_event["type"], now["turn"]
        assert last_event["type"] == "announcement_finished", last_event
        assert now["turn"]["attributes"]["reply"] == last_said["reply"], now["turn"]
        # Nothing left without a value but the button nobody pressed.
        blank = {k for k, s in now.items() if s["state"] in BLANK}
        assert blank == {"ptt"} and now["ptt"]["state"] == "unknown", {
            k: now[k]["state"] for k in blank
        }

        # The recorder's history over the run: the latency sensor holds the voice turns'
        # latencies, in order, and not one announcement's; Listening and Speaking were on.
        history = ha.history(list(entities.values()), start)
        latency = [s["s"] for s in history[entities["latency"]]]
        # Before the first voice turn it had no value yet (unavailable, then unknown); from
        # then on, only numbers.
        first = next(i for i, s in enumerate(latency) if s not in BLANK)
        ms = [t["first_audio_ms"] for t in voice]
        # (A turn as long as the one before would be no new state.)
        ms = [m for i, m in enumerate(ms) if i == 0 or m != ms[i - 1]]
        assert [number(s) for s in latency[first:]] == ms, (latency, said)
        for key in ("listening", "speaking"):
            assert "on" in [s["s"] for s in history[entities[key]]], history[entities[key]]
        announcements = [s["s"] for s in history[entities["announcement"]]]
        assert [a for a in announcements if a not in BLANK] == [t["reply"] for t in said], (
            announcements
        )

        # Stopped cleanly: `offline`, and every entity unavailable.
        assert d.stop() < 10 and d.proc.returncode == 0, d.stderr[-20:]
        mq.wait_for(f"{BASE}/status", lambda p: retained(mq, "status") == "offline")
        eventually(
            lambda: {s["state"] for s in states_of(ha, entities).values()} == {"unavailable"},
            "every entity unavailable",
        )
