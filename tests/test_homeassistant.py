"""Against a real Home Assistant (`tests/ha/`: the newest Home Assistant Core, in a Debian
root of its own with the Python it needs, the demo integration's lights, covers and
thermostats and template temperature sensors, in areas, some exposed to Assist and some
not), with the daemon on PulseAudio null sinks: the exposed entities become the
assistant's devices, a spoken command changes an entity's state, questions are answered
from Home Assistant's states, a rename is followed without a restart, and Home Assistant
stopping mid-run stops nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Pulse, espeak_wav, run_assistant
from tests.daemon_helper import Daemon, running_daemon
from tests.ha.rig import EXPOSED, NOT_EXPOSED_EXAMPLES, HomeAssistant, ensure_built

pytestmark = [pytest.mark.models, pytest.mark.audio, pytest.mark.homeassistant]


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    ensure_built()
    h = HomeAssistant(tmp_path_factory.mktemp("home-assistant"))
    h.start()
    yield h
    h.stop()


def config_for(ha: HomeAssistant, directory: Path) -> Path:
    token = directory / "ha-token"
    token.write_text(ha.token + "\n")
    token.chmod(0o600)
    cfg = directory / "config.toml"
    cfg.write_text(f'[homeassistant]\nurl = "{ha.url}"\ntoken_file = "{token}"\n')
    return cfg


@pytest.fixture(scope="module")
def daemon(
    pulse: Pulse, ha: HomeAssistant, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Daemon]:
    cfg = config_for(ha, tmp_path_factory.mktemp("cfg"))
    with running_daemon(pulse, "--config", str(cfg)) as d:
        d.wait_until(lambda: logged(d, "devices from home assistant:"), 60, "its devices")
        yield d


def logged(d: Daemon, text: str, since: int = 0) -> bool:
    return any(text in line for line in d.stderr[since:])


def ask(d: Daemon, pulse: Pulse, tmp: Path, said: str, about: str) -> dict[str, Any]:
    before = len(d.turns())
    pulse.play_into_mic(espeak_wav(said, tmp / "said.wav"))
    return d.wait_turn_about(about, before)


def commanded(
    d: Daemon,
    ha: HomeAssistant,
    pulse: Pulse,
    tmp: Path,
    said: str,
    reply: str,
    entity: str,
    state: str,
) -> None:
    """`said` is answered `reply`, and the entity is then in `state` in Home Assistant."""
    turn = ask(d, pulse, tmp, said, said.split()[-1].rstrip("."))
    assert turn["reply"] == reply, turn
    eventually(lambda: ha.state(entity)["state"] == state, f"{entity} {state}")


def eventually(check: Callable[[], bool], what: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


def test_the_devices_are_those_exposed_to_assist(ha: HomeAssistant, tmp_path: Path) -> None:
    out = run_assistant("devices", "--config", str(config_for(ha, tmp_path)), timeout=120)
    assert out.returncode == 0, out.stderr
    listed = out.stdout
    for entity_id in EXPOSED:
        assert f"({entity_id})" in listed, (entity_id, listed)
    for entity_id in NOT_EXPOSED_EXAMPLES:
        assert entity_id not in listed, listed
    rows = {line.split("  ")[0]: line for line in listed.splitlines()}
    kitchen = rows["kitchen lights"]
    assert " kitchen " in kitchen and "home assistant" in kitchen, kitchen  # its device's area
    assert "(light.kitchen_lights)" in kitchen, kitchen
    # What Home Assistant says of it now.
    assert kitchen.endswith(ha.state("light.kitchen_lights")["state"]), kitchen


def test_a_refused_token_or_no_home_assistant_is_said_and_the_rest_goes_on(
    ha: HomeAssistant, tmp_path: Path
) -> None:
    cfg = config_for(ha, tmp_path)
    (tmp_path / "ha-token").write_text("not-a-token\n")
    out = run_assistant("devices", "--config", str(cfg), timeout=120)
    assert out.returncode == 0, out.stderr  # the configured devices are still listed
    assert "it refused the token" in out.stderr, out.stderr
    assert "not-a-token" not in out.stderr + out.stdout  # a token is never shown
    cfg.write_text(cfg.read_text().replace(ha.url, "http://127.0.0.1:9"))  # nothing there
    out = run_assistant("devices", "--config", str(cfg), timeout=120)
    assert out.returncode == 0 and "http://127.0.0.1:9" in out.stderr, out.stderr


def test_a_spoken_command_changes_the_entity_in_home_assistant(
    daemon: Daemon, ha: HomeAssistant, pulse: Pulse, tmp_path: Path
) -> None:
    ha.call("light", "turn_on", {"entity_id": "light.kitchen_lights"})
    commanded(daemon, ha, pulse, tmp_path, "Turn off the kitchen lights.",
              "Okay, kitchen lights off.", "light.kitchen_lights", "off")  # fmt: skip


def test_questions_are_answered_from_home_assistants_states(
    daemon: Daemon, ha: HomeAssistant, pulse: Pulse, tmp_path: Path
) -> None:
    for service, now, reply in [
        ("open_cover", "open", "Yes, the garage door is open."),
        ("close_cover", "closed", "No, the garage door is closed."),
    ]:
        ha.call("cover", service, {"entity_id": "cover.garage_door"})
        eventually(lambda: ha.state("cover.garage_door")["state"] == now, f"the door {now}")  # noqa: B023
        time.sleep(0.5)  # the state_changed event reaches the daemon
        turn = ask(daemon, pulse, tmp_path, "Is the garage door open?", "garage")
        assert turn["reply"] == reply, turn
    celsius = float(ha.state("sensor.living_room_temperature")["state"])
    turn = ask(daemon, pulse, tmp_path, "What's the temperature in the living room?", "temp")
    assert turn["reply"] == f"It's {round(celsius * 2) / 2:g} degrees in the living room.", turn


def test_a_renamed_entity_is_followed_without_a_restart(
    daemon: Daemon, ha: HomeAssistant, pulse: Pulse, tmp_path: Path
) -> None:
    since = len(daemon.stderr)
    # Renamed as a user renames a device in Home Assistant (the entity takes its device's
    # name: renaming the demo's entity itself gives "Bed Light Reading Lamp").
    entry = ha.ws({"type": "config/entity_registry/get", "entity_id": "light.bed_light"})
    ha.ws({"type": "config/device_registry/update", "device_id": entry["device_id"],
           "name_by_user": "Reading Lamp"})  # fmt: skip
    daemon.wait_until(lambda: logged(daemon, "reading lamp", since), 30, "the rename")
    ha.call("light", "turn_off", {"entity_id": "light.bed_light"})
    commanded(daemon, ha, pulse, tmp_path, "Turn on the reading lamp.",
              "Okay, reading lamp on.", "light.bed_light", "on")  # fmt: skip


def test_home_assistant_stopped_mid_run_stops_nothing_and_comes_back(
    daemon: Daemon, ha: HomeAssistant, pulse: Pulse, tmp_path: Path
) -> None:
    since = len(daemon.stderr)
    ha.stop()
    daemon.wait_until(lambda: logged(daemon, "home assistant: ", since), 30, "the loss said")
    turn = ask(daemon, pulse, tmp_path, "What time is it?", "time")
    assert turn["outcome"] == "ok", turn
    # The devices it last knew stay: the command is understood, and said not to be done
    # (not confirmed and lost).
    turn = ask(daemon, pulse, tmp_path, "Turn on the kitchen lights.", "kitchen")
    assert turn["reply"] == "Sorry, I can't reach Home Assistant right now: nothing was changed."
    errors = [x for x in daemon.stderr[since:] if x.startswith("ERROR")]
    assert len(errors) == 1, errors  # the loss, said once: no flood
    ha.restart()
    daemon.wait_until(lambda: logged(daemon, "connected again", since), 90, "the link back")
    commanded(daemon, ha, pulse, tmp_path, "Turn on the kitchen lights.",
              "Okay, kitchen lights on.", "light.kitchen_lights", "on")  # fmt: skip
