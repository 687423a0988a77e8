"""ALSA's messages reach `logging` instead of the terminal: the underrun note at DEBUG, any
other ALSA error at WARNING with its arguments filled in."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

import pytest

from assistant.alsa import format_message, level_of, route_alsa_logs


def _pointer(buf: ctypes.Array[ctypes.c_char]) -> int:
    return ctypes.addressof(buf)


def test_printf_arguments_are_filled_in_from_pointer_sized_words() -> None:
    name = ctypes.create_string_buffer(b"hw:7,0")
    words: list[int | None] = [_pointer(name), 2**32 - 5, 42, None]
    assert format_message("cannot open %s (%d), %u%%", words) == "cannot open hw:7,0 (-5), 42%"
    assert format_message("%ld and %lx", [2**64 - 1, 255]) == "-1 and ff"
    # A width, a string that is NULL, and a double (not in a general register): left as is.
    assert format_message("[%5d] %s %.1f", [7, 0]) == "[    7] (null) %.1f"
    assert format_message("underrun occurred", []) == "underrun occurred"


def test_only_the_recovery_notes_are_harmless() -> None:
    assert level_of("underrun occurred") == logging.DEBUG
    assert level_of("overrun occurred") == logging.DEBUG
    assert level_of("Unknown PCM cards.pcm.front") == logging.WARNING
    assert level_of("underrun occurred while draining, giving up") == logging.WARNING


@pytest.mark.skipif(ctypes.util.find_library("asound") is None, reason="no libasound")
def test_a_real_alsa_error_is_logged_and_not_printed(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="alsa")
    assert route_alsa_logs()
    asound = ctypes.CDLL(ctypes.util.find_library("asound"))
    pcm = ctypes.c_void_p()
    assert asound.snd_pcm_open(ctypes.byref(pcm), b"no-such-pcm-device", 0, 0) < 0
    records = [r for r in caplog.records if r.name == "alsa"]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert "Unknown PCM no-such-pcm-device" in records[0].getMessage()
    assert "ALSA lib" not in capfd.readouterr().err
