"""MQTT tests that each start a daemon of their own (another site), so none may run while
`test_mqtt.py`'s module daemon listens on the same microphone: it would hear their audio,
answer it too, and run its models beside theirs. A module of their own, its fixtures torn
down before these run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import Pulse, espeak_wav
from tests.daemon_helper import running_daemon
from tests.mqtt_helper import Broker, config_for, recorder

pytestmark = [pytest.mark.models, pytest.mark.audio]


def test_ptt_set_arms_a_wake_word_pipeline(pulse: Pulse, broker: Broker, tmp_path: Path) -> None:
    cfg = config_for(broker, tmp_path / "ptt.toml", site="ptt")
    question = espeak_wav("What time is it?", tmp_path / "q.wav")
    with (
        recorder(broker, "assistant/ptt/#") as mq,
        running_daemon(pulse, "--config", str(cfg), "--pipeline", "wake-word") as d,
    ):
        mq.wait_for("assistant/ptt/status", lambda p: p == "online")
        pulse.play_into_mic(question)  # the control: no wake word, no turn
        time.sleep(2.0)
        assert d.turns() == []
        mq.publish("assistant/ptt/ptt/set", "start")
        mq.wait_for("assistant/ptt/state", lambda p: p == "wake")
        pulse.play_into_mic(question)
        assert d.wait_turns(1)[0]["route"] == "intent"
        assert "wake" in [e["type"] for e in mq.json_on("assistant/ptt/event")]


def test_retained_commands_are_ignored(pulse: Pulse, broker: Broker, tmp_path: Path) -> None:
    # Left on the broker by some earlier client: they must not act when the daemon
    # (re)subscribes.
    with recorder(broker, "assistant/ret/#") as mq:
        mq.publish("assistant/ret/say", "Stale hello.", retain=True)
        mq.publish("assistant/ret/mute/set", "ON", retain=True)
        cfg = config_for(broker, tmp_path / "ret.toml", site="ret")
        try:
            with running_daemon(pulse, "--config", str(cfg)) as d:
                mq.wait_for("assistant/ret/status", lambda p: p == "online")
                d.wait_until(
                    lambda: sum("ignoring a retained command" in ln for ln in d.stderr) >= 2,
                    10,
                    "both retained commands ignored",
                )
                pulse.play_into_mic(espeak_wav("What time is it?", tmp_path / "t.wav"))
                turns = d.wait_turns(1)  # not muted
                assert [t["origin"] for t in turns] == ["voice"]  # and nothing said
                assert mq.on("assistant/ret/mute")[-1][0] == "OFF"
        finally:
            mq.publish("assistant/ret/say", "", retain=True)
            mq.publish("assistant/ret/mute/set", "", retain=True)
