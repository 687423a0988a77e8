"""The project's exception tree. Every error has a short code for logs, events and exit status.

AssistantError                  code
├── ConfigError                 config        a config or models file is wrong (exit 78)
│   └── ModelNotFoundError      model_missing  a model role points at nothing (exit 78)
├── AudioDeviceError            audio_device   a sound device is missing, busy or died
├── RecordFileError             records        a record file (bench, compare, report) is not one
└── StageError                  <stage>        one stage of one turn failed; the turn ends,
    ├── AsrError                asr            the process does not
    ├── LlmError                llm
    └── TtsError                tts
"""

from __future__ import annotations

# sysexits.h EX_CONFIG: systemd's RestartPreventExitStatus= keys on it so a bad config
# does not restart-loop.
EXIT_CONFIG = 78
EXIT_FAILURE = 1


class AssistantError(Exception):
    code = "error"
    exit_status = EXIT_FAILURE


class ConfigError(AssistantError):
    """Raised with one line naming the file, the field and what is wrong."""

    code = "config"
    exit_status = EXIT_CONFIG


class ModelNotFoundError(ConfigError):
    code = "model_missing"


class AudioDeviceError(AssistantError):
    code = "audio_device"


class RecordFileError(AssistantError):
    """Raised with one line naming the file and the line that is wrong."""

    code = "records"


class StageError(AssistantError):
    code = "stage"


class AsrError(StageError):
    code = "asr"


class LlmError(StageError):
    code = "llm"


class TtsError(StageError):
    code = "tts"
