"""`models.toml`: the model roles (asr, llm.fast, llm.large, tts, vad, turn) and where each one's
files come from, and finding those files (without downloading anything)."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, model_validator

from assistant.config.base import PositiveFloat, PositiveInt, Strict
from assistant.config.parts import Parts, assembled, located
from assistant.core.errors import ConfigError, ModelNotFoundError


class ModelSource(Strict):
    """Where a model's files come from: exactly one of `package`, `parts`, `path` or `url`.

    `package` names an installed Python package that ships the file. Either `file` is a
    path inside the package (found without importing it) or `call` names a function of the
    package that returns the path. `parts`: a file shipped as byte slices in several
    packages, assembled once in the cache (`config/parts.py`).
    """

    package: str | None = None
    file: str | None = None
    call: str | None = None
    parts: Parts | None = None
    path: Path | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ModelSource:
        given = [k for k in ("package", "parts", "path", "url") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of package, parts, path or url (got {given or 'none'})"
            )
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
    n_batch: PositiveInt = 256
    use_mmap: bool = False
    """Map the file instead of reading it. Off: llama.cpp repacks most weights for the
    CPU's SIMD into memory of its own, and a mapped file stayed resident beside that copy
    (peak RSS 2.42 GB mapped, 1.82 GB read, AVX2). Worth trying on a CPU where it repacks
    nothing."""
    """Tokens evaluated at once. It sizes buffers: llama.cpp's compute buffer and the logits
    (n_batch x vocabulary x 4 bytes, twice: 156 MB for Qwen's 151,936 tokens at 256)."""
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


class AudioTurnModel(ModelSource):
    """Has the speaker finished, from the audio (Smart Turn v3.2)."""

    engine: Literal["smart-turn"] = "smart-turn"
    threads: PositiveInt = 1


class TextTurnModel(ModelSource):
    """Has the speaker finished, from the words: a ChatML model's end-of-message token."""

    engine: Literal["chat-end-token"] = "chat-end-token"
    threads: PositiveInt = 1


class TurnRoles(Strict):
    audio: AudioTurnModel | None = None
    text: TextTurnModel | None = None


class LlmRoles(Strict):
    fast: LlmModel
    large: LlmModel | None = None


class ModelsFile(Strict):
    asr: AsrModel
    llm: LlmRoles
    tts: TtsModel
    vad: VadModel
    turn: TurnRoles = TurnRoles()
    """The end-of-turn models; without them the hold at a pause is decided from what the
    transcript plainly says (an intent understood it whole, or its words run on)."""


def resolve_model_file(
    role: str, src: ModelSource, models_file: Path, *, assemble: bool = True
) -> Path:
    """The file (or directory) a role's source points at; ModelNotFoundError if none.
    `assemble=False`: a file in slices is only located (its slices checked), not put
    together, for commands that only report (`check-config`)."""
    where = f"{models_file}: {role}"
    if src.url is not None:
        raise ConfigError(f"{where}: url sources are served over HTTP and have no local file")
    if src.path is not None:
        if not src.path.exists():
            raise ModelNotFoundError(f"{where}: model file {src.path} does not exist")
        return src.path
    if src.parts is not None:
        return assembled(src.parts, where) if assemble else located(src.parts, where)
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
