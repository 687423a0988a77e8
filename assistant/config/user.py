"""config.toml: the user's file. Each section is the settings class of the part it
configures, defined there with its defaults and docs; MQTT and the devices are defined here
because nothing below the integrations reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from assistant.audio.devices import AudioSettings
from assistant.config.base import Strict
from assistant.core.intents import DeviceKind
from assistant.core.memory import MemorySettings
from assistant.pipeline.stages.escalation import EscalationSettings
from assistant.pipeline.stages.llm import ReplySettings


class DeviceEntry(Strict):
    name: Annotated[str, Field(min_length=1)]
    kind: DeviceKind
    room: str = ""
    aliases: list[str] = Field(default_factory=list)
    command_topic: str | None = None
    """Where MQTT sends its commands, e.g. zigbee2mqtt/kitchen_lights/set."""
    payloads: dict[str, str] = Field(default_factory=dict)
    """Payload per command (on, off, open, close, set; {value} is replaced), default
    Zigbee2MQTT style: {"state": "ON"} / {"state": "OFF"} / {"brightness_percent": 30}."""


DEFAULT_DEVICES = [
    DeviceEntry(name="kitchen lights", kind="light", room="kitchen"),
    DeviceEntry(name="living room lights", kind="light", room="living room"),
    DeviceEntry(name="bedroom lights", kind="light", room="bedroom"),
    DeviceEntry(name="hallway lights", kind="light", room="hallway"),
    DeviceEntry(name="porch light", kind="light", room="porch"),
    DeviceEntry(name="bedroom fan", kind="fan", room="bedroom"),
    DeviceEntry(
        name="living room thermostat",
        kind="climate",
        room="living room",
        aliases=["thermostat", "heating"],
    ),
    DeviceEntry(name="garage door", kind="cover", room="garage"),
]
"""An example household, so the bundled defaults answer "turn on the kitchen lights"."""


class LogSection(Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


def private_file(path: Path | None) -> Path | None:
    """A file holding a secret (`~` is the home directory): it must exist and be readable
    by its owner alone."""
    if path is None:
        return None
    path = path.expanduser()
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise ValueError(f"{path}: {e.strerror}") from None
    if mode & 0o077:
        raise ValueError(f"{path} is readable by others (mode {mode & 0o777:o}): chmod 600 it")
    return path


class MqttSection(Strict):
    """The MQTT broker (optional: without `url` the daemon runs without MQTT)."""

    url: str | None = None
    """mqtt://host:1883 or mqtts://host:8883 (credentials in the URL are not accepted)."""
    username: str | None = None
    password_file: Path | None = None
    """A file holding the password (not readable by others)."""
    password_credential: str | None = None
    """The name of a systemd credential holding the password (LoadCredential= or
    SetCredentialEncrypted= in the unit): read from $CREDENTIALS_DIRECTORY."""
    password: SecretStr | None = None
    """Inline password: allowed, with a warning; prefer password_file."""
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str | None = None
    site: str | None = None
    """Names this assistant in topics; default: the host name, sanitised."""
    base_topic: str | None = None
    """Default: assistant/<site>."""
    discovery_prefix: str = "homeassistant"
    find_devices: bool = True
    """Take the home's devices, and what they report, from the broker: Zigbee2MQTT's
    `bridge/devices` and Home Assistant's retained MQTT discovery configs."""
    zigbee2mqtt_topic: str = "zigbee2mqtt"
    """Zigbee2MQTT's base topic."""
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    health_interval_s: Annotated[float, Field(ge=1, le=3600)] = 60.0
    """How often `health` is published."""

    _private = field_validator("password_file", "key_file")(private_file)

    @model_validator(mode="after")
    def _url(self) -> MqttSection:
        if self.url is None:
            return self
        if not self.url.startswith(("mqtt://", "mqtts://")):
            raise ValueError("url must start with mqtt:// or mqtts://")
        netloc = self.url.split("://", 1)[1].split("/", 1)[0]
        if "@" in netloc:
            raise ValueError("put credentials in username / password_file, not in the url")
        given = [self.password, self.password_file, self.password_credential]
        if sum(x is not None for x in given) > 1:
            raise ValueError("give one of password_file, password_credential or password")
        return self


class HomeAssistantSection(Strict):
    """Home Assistant (optional): its areas, devices and the entities exposed to Assist, kept
    in step through its WebSocket API; commands as its service calls."""

    url: str | None = None
    """http://homeassistant.local:8123 (or https://)."""
    token_file: Path | None = None
    """A file holding a long-lived access token (your profile, Security), not readable by
    others."""
    token_credential: str | None = None
    """The name of a systemd credential holding the token: read from $CREDENTIALS_DIRECTORY."""
    refresh_s: Annotated[float, Field(ge=5, le=3600)] = 60.0
    """How often what is exposed to Assist is read again (Home Assistant announces renames
    and new devices, but not a change of what is exposed)."""

    _private = field_validator("token_file")(private_file)

    @model_validator(mode="after")
    def _url(self) -> HomeAssistantSection:
        if self.url is None:
            return self
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        if (self.token_file is None) == (self.token_credential is None):
            raise ValueError("give one of token_file or token_credential")
        return self


class Config(Strict):
    models_file: Path | None = None
    """models.toml to use (relative paths are relative to this config file)."""
    pipeline: str = "open-mic"
    assistant: ReplySettings = ReplySettings()
    escalation: EscalationSettings = EscalationSettings()
    devices: list[DeviceEntry] = DEFAULT_DEVICES
    """The devices home-control commands may name ([[devices]] tables)."""
    memory: MemorySettings = MemorySettings()
    audio: AudioSettings = AudioSettings()
    mqtt: MqttSection = MqttSection()
    homeassistant: HomeAssistantSection = HomeAssistantSection()
    log: LogSection = LogSection()
