"""MQTT over TLS with password authentication and an ACL, on a second Mosquitto listener;
and what the daemon does with bad credentials or a careless password file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Pulse, run_assistant
from tests.daemon_helper import Daemon, running_daemon
from tests.mqtt_helper import TlsBroker, recorder

pytestmark = [pytest.mark.models, pytest.mark.audio]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    b = TlsBroker(tmp_path_factory.mktemp("mosquitto-tls"))
    yield b
    b.stop()


def tls_config(broker: TlsBroker, tmp: Path, user: str, password: str) -> Path:
    pw = tmp / f"{user}.password"
    pw.write_text(password + "\n")
    pw.chmod(0o600)
    cfg = tmp / f"{user}.toml"
    cfg.write_text(
        f'[mqtt]\nurl = "mqtts://127.0.0.1:{broker.tls_port}"\nsite = "tls"\n'
        f'username = "{user}"\npassword_file = "{pw}"\nca_file = "{broker.files["ca"]}"\n'
    )
    return cfg


def wait_lines(d: Daemon, text: str, n: int, timeout_s: float = 30) -> list[str]:
    d.wait_until(lambda: sum(text in ln for ln in d.stderr) >= n, timeout_s, repr(text))
    return [ln for ln in d.stderr if text in ln]


def test_tls_with_a_password_connects_and_publishes(
    pulse: Pulse, broker: TlsBroker, tmp_path: Path
) -> None:
    cfg = tls_config(broker, tmp_path, "assistant", "s3cret")
    with (
        recorder(broker, "assistant/tls/#") as mq,
        running_daemon(pulse, "--config", str(cfg)) as d,
    ):
        assert mq.wait_for("assistant/tls/status") == "online"
        wait_lines(d, "mqtt: connected", 1)
        assert not any("s3cret" in ln for ln in d.stderr + d.stdout)


def test_a_wrong_password_is_a_clear_error_and_retried_never_a_crash(
    pulse: Pulse, broker: TlsBroker, tmp_path: Path
) -> None:
    cfg = tls_config(broker, tmp_path, "assistant", "wrong")
    with running_daemon(pulse, "--config", str(cfg)) as d:
        refused = wait_lines(d, "the broker refused the connection", 2)
        assert "Not authorized" in refused[0] or "password" in refused[0].lower(), refused[0]
        assert d.proc.poll() is None
        assert not any("Traceback" in ln for ln in d.stderr)


def test_a_user_the_acl_denies_is_reported(pulse: Pulse, broker: TlsBroker, tmp_path: Path) -> None:
    cfg = tls_config(broker, tmp_path, "denied", "nope")
    with running_daemon(pulse, "--config", str(cfg)) as d:
        denied = wait_lines(d, "not allowed to subscribe", 1)
        assert "assistant/tls/#" in denied[0] and "denied" in denied[0]
        assert d.proc.poll() is None


def test_a_password_file_readable_by_others_is_refused(
    pulse: Pulse, broker: TlsBroker, tmp_path: Path
) -> None:
    cfg = tls_config(broker, tmp_path, "assistant", "s3cret")
    (tmp_path / "assistant.password").chmod(0o644)
    proc = run_assistant("check-config", "--config", str(cfg), env=pulse.env, timeout=60)
    assert proc.returncode == 78, proc.stderr
    assert "mqtt.password_file" in proc.stderr and "readable by others" in proc.stderr


def test_the_password_can_be_a_systemd_credential(
    pulse: Pulse, broker: TlsBroker, tmp_path: Path
) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "mqtt-password").write_text("s3cret\n")
    cfg = tmp_path / "cred.toml"
    cfg.write_text(
        f'[mqtt]\nurl = "mqtts://127.0.0.1:{broker.tls_port}"\nsite = "cred"\n'
        f'username = "assistant"\npassword_credential = "mqtt-password"\n'
        f'ca_file = "{broker.files["ca"]}"\n'
    )
    env = {"CREDENTIALS_DIRECTORY": str(creds)}
    with (
        recorder(broker, "assistant/cred/#") as mq,
        running_daemon(pulse, "--config", str(cfg), env=env),
    ):
        assert mq.wait_for("assistant/cred/status") == "online"
