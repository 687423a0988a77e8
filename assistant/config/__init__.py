"""Configuration: the user's config.toml, models.toml (model roles) and the pipeline
definitions, all TOML validated with pydantic against the settings each part defines."""

from assistant.config.load import (
    PROJECT_ROOT,
    load_config,
    load_models,
    load_pipeline,
    models_path,
    pipelines_dir,
    redacted,
    user_config_dir,
)
from assistant.config.models import (
    AsrModel,
    LlmModel,
    ModelsFile,
    ModelSource,
    resolve_companion,
    resolve_model_file,
)
from assistant.config.pipeline import PipelineDef
from assistant.config.user import (
    DEFAULT_DEVICES,
    Config,
    DeviceEntry,
    HomeAssistantSection,
    MqttSection,
)

__all__ = [
    "DEFAULT_DEVICES",
    "PROJECT_ROOT",
    "AsrModel",
    "Config",
    "DeviceEntry",
    "HomeAssistantSection",
    "LlmModel",
    "ModelSource",
    "ModelsFile",
    "MqttSection",
    "PipelineDef",
    "load_config",
    "load_models",
    "load_pipeline",
    "models_path",
    "pipelines_dir",
    "redacted",
    "resolve_companion",
    "resolve_model_file",
    "user_config_dir",
]
