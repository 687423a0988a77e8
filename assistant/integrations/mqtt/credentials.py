"""The broker credentials: the password (inline, from a file or a systemd credential) and
the TLS context; a file that cannot be read is a ConfigError."""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path

from assistant.config import MqttSection
from assistant.core.errors import ConfigError

log = logging.getLogger("assistant.integrations.mqtt")
"""The package's logger, so log lines name `assistant.integrations.mqtt` as before the split."""


def check_credentials(cfg: MqttSection) -> None:
    """The password and TLS files can be read: a ConfigError now, not once connecting.
    (Called once at start: the warning below is said once.)"""
    if cfg.password is not None:
        log.warning("mqtt: the password is inline in the config file; prefer password_file")
    _password(cfg)
    _tls_context(cfg)


def _password(cfg: MqttSection) -> str | None:
    if cfg.password is not None:
        return cfg.password.get_secret_value()
    if cfg.password_credential is not None:
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ConfigError(
                "mqtt.password_credential: $CREDENTIALS_DIRECTORY is not set "
                "(run under systemd with LoadCredential=)"
            )
        path, field = Path(directory) / cfg.password_credential, "password_credential"
    elif cfg.password_file is not None:
        path, field = cfg.password_file, "password_file"  # (checked private at load)
    else:
        return None
    try:
        password = path.read_text().strip()
    except OSError as e:
        raise ConfigError(f"mqtt.{field}: {path}: {e.strerror}") from None
    if not password:
        # (install-service leaves an empty credential file for the unit's LoadCredential=.)
        raise ConfigError(f"mqtt.{field}: {path} is empty: put the broker's password in it")
    return password


def _tls_context(cfg: MqttSection) -> ssl.SSLContext | None:
    if cfg.ca_file is None and cfg.cert_file is None:
        return None
    ctx = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
    if cfg.cert_file is not None:
        ctx.load_cert_chain(str(cfg.cert_file), str(cfg.key_file) if cfg.key_file else None)
    return ctx
