"""The engines: speech recognition, language models and speech synthesis, each behind a small
Protocol with one real implementation and an in-tree fake, each on its own worker thread."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from assistant.core.frames import Pcm16
from assistant.engines.asr import Transcriber
from assistant.engines.llm import ChatModel
from assistant.engines.tts import Synthesizer
from assistant.engines.turn_model import TurnModel
from assistant.engines.turn_text import TextTurnModel
from assistant.engines.worker import CpuGate, Worker


@dataclass(frozen=True)
class TurnModels:
    """The end-of-turn models the listener asks, each with its worker thread."""

    audio: tuple[TurnModel, Worker] | None = None
    text: tuple[TextTurnModel, Worker] | None = None


@dataclass
class Engines:
    """The loaded, warmed engines, each with its own worker thread."""

    asr: Transcriber
    llm: ChatModel
    tts: Synthesizer
    asr_worker: Worker
    llm_worker: Worker
    tts_worker: Worker
    gate: CpuGate
    large: ChatModel | None = None
    large_worker: Worker | None = None
    """Its own thread: a stalled server or a slow prefill must not hold up the fallback."""
    phrases: dict[str, Pcm16] = field(default_factory=dict)
    """Audio rendered at start-up (confirmations, the acknowledgement), played as is."""
    turn: TurnModel | None = None
    """Has the user finished, from the audio? (The listener asks at each pause.)"""
    turn_worker: Worker | None = None
    text_turn: TextTurnModel | None = None
    """Has the user finished, from the words?"""
    text_turn_worker: Worker | None = None

    def turn_models(self) -> TurnModels:
        audio = text = None
        if self.turn is not None and self.turn_worker is not None:
            audio = (self.turn, self.turn_worker)
        if self.text_turn is not None and self.text_turn_worker is not None:
            text = (self.text_turn, self.text_turn_worker)
        return TurnModels(audio, text)

    def shutdown(self) -> None:
        workers = (self.asr_worker, self.llm_worker, self.tts_worker, self.large_worker)
        for w in (*workers, self.turn_worker, self.text_turn_worker):
            if w is not None:
                w.shutdown()

    async def prerender(self, texts: list[str]) -> None:
        """Render phrases once (at start-up), so saying them costs no TTS time."""
        for text in texts:
            if text not in self.phrases:
                pcm = await self.tts_worker.call(lambda t=text: list(self.tts.synthesize(t)))
                self.phrases[text] = np.concatenate(pcm) if pcm else np.zeros(0, np.int16)
