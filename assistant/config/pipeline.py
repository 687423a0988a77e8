"""`pipelines/*.toml`: which stages a pipeline runs, which model answers, and how it listens.
A pipeline file lists only what differs from the defaults below."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator, model_validator

from assistant.audio.wakeword import WakeWordSettings
from assistant.config.base import Strict
from assistant.core.clauses import SplitterSettings
from assistant.core.endpoint import EndpointSettings
from assistant.core.turn_end import TurnEndSettings
from assistant.pipeline.listener import ListenSettings
from assistant.pipeline.stages import REQUIRED, STAGE_NAMES


class PipelineDef(Strict):
    description: str = ""
    stages: tuple[str, ...] = STAGE_NAMES
    """Of `pipeline/stages/STAGES`, in that order. The optional ones: `intents` (time, timers
    and devices answered without a model; without it every turn goes to a model, which
    `assistant bench --compare` measures) and `escalation` (hard turns to `llm.large`
    when models.toml gives one; see core/router.py)."""
    llm_role: Literal["llm.fast", "llm.large"] = "llm.fast"
    """The model the `llm` stage asks."""
    clauses: SplitterSettings = SplitterSettings()
    endpoint: EndpointSettings = EndpointSettings()
    turn_end: TurnEndSettings = TurnEndSettings()
    """How long a pause holds, from evidence (with models.toml's `[turn]` model)."""
    listen: ListenSettings = ListenSettings()
    wake_word: WakeWordSettings | None = None
    """Absent: an open microphone, every utterance is a turn."""

    @model_validator(mode="before")
    @classmethod
    def _old_format(cls, data: Any) -> Any:
        """Pipeline files written before the stage registry say what became of their keys."""
        if not isinstance(data, dict):
            return data
        for key, stage in (("intents", "intents"), ("escalate", "escalation")):
            if key in data:
                raise ValueError(
                    f"{key!r} became the {stage!r} stage: to turn it off, leave it out of"
                    " stages (which lists what runs; all stages by default)"
                )
        stages = data.get("stages")
        if isinstance(stages, list | tuple):
            old = [s for s in stages if s in ("clauses", "speaker")]
            if old:
                raise ValueError(
                    f"stages: {old[0]!r} is no longer a stage of its own (the llm stage cuts"
                    " clauses, the speaker is a device): drop it"
                )
        return data

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, stages: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in stages if s not in STAGE_NAMES]
        if unknown:
            raise ValueError(f"unknown stage {unknown[0]!r} (known: {', '.join(STAGE_NAMES)})")
        order = [STAGE_NAMES.index(s) for s in stages]
        if order != sorted(order) or len(set(order)) != len(order):
            raise ValueError(f"stages must appear once each, in the order {', '.join(STAGE_NAMES)}")
        for needed in REQUIRED:
            if needed not in stages:
                raise ValueError(f"a pipeline needs the {needed!r} stage")
        return stages

    @property
    def intents(self) -> bool:
        return "intents" in self.stages

    @property
    def escalates(self) -> bool:
        return "escalation" in self.stages
