"""Speech: each clause rendered by Piper (or played from the phrases rendered at start-up),
held until the listener commits the turn, with the silence a reply starts with dropped."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Iterator, Mapping

from assistant.core.errors import TtsError
from assistant.core.frames import Pcm16
from assistant.core.latency import Mark
from assistant.core.levels import audible_start
from assistant.engines.tts import Synthesizer
from assistant.engines.worker import CpuGate, Worker
from assistant.pipeline.context import Ack, Turn, stage_errors

log = logging.getLogger(__name__)


class Speech:
    def __init__(
        self, tts: Synthesizer, worker: Worker, cpu: CpuGate, phrases: Mapping[str, Pcm16]
    ) -> None:
        self.tts, self.worker, self.cpu = tts, worker, cpu
        self.phrases = phrases
        """Audio rendered at start-up (confirmations, the acknowledgement), played as is."""

    async def audio(
        self, turn: Turn, clauses: AsyncGenerator[str, None], max_s: float | None = None
    ) -> AsyncGenerator[Pcm16, None]:
        """The reply's audio, clause by clause. With `max_s`, the reply ends at the first
        clause boundary past that much speech (`turn.cut` says "length")."""
        tts, cpu, trace = self.tts, self.cpu, turn.trace
        started = False  # the reply's first audible sample went out
        said = 0  # samples of the reply so far
        limit = None if max_s is None else int(max_s * tts.sample_rate_hz)

        def render(text: str) -> Iterator[Pcm16]:
            with cpu.hold():
                yield from tts.synthesize(text)

        def audible(pcm: Pcm16) -> Pcm16:
            """Until the reply is heard, the silence a render starts with is dead air in
            the latency: dropped. (Later it is the pause between clauses: kept.)"""
            nonlocal started
            if not started:
                pcm = pcm[audible_start(pcm) :]
                started = pcm.size > 0
            return pcm

        try:
            async for clause in clauses:
                if limit is not None and said >= limit:
                    log.info("reply ended: longer than %g s", max_s)
                    turn.cut = "length"
                    return
                if not isinstance(clause, Ack):
                    turn.clauses.append(clause)
                if (ready := self.phrases.get(clause)) is not None:
                    trace.mark(Mark.TTS_FIRST_AUDIO)
                    pcm = audible(ready)  # (before the hold runs out, not after)
                    await turn.held()
                    if pcm.size:
                        said += pcm.size
                        yield pcm
                    continue
                audio = self.worker.stream(
                    lambda c=clause: render(c),  # type: ignore[misc]
                    on_stop=tts.interrupt,
                )
                try:
                    with stage_errors(TtsError):
                        async for pcm in audio:
                            trace.mark(Mark.TTS_FIRST_AUDIO)
                            pcm = audible(pcm)
                            await turn.held()  # speculative: nothing plays before the hold
                            if pcm.size:
                                said += pcm.size
                                yield pcm
                finally:
                    await audio.aclose()
        finally:
            await clauses.aclose()
