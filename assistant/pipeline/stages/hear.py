"""Hearing: the utterance to text (Whisper on its worker), or a typed question as it is."""

from __future__ import annotations

from assistant.audio.wakeword import strip_wake_phrase
from assistant.core.errors import AsrError
from assistant.core.frames import Utterance
from assistant.core.intents import Question
from assistant.core.latency import Mark
from assistant.engines.asr import Transcriber
from assistant.engines.worker import Worker
from assistant.pipeline.context import Turn, stage_errors


class Hearing:
    def __init__(self, asr: Transcriber, worker: Worker) -> None:
        self.asr, self.worker = asr, worker

    async def transcript(self, turn: Turn, heard: Utterance | str, asked: Question | None) -> str:
        turn.heard_from(heard)
        if isinstance(heard, str):
            return heard.strip()
        # Whisper is told what was said just before: the question the answer may be to,
        # and the wake phrase (it then spells it as written, and can strip it).
        wake = turn.wake_phrase
        prompt = " ".join(p for p in (asked and asked.words, wake and f"{wake},") if p)
        with stage_errors(AsrError):
            text = await self.worker.call(
                self.asr.transcribe, heard.samples, heard.sample_rate_hz, prompt
            )
        turn.trace.mark(Mark.ASR_FINAL)
        return strip_wake_phrase(text, wake) if wake else text
