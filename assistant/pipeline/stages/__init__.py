"""The stages a turn can go through, by the names `pipelines/*.toml` uses.

A pipeline's `stages` lists the ones it runs (all of them by default); the turn runner
builds the optional ones only when they are listed. The required ones make a turn at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.pipeline.stages.escalation import Escalation
from assistant.pipeline.stages.hear import Hearing
from assistant.pipeline.stages.intent import IntentAnswer
from assistant.pipeline.stages.llm import ModelReply
from assistant.pipeline.stages.speech import Speech


@dataclass(frozen=True, slots=True)
class Stage:
    implementation: type
    """The class that runs it (`pipeline/stages/`)."""
    optional: bool
    does: str


STAGES: dict[str, Stage] = {
    "asr": Stage(Hearing, False, "speech to text (typed questions skip it)"),
    "intents": Stage(IntentAnswer, True, "time, timers, reminders and devices, without a model"),
    "llm": Stage(ModelReply, False, "the pipeline's own model (its llm_role) answers the rest"),
    "escalation": Stage(Escalation, True, "hard turns to llm.large, acknowledged, with fallback"),
    "tts": Stage(Speech, False, "the reply's clauses to speech, as they come"),
}
"""In the order a turn goes through them."""
STAGE_NAMES = tuple(STAGES)
REQUIRED = tuple(name for name, s in STAGES.items() if not s.optional)
