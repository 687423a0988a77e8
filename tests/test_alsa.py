"""ALSA's messages reach `logging` instead of the terminal: the underrun note at DEBUG, any
other ALSA error at WARNING with its arguments filled in."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from assistant.audio import alsa
from assistant.audio.alsa import format_message, level_of, route_alsa_logs


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
    assert format_message("%hhd/%hd/%d%%", [255, 65535, 7]) == "-1/-1/7%"
    # A conversion it does not know stops it there: the next %s would read a wrong address.
    assert format_message("%.*s then %s", [5, _pointer(name)]) == "%.*s then %s"
    assert format_message("%d and %f then %s", [3, 0]) == "3 and %f then %s"


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


CALLER = """
typedef void (*handler_t)(const char *, int, const char *, int, const char *, ...);
void call(handler_t h, const char *name) {
    h("pcm.c", 42, "snd_pcm_open", 0, "%d, %ld, %u: cannot open %s", -3, 1234567890123L, 7u, name);
}
"""


@pytest.mark.skipif(not shutil.which("cc"), reason="no C compiler")
def test_variadic_arguments_passed_on_the_stack_are_read_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Called from C as alsa-lib calls it: four variadic arguments, the last ones on the stack
    # on x86-64 (past r9) - where a handler that read them wrong would crash or garble.
    assert route_alsa_logs()
    c = tmp_path / "caller.c"
    c.write_text(CALLER)
    so = tmp_path / "libcaller.so"
    subprocess.run(["cc", "-shared", "-fPIC", str(c), "-o", str(so)], check=True)
    caller = ctypes.CDLL(str(so))
    caplog.set_level(logging.DEBUG, logger="alsa")
    caller.call(alsa._handler, b"hw:3,0")
    (record,) = [r for r in caplog.records if r.name == "alsa"]
    assert record.getMessage() == "pcm.c:42:(snd_pcm_open) -3, 1234567890123, 7: cannot open hw:3,0"
    assert record.levelno == logging.WARNING
