"""The broker credentials: the password (inline, from a file or a systemd credential) and
the TLS context; a file that cannot be read is a ConfigError."""

from __future__ import annotations

import logging
import ssl

from assistant.config import MqttSection
from assistant.integrations.secrets import read_secret

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
    inline = cfg.password.get_secret_value() if cfg.password is not None else None
    return read_secret(
        "mqtt", "password", inline=inline, file=cfg.password_file,
        credential=cfg.password_credential, what="the broker's password",
    )  # fmt: skip


def _tls_context(cfg: MqttSection) -> ssl.SSLContext | None:
    if cfg.ca_file is None and cfg.cert_file is None:
        return None
    ctx = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
    if cfg.cert_file is not None:
        ctx.load_cert_chain(str(cfg.cert_file), str(cfg.key_file) if cfg.key_file else None)
    return ctx
