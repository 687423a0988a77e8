"""Reading the three kinds of file (config.toml, models.toml, pipelines/*.toml): any problem
becomes one `ConfigError` line naming the file, the field and what is wrong."""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from assistant.config.models import ModelsFile
from assistant.config.pipeline import PipelineDef
from assistant.config.user import Config
from assistant.core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

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
    # (A section that is a dataclass says "unexpected keyword argument" for an unknown key.)
    if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        msg = "unknown field"
        hint = _did_you_mean(model, err["loc"])
        if hint:
            msg += f" (did you mean {hint!r}?)"
    else:
        msg = err["msg"].removeprefix("Value error, ")
    more = len(e.errors()) - 1
    return f"{loc or '(top level)'}: {msg}" + (f" (and {more} more problem(s))" if more else "")


def _fields(section: Any) -> dict[str, Any]:
    """A section's fields and their types: a pydantic model's, or a dataclass's."""
    if isinstance(section, type) and issubclass(section, BaseModel):
        return {k: f.annotation for k, f in section.model_fields.items()}
    if dataclasses.is_dataclass(section):
        hints = typing.get_type_hints(section)
        return {f.name: hints[f.name] for f in dataclasses.fields(section)}
    return {}


def _did_you_mean(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """Suggest the closest field name for a misspelt key."""
    current: Any = model
    for part in loc[:-1]:
        ann = _fields(current).get(part)
        if ann is None:
            return None
        current = ann if isinstance(ann, type) else getattr(ann, "__args__", (None,))[0]
    close = difflib.get_close_matches(str(loc[-1]), list(_fields(current)), n=1)
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


def redacted(obj: Any) -> Any:
    """A JSON-able view of a config with secrets and URL credentials hidden."""
    if isinstance(obj, BaseModel):
        return {k: redacted(getattr(obj, k)) for k in type(obj).model_fields}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: redacted(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
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
