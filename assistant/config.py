"""Configuration: the user's config file, `models.toml` (model roles) and pipeline definitions.

All three are TOML validated with pydantic. Any problem becomes one `ConfigError` line
naming the file, the field and what is wrong.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from assistant.audio.devices import BLOCK_MS
from assistant.core.errors import ConfigError, ModelNotFoundError
from assistant.core.intents import DeviceKind

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- models.toml


class ModelSource(Strict):
    """Where a model's files come from: exactly one of `package`, `path` or `url`.

    `package` names an installed Python package that ships the file. Either `file` is a
    path inside the package (found without importing it) or `call` names a function of the
    package that returns the path.
    """

    package: str | None = None
    file: str | None = None
    call: str | None = None
    path: Path | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ModelSource:
        given = [k for k in ("package", "path", "url") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of package, path or url (got {given or 'none'})")
        if self.package is not None and (self.file is None) == (self.call is None):
            raise ValueError("a package source needs exactly one of file or call")
        if self.package is None and (self.file or self.call):
            raise ValueError("file and call only go with package")
        return self


class AsrModel(ModelSource):
    engine: Literal["faster-whisper"] = "faster-whisper"
    compute_type: str = "int8"
    language: str = "en"
    beam_size: PositiveInt = 5
    window_s: Annotated[float, Field(ge=5, le=30)] = 10.0
    """Whisper encoder window in seconds for utterances that fit in it (longer ones get the
    30 s it was trained on); see `engines/asr.py` for what 10 s costs and saves."""
    threads: PositiveInt = 2


class LlmModel(ModelSource):
    engine: Literal["llama-cpp", "openai"] = "llama-cpp"
    prompt_format: Literal["chat", "completion"] = "chat"
    """`chat`: the model's own chat template; `completion`: a plain prompt for base models."""
    n_ctx: PositiveInt = 2048
    threads: PositiveInt = 2
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.0
    """0 is greedy: reproducible, and the small models wander less."""
    api_key: SecretStr | None = None
    """For `url` sources: sent as a bearer token."""
    model: str = ""
    """For `url` sources: the model name the server expects (llama.cpp server ignores it)."""
    first_token_s: PositiveFloat = 8.0
    """Deadline for the first token of a reply; past it the turn falls back."""
    stall_s: PositiveFloat = 4.0
    """Longest gap between two tokens before the reply counts as stalled."""

    @model_validator(mode="after")
    def _engine_matches_source(self) -> LlmModel:
        if (self.engine == "openai") != (self.url is not None):
            raise ValueError("engine 'openai' goes with a url source, and a url with it")
        return self


class TtsModel(ModelSource):
    engine: Literal["piper"] = "piper"
    config_call: str | None = None
    """Function of the package that returns the voice's .onnx.json (default: model + .json)."""
    threads: PositiveInt = 2
    length_scale: PositiveFloat | None = None


class VadModel(ModelSource):
    engine: Literal["silero"] = "silero"


class LlmRoles(Strict):
    fast: LlmModel
    large: LlmModel | None = None


class ModelsFile(Strict):
    asr: AsrModel
    llm: LlmRoles
    tts: TtsModel
    vad: VadModel


# ---------------------------------------------------------------- user config


class AssistantSection(Strict):
    # Measured on SmolLM2-135M: this wording (and greedy decoding) keeps it in English and
    # on topic; "voice assistant in a home" made it answer in French.
    system_prompt: str = "You are a helpful assistant. Answer in English, in one short sentence."
    max_reply_tokens: PositiveInt = 64


class EscalationSection(Strict):
    """Hard turns go to `llm.large` (see assistant/core/router.py)."""

    system_prompt: str = (
        "You are a helpful assistant in a home. Answer in plain spoken English, "
        "in two to four short sentences."
    )
    max_reply_tokens: PositiveInt = 160
    acknowledgement: str = "Let me think."
    """Played at once when the large model's first clause is expected late."""
    ack_after_ms: Annotated[int, Field(ge=0)] = 700
    """Expected wait (from the routing decision to the first clause) beyond which the
    acknowledgement is played; 0 always plays it."""
    apology: str = "Sorry, I lost my train of thought."
    """Said when the large model fails after it has started speaking."""


class DeviceEntry(Strict):
    name: Annotated[str, Field(min_length=1)]
    kind: DeviceKind
    room: str = ""
    aliases: list[str] = []
    command_topic: str | None = None
    """Where MQTT sends its commands, e.g. zigbee2mqtt/kitchen_lights/set."""
    payloads: dict[str, str] = {}
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


class MemorySection(Strict):
    max_turns: Annotated[int, Field(ge=0)] = 4
    max_tokens: PositiveInt = 320
    idle_timeout_s: PositiveFloat = 60.0


class AudioSection(Strict):
    input_device: str | None = None
    """sounddevice device name or index; None is the system default."""
    output_device: str | None = None
    block_ms: Annotated[int, Field(ge=5, le=200)] = BLOCK_MS


class LogSection(Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


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
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    health_interval_s: Annotated[float, Field(ge=1, le=3600)] = 60.0
    """How often `health` is published."""

    @field_validator("password_file", "key_file")
    @classmethod
    def _private(cls, path: Path | None) -> Path | None:
        if path is None:
            return None
        try:
            mode = path.stat().st_mode
        except OSError as e:
            raise ValueError(f"{path}: {e.strerror}") from None
        if mode & 0o077:
            raise ValueError(f"{path} is readable by others (mode {mode & 0o777:o}): chmod 600 it")
        return path

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


class Config(Strict):
    models_file: Path | None = None
    """models.toml to use (relative paths are relative to this config file)."""
    pipeline: str = "open-mic"
    assistant: AssistantSection = AssistantSection()
    escalation: EscalationSection = EscalationSection()
    devices: list[DeviceEntry] = DEFAULT_DEVICES
    """The devices home-control commands may name ([[devices]] tables)."""
    memory: MemorySection = MemorySection()
    audio: AudioSection = AudioSection()
    mqtt: MqttSection = MqttSection()
    log: LogSection = LogSection()


# ---------------------------------------------------------------- pipelines/


STAGE_REGISTRY: dict[str, str] = {
    "asr": "asr",
    "intents": "",
    "llm": "llm.fast",
    "clauses": "",
    "tts": "tts",
    "speaker": "",
}
"""Known stages and the model role each needs by default ("" for none)."""
STAGE_ORDER = tuple(STAGE_REGISTRY)


class ClauseSection(Strict):
    min_first_words: PositiveInt = 3
    max_first_words: PositiveInt = 8
    max_words: PositiveInt = 30

    @model_validator(mode="after")
    def _ordered(self) -> ClauseSection:
        if self.max_first_words < self.min_first_words:
            raise ValueError("max_first_words must be at least min_first_words")
        return self


class EndpointSection(Strict):
    """End-pointing (see assistant/core/endpoint.py); times in milliseconds."""

    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    neg_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.35
    min_speech_ms: Annotated[int, Field(ge=32, le=2000)] = 120
    pause_ms: Annotated[int, Field(ge=64, le=5000)] = 200
    hold_ms: Annotated[int, Field(ge=64, le=5000)] = 500
    incomplete_hold_ms: Annotated[int, Field(ge=64, le=10000)] = 1000
    max_utterance_ms: Annotated[int, Field(ge=1000, le=60000)] = 15000
    pre_roll_ms: Annotated[int, Field(ge=0, le=2000)] = 300

    @model_validator(mode="after")
    def _ordered(self) -> EndpointSection:
        if not self.neg_threshold <= self.threshold:
            raise ValueError("neg_threshold must not exceed threshold")
        if not self.pause_ms <= self.hold_ms <= self.incomplete_hold_ms:
            raise ValueError("need pause_ms <= hold_ms <= incomplete_hold_ms")
        return self


class ListenSection(Strict):
    half_duplex: bool = True
    """While the assistant speaks it does not listen (no echo cancellation here)."""
    barge_in: bool = False
    """Speech during a reply cancels it (use with headphones or echo cancellation)."""
    echo_tail_ms: Annotated[int, Field(ge=0, le=3000)] = 300


class WakeWordSection(Strict):
    name: Literal["okay_nabu", "hey_jarvis", "hey_mycroft", "alexa"] = "okay_nabu"
    """One of pymicro-wakeword's bundled models."""
    awake_s: Annotated[float, Field(gt=0, le=30)] = 5.0
    """After the wake word, how long the question may take to start."""
    follow_up_s: Annotated[float, Field(ge=0, le=60)] = 5.0
    """After a reply, how long a follow-up needs no wake word (0: always needed)."""


class PipelineDef(Strict):
    description: str = ""
    stages: list[str]
    llm_role: Literal["llm.fast", "llm.large"] = "llm.fast"
    escalate: bool = True
    """Hard turns go to `llm.large` when models.toml gives one (see assistant/core/router.py)."""
    intents: bool = True
    """Time, timers and device commands are answered without a language model. Off, every
    turn goes to a model (`assistant bench --compare` measures what that costs)."""
    clauses: ClauseSection = ClauseSection()
    endpoint: EndpointSection = EndpointSection()
    listen: ListenSection = ListenSection()
    wake_word: WakeWordSection | None = None
    """Absent: an open microphone, every utterance is a turn."""

    @model_validator(mode="after")
    def _known_stages(self) -> PipelineDef:
        unknown = [s for s in self.stages if s not in STAGE_REGISTRY]
        if unknown:
            raise ValueError(f"unknown stage {unknown[0]!r} (known: {', '.join(STAGE_ORDER)})")
        order = [STAGE_ORDER.index(s) for s in self.stages]
        if order != sorted(order) or len(set(order)) != len(order):
            raise ValueError(f"stages must appear once each, in the order {', '.join(STAGE_ORDER)}")
        for needed in ("tts", "speaker"):
            if needed not in self.stages:
                raise ValueError(f"a pipeline needs the {needed!r} stage")
        return self


# ---------------------------------------------------------------- loading

M = TypeVar("M", bound=BaseModel)


def user_config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "assistant"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None


def _validate(model: type[M], data: dict[str, Any], path: Path) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{path}: {format_validation_error(e, model)}") from None


def format_validation_error(e: ValidationError, model: type[BaseModel]) -> str:
    """The first problem as 'field.path: what is wrong' (+ how many more)."""
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
        hint = _did_you_mean(model, err["loc"])
        if hint:
            msg += f" (did you mean {hint!r}?)"
    else:
        msg = err["msg"].removeprefix("Value error, ")
    more = len(e.errors()) - 1
    return f"{loc or '(top level)'}: {msg}" + (f" (and {more} more problem(s))" if more else "")


def _did_you_mean(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """Suggest the closest field name for a misspelt key."""
    current: Any = model
    for part in loc[:-1]:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return None
        ann = field.annotation
        current = ann if isinstance(ann, type) else getattr(ann, "__args__", (None,))[0]
    fields = list(getattr(current, "model_fields", {}))
    close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
    return close[0] if close else None


def load_config(path: Path | None) -> tuple[Config, Path | None]:
    """The user's config: `path`, else the user config dir's config.toml, else defaults."""
    if path is None:
        default = user_config_dir() / "config.toml"
        if not default.exists():
            return Config(), None
        path = default
    cfg = _validate(Config, _read_toml(path), path)
    if cfg.models_file is not None and not cfg.models_file.is_absolute():
        cfg = cfg.model_copy(update={"models_file": (path.parent / cfg.models_file).resolve()})
    return cfg, path


def models_path(cfg: Config) -> Path:
    if cfg.models_file is not None:
        return cfg.models_file
    user = user_config_dir() / "models.toml"
    return user if user.exists() else PROJECT_ROOT / "models.toml"


def load_models(path: Path) -> ModelsFile:
    models = _validate(ModelsFile, _read_toml(path), path)
    # Relative model paths are relative to models.toml.
    return _resolve_relative_paths(models, path.parent)


def _resolve_relative_paths(models: ModelsFile, base: Path) -> ModelsFile:
    def fix(src: Any) -> Any:
        if src is not None and src.path is not None and not src.path.is_absolute():
            return src.model_copy(update={"path": (base / src.path).resolve()})
        return src

    llm = models.llm.model_copy(
        update={"fast": fix(models.llm.fast), "large": fix(models.llm.large)}
    )
    return models.model_copy(
        update={"asr": fix(models.asr), "tts": fix(models.tts), "vad": fix(models.vad), "llm": llm}
    )


def pipelines_dir() -> Path:
    return PROJECT_ROOT / "pipelines"


def load_pipeline(name_or_path: str) -> PipelineDef:
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = pipelines_dir() / f"{name_or_path}.toml"
        if not path.exists():
            known = sorted(p.stem for p in pipelines_dir().glob("*.toml"))
            raise ConfigError(f"pipeline {name_or_path!r} not found (known: {', '.join(known)})")
    return _validate(PipelineDef, _read_toml(path), path)


# ---------------------------------------------------------------- resolving model files


def resolve_model_file(role: str, src: ModelSource, models_file: Path) -> Path:
    """The file (or directory) a role's source points at; ModelNotFoundError if none."""
    where = f"{models_file}: {role}"
    if src.url is not None:
        raise ConfigError(f"{where}: url sources are served over HTTP and have no local file")
    if src.path is not None:
        if not src.path.exists():
            raise ModelNotFoundError(f"{where}: model file {src.path} does not exist")
        return src.path
    assert src.package is not None
    if src.file is not None:
        spec = _find_spec(src.package)
        base = Path(spec.submodule_search_locations[0]) if spec.submodule_search_locations else None
        if base is None:
            raise ModelNotFoundError(f"{where}: {src.package} is a module, not a package")
        target = base / src.file
    else:
        assert src.call is not None
        target = Path(_call(src.package, src.call, where)())
    if not target.exists():
        raise ModelNotFoundError(
            f"{where}: package {src.package} is installed but has no {target} (reinstall it)"
        )
    return target


def resolve_companion(
    role: str, src: ModelSource, call: str | None, models_file: Path
) -> Path | None:
    """A second file of a package source, e.g. a Piper voice's config."""
    if call is None or src.package is None:
        return None
    where = f"{models_file}: {role}"
    target = Path(_call(src.package, call, where)())
    if not target.exists():
        raise ModelNotFoundError(f"{where}: package {src.package} has no {target} (reinstall it)")
    return target


def _find_spec(package: str) -> importlib.machinery.ModuleSpec:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise ModelNotFoundError(
            f"model package {package!r} is not installed (pip install {package.replace('_', '-')})"
        )
    return spec


def _call(package: str, name: str, where: str) -> Callable[[], Any]:
    _find_spec(package)
    module = importlib.import_module(package)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ModelNotFoundError(f"{where}: package {package} has no function {name}()")
    return fn  # type: ignore[no-any-return]


# ---------------------------------------------------------------- display


def redacted(obj: Any) -> Any:
    """A JSON-able view of a config with secrets and URL credentials hidden."""
    if isinstance(obj, BaseModel):
        return {k: redacted(getattr(obj, k)) for k in type(obj).model_fields}
    if isinstance(obj, SecretStr):
        return "***" if obj.get_secret_value() else ""
    if isinstance(obj, dict):
        return {k: redacted(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redacted(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, str) and "://" in obj and "@" in obj.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = obj.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return obj
