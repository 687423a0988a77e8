"""Speech recognition: the Transcriber protocol and its faster-whisper implementation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.core.errors import AsrError
from assistant.core.frames import Pcm16

ASR_RATE_HZ = 16_000
_FRAMES_PER_S = 100  # Whisper's mel hop is 10 ms
_FULL_WINDOW_FRAMES = 3000  # the 30 s window Whisper was trained on
_TAIL_S = 0.25
"""Digital silence appended to each utterance: cut right at the end of speech, Whisper
mishears the last word more often ("call mom at six" -> "call my mistakes"); it costs
nothing, the encoder window is fixed."""


def collapse_repetition(text: str, min_words: int = 3) -> str:
    """One copy of a transcript that is the same phrase of `min_words` or more said two or
    more times over, the last copy possibly cut short: Whisper's repetition loop, which a
    shortened window (and the wake phrase as a prompt) brings out now and then ("Okay Nabu,
    what time is it? Okay Nabu, what time is it"), and which the decoder's length bound
    cuts off mid-phrase ("Turn off the fan Turn off the fan Turn"). Nobody asks a voice
    assistant the same thing twice in one breath, and if they do, once is what they meant."""
    words = text.split()
    key = [re.sub(r"[^\w']", "", w.lower()) for w in words]
    for n in range(min_words, len(words) // 2 + 1):
        if all(key[i] == key[i % n] for i in range(n, len(key))):
            return " ".join(words[:n]).rstrip(",")
    return text


class Transcriber(Protocol):
    def transcribe(self, samples: Pcm16, sample_rate_hz: int, prompt: str = "") -> str:
        """Blocking; runs on the ASR worker thread."""
        ...

    def warm(self) -> None: ...


class WhisperTranscriber:
    """faster-whisper's CTranslate2 model, driven one utterance at a time.

    It uses faster-whisper's model, feature extractor and tokenizer but not its
    `transcribe()`: a voice command is one short window, so the segment loop, the
    temperature fallbacks and the 30 s of padded audio run through the mel filter bank
    are pure overhead (0.50 s against 0.34 s for a 2 s question here, same text).
    The features are zero-padded to the encoder window exactly as `transcribe()` does.

    `window_s` below 30 shortens the encoder's input, and the encoder is most of the cost.
    Measured on 194 espeak-ng utterances (the router's 97 texts in two voices, cut as the
    end-pointer cuts them: 0.3 s pre-roll, 0.15 s of trailing silence;
    `scripts/asr-window-sweep`), word error rate and time per utterance (p50/p95) here:
    30 s 19.4 %, 351/446 ms; 15 s 17.7 %, 181/275 ms; 10 s 16.3 %, 130/220 ms; 8 s
    18.9 %, 107/194 ms; 6 s 22.8 %, 99/214 ms. 10 s is the default: the most accurate and a
    third of the time of 30. Below it Whisper starts to loop ("turn off the bedroom fan
    turn off the bedroom fan turn"; 2 of 194 at 8 s, 5 at 6 s), which `collapse_repetition`
    cuts back to one copy (the 8 and 6 s error rates above are from before it caught a
    copy cut short); at 10 s it looped on 1-2 of 194 in earlier runs, on none in the
    last. Padding the audio before the mel filter bank (as openai-whisper does) instead of
    the features was no better (20.7 % at 30 s, 20.6 % at 10 s).
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        compute_type: str,
        threads: int,
        language: str,
        beam_size: int,
        window_s: float = 30.0,
    ) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        try:
            self.model = WhisperModel(
                str(model_dir),
                device="cpu",
                compute_type=compute_type,
                cpu_threads=threads,
                num_workers=1,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise AsrError(f"cannot load Whisper model {model_dir}: {e}") from e
        multilingual = self.model.model.is_multilingual
        tokenizer = Tokenizer(
            self.model.hf_tokenizer,
            multilingual,
            task="transcribe",
            language=language if multilingual else "en",
        )
        self._tokenizer = tokenizer
        self._prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        self.beam_size = beam_size
        self.window_frames = min(_FULL_WINDOW_FRAMES, int(window_s * _FRAMES_PER_S))

    def transcribe(self, samples: Pcm16, sample_rate_hz: int, prompt: str = "") -> str:
        """`prompt` is text Whisper takes as said just before (its initial prompt): the
        wake phrase, so that it spells "Okay Nabu" as written rather than "I'll move"."""
        import ctranslate2

        if sample_rate_hz != ASR_RATE_HZ:
            raise AsrError(f"ASR needs {ASR_RATE_HZ} Hz audio, got {sample_rate_hz} Hz")
        audio = np.concatenate(
            [samples.astype(np.float32) / 32768.0, np.zeros(int(_TAIL_S * ASR_RATE_HZ), np.float32)]
        )
        features = self.model.feature_extractor(audio)[:, :-1]
        tokens = self._prompt_for(prompt)
        texts: list[str] = []
        # Longer than one window: consecutive windows, as Whisper itself would.
        for start in range(0, max(features.shape[1], 1), _FULL_WINDOW_FRAMES):
            chunk = features[:, start : start + _FULL_WINDOW_FRAMES]
            window = (
                self.window_frames if chunk.shape[1] <= self.window_frames else _FULL_WINDOW_FRAMES
            )
            padded = np.zeros((features.shape[0], window), dtype=np.float32)
            padded[:, : chunk.shape[1]] = chunk
            encoded = self.model.model.encode(
                ctranslate2.StorageView.from_array(padded[None]), to_cpu=False
            )
            seconds = chunk.shape[1] / _FRAMES_PER_S
            result = self.model.model.generate(
                encoded,
                [tokens],
                beam_size=self.beam_size,
                # A guard against Whisper's repetition loops: nobody says more than
                # ~8 tokens a second. The bound counts the prompt too.
                max_length=len(tokens) + min(224, 16 + int(8 * seconds)),
                suppress_blank=True,
            )
            text = self._tokenizer.decode(result[0].sequences_ids[0]).strip()
            texts.append(collapse_repetition(text))
        return " ".join(t for t in texts if t)

    def _prompt_for(self, text: str) -> list[int]:
        if not text:
            return self._prompt
        previous = self._tokenizer.encode(" " + text.strip())
        return [self._tokenizer.sot_prev, *previous, *self._prompt]

    def warm(self) -> None:
        t = np.arange(ASR_RATE_HZ, dtype=np.float32) / ASR_RATE_HZ
        tone = (np.sin(2 * np.pi * 220 * t) * 3000).astype(np.int16)
        self.transcribe(tone, ASR_RATE_HZ)
