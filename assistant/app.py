"""The composition root: config -> engines -> turn runner. Nothing else builds them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio.vad import SileroVad
from assistant.audio.wakeword import MicroWakeWordDetector, WakeWordDetector, WakeWordSettings
from assistant.config import (
    AsrModel,
    Config,
    LlmModel,
    ModelsFile,
    ModelSource,
    PipelineDef,
    load_config,
    load_models,
    load_pipeline,
    models_path,
    redacted,
    resolve_companion,
    resolve_model_file,
)
from assistant.core.actions import ActionSink
from assistant.core.clauses import NOT_SURE_SAY
from assistant.core.clock import MONOTONIC, Clock
from assistant.core.errors import ConfigError
from assistant.core.home import Home
from assistant.core.intents import Device, all_confirmations, fixed_replies
from assistant.core.latency import TurnRecord
from assistant.core.memory import ConversationMemory
from assistant.engines import Engines
from assistant.engines.asr import WhisperTranscriber
from assistant.engines.llm import (
    ChatModel,
    LlamaChatModel,
    LlamaCompletionModel,
    Message,
    OpenAIChatModel,
)
from assistant.engines.tts import PiperSynthesizer
from assistant.engines.turn_model import SmartTurn
from assistant.engines.turn_text import ChatEndOfTurn
from assistant.engines.worker import CpuGate, Worker
from assistant.pipeline.listener import Listener, ListenState
from assistant.pipeline.stages.llm import ModelSettings
from assistant.pipeline.turn import TurnRunner, TurnSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the configuration files say, validated."""

    config: Config
    config_path: Path | None
    models: ModelsFile
    models_path: Path
    pipeline: PipelineDef
    pipeline_name: str

    def llm_model(self) -> LlmModel:
        if self.pipeline.llm_role == "llm.large":
            if self.models.llm.large is None:
                raise ConfigError(
                    f"{self.models_path}: llm.large: the pipeline needs it, none given"
                )
            return self.models.llm.large
        return self.models.llm.fast

    def large_model(self) -> LlmModel | None:
        """The model hard turns escalate to, if this pipeline escalates and one is given."""
        large = self.models.llm.large
        if not self.pipeline.escalates or self.pipeline.llm_role == "llm.large":
            return None
        return large

    def model_files(self, *, assemble: bool = True) -> dict[str, Path]:
        """The files of the roles this pipeline uses (ModelNotFoundError if one is missing).
        A model served over HTTP has none. `assemble=False` puts no file together (a
        command that only reports must not write 1.1 GB)."""
        m, mf = self.models, self.models_path
        files = {"asr": resolve_model_file("asr", m.asr, mf)}
        llms = [(self.pipeline.llm_role, self.llm_model())]
        if (large := self.large_model()) is not None:
            llms.append(("llm.large", large))
        for role, llm in llms:
            if llm.url is None:
                files[role] = resolve_model_file(role, llm, mf, assemble=assemble)
        files["tts"] = resolve_model_file("tts", m.tts, mf)
        files["vad"] = resolve_model_file("vad", m.vad, mf)
        turn_roles: list[tuple[str, ModelSource | None]] = [
            ("turn.audio", m.turn.audio),
            ("turn.text", m.turn.text),
        ]
        for turn_role, source in turn_roles:
            if source is not None:
                files[turn_role] = resolve_model_file(turn_role, source, mf)
        voice_cfg = resolve_companion("tts", m.tts, m.tts.config_call, mf)
        if voice_cfg is not None:
            files["tts.config"] = voice_cfg
        return files

    def describe(self) -> dict[str, Any]:
        """The resolved configuration, secrets redacted (for `assistant check-config`)."""
        return {
            "config_file": str(self.config_path) if self.config_path else "(built-in defaults)",
            "models_file": str(self.models_path),
            "pipeline": self.pipeline_name,
            "config": redacted(self.config),
            "pipeline_def": redacted(self.pipeline),
            "models": redacted(self.models),
            "model_files": {k: str(v) for k, v in self.model_files(assemble=False).items()},
        }


def load_settings(config_file: Path | None, pipeline: str | None = None) -> Settings:
    config, config_path = load_config(config_file)
    mpath = models_path(config)
    name = pipeline or config.pipeline
    return Settings(config, config_path, load_models(mpath), mpath, load_pipeline(name), name)


def turn_settings(settings: Settings) -> TurnSettings:
    fast = settings.llm_model()
    large = settings.large_model()
    esc = settings.config.escalation
    reply = settings.config.assistant
    return TurnSettings(
        fast=ModelSettings(
            reply.system_prompt, reply.max_reply_tokens, fast.first_token_s, fast.stall_s
        ),
        splitter=settings.pipeline.clauses,
        escalation=None if large is None else esc,
        large=None
        if large is None
        else ModelSettings(
            esc.system_prompt, esc.max_reply_tokens, large.first_token_s, large.stall_s
        ),
        devices=configured_devices(settings),
        stages=settings.pipeline.stages,
        max_reply_s=reply.max_reply_s,
        long_reply_s=reply.long_reply_s,
        primary_route="large" if settings.pipeline.llm_role == "llm.large" else "fast",
    )


def configured_devices(settings: Settings) -> tuple[Device, ...]:
    return tuple(Device(d.name, d.kind, d.room, tuple(d.aliases)) for d in settings.config.devices)


def home_of(settings: Settings) -> Home:
    """The home as configured; the integrations add what they find. Without `[[devices]]` in
    the config the bundled example household stands in until a real device is found."""
    examples = "devices" not in settings.config.model_fields_set
    return Home(configured_devices(settings), examples=examples)


def build_chat_model(role: str, cfg: LlmModel, file: Path | None) -> ChatModel:
    """One language model as its `models.toml` role describes it."""
    if cfg.url is not None:
        key = cfg.api_key.get_secret_value() if cfg.api_key else None
        return OpenAIChatModel(
            cfg.url,
            model=cfg.model,
            api_key=key,
            temperature=cfg.temperature,
            timeout_s=min(cfg.first_token_s, cfg.stall_s) + 1.0,
        )
    assert file is not None, role
    cls = LlamaChatModel if cfg.prompt_format == "chat" else LlamaCompletionModel
    return cls(
        file,
        n_ctx=cfg.n_ctx,
        threads=cfg.threads,
        temperature=cfg.temperature,
        n_batch=cfg.n_batch,
        use_mmap=cfg.use_mmap,
    )


WARM_UP_QUESTIONS = {
    "default": ("Why is the sky blue?", 6),  # about an explanation's first clause
    "question": ("What is the capital of France?", 4),  # "Paris." or "The capital is"
}
"""The large model's first-clause time is measured at warm-up on one question of each
kind: (question, tokens to a first clause)."""


async def _time_first_clause(
    worker: Worker, model: ChatModel, system_prompt: str, clock: Clock
) -> dict[str, float]:
    """How long the model takes to its first clause (ms) on a typical question of each
    kind, on the clock the turns measure it with."""

    def run(question: str, tokens: int) -> float:
        t0 = clock.now_ns()
        messages = [Message("system", system_prompt), Message("user", question)]
        for n, _ in enumerate(model.stream(messages, tokens + 2), start=1):
            if n == tokens:
                break
        return (clock.now_ns() - t0) / 1e6

    return {
        reason: await worker.call(run, question, tokens)
        for reason, (question, tokens) in WARM_UP_QUESTIONS.items()
    }


def build_wake_word(settings: Settings) -> WakeWordDetector | None:
    """The pipeline's wake-word detector, or None for an open microphone."""
    ww = settings.pipeline.wake_word
    return MicroWakeWordDetector(ww.name) if ww is not None else None


async def build_engines(settings: Settings, files: dict[str, Path]) -> Engines:
    """Load every engine on its own worker (in parallel), then warm them one at a time."""
    m = settings.models
    llm_cfg = settings.llm_model()
    large_cfg = settings.large_model()
    workers = [Worker("asr"), Worker("llm"), Worker("tts")]
    asr_w, llm_w, tts_w = workers
    large_w = Worker("llm-large") if large_cfg is not None else None
    if large_w is not None:
        workers.append(large_w)
    role = settings.pipeline.llm_role
    t0 = time.monotonic()
    try:
        asr, llm, tts = await asyncio.gather(
            asr_w.call(lambda: build_transcriber(m.asr, files["asr"])),
            llm_w.call(lambda: build_chat_model(role, llm_cfg, files.get(role))),
            tts_w.call(
                lambda: PiperSynthesizer(
                    files["tts"],
                    files.get("tts.config"),
                    threads=m.tts.threads,
                    length_scale=m.tts.length_scale,
                )
            ),
        )
        # Warm one after the other: on two cores, together is slower than in turn.
        await asr_w.call(asr.warm)
        await llm_w.call(llm.warm, settings.config.assistant.system_prompt)
        await tts_w.call(tts.warm)
        large = None
        if large_cfg is not None and large_w is not None:
            # Loaded after the others: never two models fighting for the two cores.
            large = await large_w.call(
                lambda: build_chat_model("llm.large", large_cfg, files.get("llm.large"))
            )
            await large_w.call(large.warm, settings.config.escalation.system_prompt)
        turn = turn_w = text_turn = text_w = None
        if (audio_cfg := m.turn.audio) is not None and "turn.audio" in files:
            turn_w = Worker("turn-audio")
            workers.append(turn_w)
            turn = await turn_w.call(
                lambda: SmartTurn(files["turn.audio"], threads=audio_cfg.threads)
            )
            await turn_w.call(turn.probability, np.zeros(16_000, np.int16), 16_000)
        if (text_cfg := m.turn.text) is not None and "turn.text" in files:
            text_w = Worker("turn-text")
            workers.append(text_w)
            text_turn = await text_w.call(
                lambda: ChatEndOfTurn(files["turn.text"], threads=text_cfg.threads)
            )
            await text_w.call(text_turn.end_log10, "what time is it")
    except BaseException:
        for w in workers:
            w.shutdown()
        raise
    log.info("models loaded and warmed in %.1f s", time.monotonic() - t0)
    return Engines(
        asr, llm, tts, asr_w, llm_w, tts_w, CpuGate(), large, large_w,
        turn=turn, turn_worker=turn_w, text_turn=text_turn, text_turn_worker=text_w,
    )  # fmt: skip


def build_transcriber(m: AsrModel, model_dir: Path) -> WhisperTranscriber:
    return WhisperTranscriber(
        model_dir,
        compute_type=m.compute_type,
        threads=m.threads,
        language=m.language,
        beam_size=m.beam_size,
        window_s=m.window_s,
    )


@dataclass
class Assistant:
    settings: Settings
    engines: Engines
    runner: TurnRunner
    clock: Clock
    vad: SileroVad

    @property
    def reply_rate_hz(self) -> int:
        return self.engines.tts.sample_rate_hz

    async def keep_confirmations(self, idle: Callable[[], bool], every_s: float = 2.0) -> None:
        """Render the confirmations of devices found after start-up (a rename, a device
        Home Assistant or Zigbee2MQTT announces), as those of the configured ones were at
        start: saying "Okay, hallway lamp on." then costs no TTS time (~130 ms of first
        audio). One phrase at a time, and only while nothing is being said or heard, so a
        turn waits behind one render at most."""
        home, seen = self.runner.home, self.runner.home.changes
        while True:
            await asyncio.sleep(every_s)
            if home.changes == seen:
                continue
            seen = home.changes
            new = [p for p in all_confirmations(home.devices) if p not in self.engines.phrases]
            for phrase in new:
                while not idle():  # noqa: ASYNC110 (the listener's state has no event)
                    await asyncio.sleep(every_s)
                await self.engines.prerender([phrase])
            if new:
                log.info("confirmations rendered for the devices found: %d", len(new))

    def listener(
        self,
        *,
        label: str | None = None,
        dropped_frames: Callable[[], int] = lambda: 0,
        on_state: Callable[[ListenState], None] = lambda state: None,
        echo_cancelled: bool = False,
        on_mute: Callable[[bool], None] = lambda muted: None,
    ) -> Listener:
        """The always-listening front end as the pipeline defines it (for run and bench)."""
        self.vad.reset()
        p = self.settings.pipeline
        return Listener(
            self.runner,
            self.vad,
            self.clock,
            settings=p.listen,
            endpoint=p.endpoint,
            wake=build_wake_word(self.settings),
            wake_settings=p.wake_word or WakeWordSettings(),
            label=label,
            dropped_frames=dropped_frames,
            on_state=on_state,
            turn_end=p.turn_end,
            turn_models=self.engines.turn_models(),
            echo_cancelled=echo_cancelled,
            on_mute=on_mute,
        )


@contextlib.asynccontextmanager
async def open_assistant(
    settings: Settings,
    clock: Clock = MONOTONIC,
    *,
    actions: ActionSink | None = None,
    on_record: Callable[[TurnRecord], None] | None = None,
    home: Home | None = None,
) -> AsyncIterator[Assistant]:
    """Load, warm and wire everything the settings describe. `actions` carries out device
    commands (default: logged); `on_record` hears every turn's record; `home`: the devices
    as the integrations find them (default: as configured)."""
    files = settings.model_files()
    engines = await build_engines(settings, files)
    memory = ConversationMemory(clock, settings.config.memory)
    ts = turn_settings(settings)
    home = home if home is not None else home_of(settings)
    runner = None
    try:
        # Said often and fast: rendered now, played as they are (the confirmations of the
        # devices found later: `keep_confirmations`).
        phrases = [*fixed_replies(home.devices), NOT_SURE_SAY]
        if ts.escalation is not None:
            phrases += [ts.escalation.acknowledgement, ts.escalation.apology]
        await engines.prerender(phrases)
        large_first_clause_ms = None
        if ts.large is not None and engines.large is not None:
            assert engines.large_worker is not None
            large_first_clause_ms = await _time_first_clause(
                engines.large_worker, engines.large, ts.large.system_prompt, clock
            )
            log.info(
                "large model: first clause in ~%.0f ms (a fact: ~%.0f ms)",
                large_first_clause_ms["default"], large_first_clause_ms["question"],
            )  # fmt: skip
        runner = TurnRunner(
            engines,
            memory,
            ts,
            clock,
            actions=actions,
            on_record=on_record,
            large_first_clause_ms=large_first_clause_ms,
            home=home,
        )
        yield Assistant(settings, engines, runner, clock, SileroVad(files["vad"]))
    finally:
        if runner is not None:
            await runner.close()
        engines.shutdown()
