"""The service units as `install-service` writes them, checked by systemd's own tools;
the config it writes; logs as journald receives them; config errors systemd won't retry."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from assistant.commands.logs import JournalFormatter, priority
from assistant.config import Config
from assistant.core.errors import EXIT_CONFIG
from assistant.integrations.service import TEMPLATE_EXEC, config_template, render_unit
from tests.conftest import ASSISTANT, ROOT, run_assistant


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is not installed: run scripts/install --test")
    return tool


@pytest.fixture
def system_install(tmp_path: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = tmp_path / "root"
    proc = run_assistant("install-service", "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    return root, proc


@pytest.fixture
def user_install(tmp_path: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    home = tmp_path / "config"
    proc = run_assistant("install-service", "--user", env={"XDG_CONFIG_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    return home, proc


def user_manager_env(tmp_path: Path) -> dict[str, str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return dict(os.environ, XDG_RUNTIME_DIR=str(runtime))


def test_both_units_pass_systemd_analyze_verify(
    system_install: tuple[Path, Any], user_install: tuple[Path, Any], tmp_path: Path
) -> None:
    tool = systemd_analyze()
    system_unit = system_install[0] / "etc/systemd/system/assistant.service"
    user_unit = user_install[0] / "systemd/user/assistant.service"
    for unit, flags in ((system_unit, []), (user_unit, ["--user"])):
        proc = subprocess.run(
            [tool, *flags, "verify", str(unit)],
            capture_output=True,
            text=True,
            env=user_manager_env(tmp_path),
            timeout=60,
        )
        assert (proc.returncode, proc.stderr, proc.stdout) == (0, "", ""), (unit, proc.stderr)
        text = unit.read_text()
        assert f"ExecStart={ASSISTANT} run --config %E/assistant/config.toml" in text
        assert TEMPLATE_EXEC not in text


def test_the_system_unit_is_rated_at_most_2_5_by_systemd_analyze_security(
    system_install: tuple[Path, Any],
) -> None:
    unit = system_install[0] / "etc/systemd/system/assistant.service"
    proc = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", proc.stdout)
    assert found, proc.stdout + proc.stderr
    assert float(found.group(1)) <= 2.5, proc.stdout


@pytest.mark.parametrize("kind", ["system", "user"])
def test_units_tell_systemd_the_truth_and_do_not_restart_loop_on_a_bad_config(kind: str) -> None:
    unit = (ROOT / "systemd" / kind / "assistant.service").read_text()
    settings = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in unit.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert settings["Type"] == "notify"
    assert settings["NotifyAccess"] == "main"
    assert settings["WatchdogSec"].endswith("s")
    assert settings["Restart"] == "on-failure"
    assert settings["RestartPreventExitStatus"] == str(EXIT_CONFIG)
    assert int(settings["StartLimitBurst"]) > 0 and settings["StartLimitIntervalSec"]
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["ProtectSystem"] == "strict"
    assert settings["SystemCallFilter"].startswith("~@privileged")  # the last one wins here
    if kind == "system":
        assert settings["DynamicUser"] == "yes" and settings["SupplementaryGroups"] == "audio"
        assert settings["DeviceAllow"] == "char-alsa rw"
        assert settings["LoadCredential"].startswith("mqtt-password:")
    else:
        # The user's sound server lives in /run/user/$UID: not hidden.
        assert settings["ProtectHome"] == "read-only"


def test_install_service_writes_a_config_that_validates_and_prints_the_commands(
    system_install: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, proc = system_install
    config = root / "etc/assistant/config.toml"
    credential = root / "etc/assistant/mqtt-password"
    assert (credential.stat().st_mode & 0o777, credential.read_text()) == (0o600, "")
    assert config.stat().st_mode & 0o777 == 0o644  # the dynamic user reads it
    lines = proc.stdout.splitlines()
    want = "" if os.geteuid() == 0 else "sudo "
    assert f"  {want}systemctl daemon-reload" in lines
    assert f"  {want}systemctl enable --now assistant.service" in lines
    checked = run_assistant("check-config", "--config", str(config))
    assert checked.returncode == 0, checked.stderr
    # An existing config is never overwritten.
    config.write_text("[memory]\nmax_turns = 2\n")
    again = run_assistant("install-service", "--root", str(root))
    assert again.returncode == 0 and f"kept {config}" in again.stdout
    assert config.read_text() == "[memory]\nmax_turns = 2\n"


def test_user_install_prints_user_manager_commands(
    user_install: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    home, proc = user_install
    assert (home / "assistant/config.toml").stat().st_mode & 0o777 == 0o600
    assert "  systemctl --user enable --now assistant.service" in proc.stdout.splitlines()
    assert "loginctl enable-linger" in proc.stdout


def test_install_service_that_cannot_write_says_so_in_one_line(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    (root / "etc").mkdir(parents=True)
    (root / "etc").chmod(0o500)
    try:
        if os.access(root / "etc", os.W_OK):  # root ignores modes: use a file in the way
            (root / "etc").chmod(0o700)
            (root / "etc/systemd").write_text("not a directory")
        proc = run_assistant("install-service", "--root", str(root))
    finally:
        (root / "etc").chmod(0o700)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "etc/systemd" in proc.stderr


def test_a_system_unit_for_an_installation_under_home_keeps_home_readable() -> None:
    at_opt = render_unit(False, TEMPLATE_EXEC, ROOT)
    under_home = render_unit(False, "/home/pi/assistant/.venv/bin/assistant", ROOT)
    assert "ProtectHome=yes" in at_opt or ROOT.is_relative_to("/home")
    assert "ProtectHome=read-only" in under_home and "ProtectHome=yes" not in under_home


def test_every_commented_setting_of_the_config_template_is_real_and_shows_its_default() -> None:
    text = config_template()
    assert Config.model_validate(tomllib.loads(text)) == Config()  # all commented out
    uncommented = re.sub(r"(?m)^#(?=\[|[a-z_]+ = )", "", text)
    assert uncommented != text
    data = tomllib.loads(uncommented)
    cfg = Config.model_validate(data)  # every key exists and every value is valid
    # Defaults unless the template calls it an example (no default, or a sample value).
    examples = {
        "models_file",
        "audio.input_device",
        "audio.output_device",
        "mqtt.url",
        "mqtt.username",
        "mqtt.password_credential",
        "mqtt.ca_file",
        "mqtt.site",
        "devices",
    }
    default = Config().model_dump()
    got = cfg.model_dump()
    for section, values in data.items():
        if not isinstance(values, dict):
            if section not in examples:
                assert got[section] == default[section], section
            continue
        for key in values:
            if f"{section}.{key}" not in examples:
                assert got[section][key] == default[section][key], f"{section}.{key}"


def test_journal_lines_carry_the_priority_and_stay_one_line() -> None:
    fmt = JournalFormatter("%(levelname)s %(name)s: %(message)s")
    try:
        int("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = fmt.format(record)
    assert line.startswith("<3>ERROR x: failed\\nTraceback") and "\n" not in line
    assert [priority(n) for n in (10, 20, 30, 40, 50)] == [7, 6, 4, 3, 2]


def test_a_bad_config_under_journald_is_one_error_line_and_exit_78(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[memory]\nmax_turnz = 3\n")
    err = tmp_path / "stderr"
    with err.open("w") as stream:
        st = os.fstat(stream.fileno())
        proc = subprocess.run(
            [str(ASSISTANT), "run", "--config", str(cfg)],
            env=dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}"),
            stdout=subprocess.DEVNULL,
            stderr=stream,
            timeout=120,
        )
    assert proc.returncode == EXIT_CONFIG
    lines = err.read_text().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"<3>assistant: config: {cfg}: memory.max_turnz")
    assert "did you mean 'max_turns'" in lines[0]
    assert "\x1b" not in lines[0]


def test_an_empty_mqtt_credential_stops_run_at_once_with_exit_78(tmp_path: Path) -> None:
    # What install-service leaves until the password is filled in.
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "mqtt-password").write_text("")
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[mqtt]\nurl = "mqtt://127.0.0.1:1"\nusername = "a"\n'
        'password_credential = "mqtt-password"\n'
    )
    proc = run_assistant(
        "run", "--config", str(cfg), env={"CREDENTIALS_DIRECTORY": str(creds)}, timeout=30
    )
    assert proc.returncode == EXIT_CONFIG
    assert proc.stderr.strip().splitlines() == [
        f"assistant: config: mqtt.password_credential: {creds / 'mqtt-password'} is empty: "
        "put the broker's password in it"
    ]
