"""ALSA's own messages into `logging` (logger `alsa`), instead of the C library's stderr.

alsa-lib prints its errors straight to stderr, e.g. `ALSA lib pcm.c:8570:(snd_pcm_recover)
underrun occurred` whenever PortAudio recovers a late output buffer. A user reads that as a
fault; it is not one (PortAudio recovers, and the speaker itself warns, naming
`audio.block_ms`, when a reply really broke up). Routed here, the known-harmless ones go
to DEBUG and every other message still shows at WARNING.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import platform
import re
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("alsa")

HARMLESS = re.compile(r"^(underrun|overrun) occurred$")
"""snd_pcm_recover's notes that it restarted a stream: the speaker and the microphone count
and report gaps and overflows themselves."""

_MAX_ARGS = 4
_lock = threading.Lock()
_handler: Any = None
_debug_handler: Any = None
# alsa-lib's snd_lib_error_handler_t is printf-like: (file, line, function, err, fmt, ...).
# On x86-64 and aarch64 Linux variadic integer and pointer arguments are passed where fixed
# ones would be, so the handler declares the first few as pointer-sized words and formats
# them itself (only %s dereferences one, and only because the format says it is a string).
_HANDLER_TYPE = ctypes.CFUNCTYPE(
    None,
    ctypes.c_char_p,
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.c_int,
    ctypes.c_char_p,
    *([ctypes.c_void_p] * _MAX_ARGS),
)
_CONVERSION = re.compile(r"%(?:%|([-+ #0]*\d*(?:\.\d+)?)(hh|h|ll|l|z|j|t)?([diouxXcsp]))")
_ANY_CONVERSION = re.compile(r"%[-+ #0-9.*]*(?:hh|h|ll|l|L|q|z|j|t)?[a-zA-Z]")
_BITS = {"hh": 8, "h": 16, "": 32, "l": 64, "ll": 64, "z": 64, "j": 64, "t": 64}


def format_message(fmt: str, words: list[int | None]) -> str:
    """printf's `fmt` with integer, character, string and pointer arguments from `words`
    (pointer-sized). At the first conversion it does not know (a `*` width, a double's %f)
    it stops and leaves the rest as written: every later argument would be read from the
    wrong place, and a %s then from a wrong address."""
    out, pos, args = [], 0, iter(words)
    for m in _ANY_CONVERSION.finditer(fmt.replace("%%", "\0\0")):
        out.append(fmt[pos : m.start()].replace("%%", "%"))
        known = _CONVERSION.fullmatch(m.group(0))
        if known is None:
            return "".join(out) + fmt[m.start() :]
        pos = m.end()
        spec, length, kind = known.group(1), known.group(2) or "", known.group(3)
        word = next(args, None) or 0
        if kind == "s":
            text = ctypes.string_at(word).decode("utf-8", "replace") if word else "(null)"
            out.append(("%" + spec + "s") % text)
        elif kind == "p":
            out.append(hex(word))
        elif kind == "c":
            out.append(chr(word & 0xFF))
        else:
            bits = _BITS[length]
            value = word & ((1 << bits) - 1)
            if kind in "di" and value >> (bits - 1):
                value -= 1 << bits
            out.append(("%" + spec + ("d" if kind in "diu" else kind)) % value)
    out.append(fmt[pos:].replace("%%", "%"))
    return "".join(out)


_probing = threading.local()


@contextlib.contextmanager
def probing() -> Iterator[None]:
    """While PortAudio lists the devices (its initialisation): it opens every PCM ALSA's
    configuration names and skips those that fail, so "cannot find card '0'" or "Unknown
    PCM cards.pcm.rear" there only says this box lacks one. Logged at DEBUG meanwhile."""
    _probing.active = True
    try:
        yield
    finally:
        _probing.active = False


def level_of(message: str) -> int:
    if getattr(_probing, "active", False) or HARMLESS.match(message):
        return logging.DEBUG
    return logging.WARNING


def route_alsa_logs() -> bool:
    """Install the handler once per process (before PortAudio opens ALSA); False where
    libasound is not found (a build without ALSA has nothing to route)."""
    global _handler, _debug_handler
    with _lock:
        if _handler is not None:
            return True
        if ctypes.sizeof(ctypes.c_void_p) != 8 or platform.machine() not in ("x86_64", "aarch64"):
            return False  # (see _HANDLER_TYPE: elsewhere the arguments are not where it looks)
        name = ctypes.util.find_library("asound")
        if name is None:
            return False
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            return False

        def handler(debug: bool) -> Any:
            def handle(
                file: bytes | None, line: int, function: bytes | None, err: int,
                fmt: bytes | None, *words: int | None,
            ) -> None:  # fmt: skip
                try:
                    # Classed once formatted: snd_pcm_recover says "%s occurred".
                    message = format_message((fmt or b"").decode("utf-8", "replace"), list(words))
                    level = logging.DEBUG if debug else level_of(message)
                    if not log.isEnabledFor(level):
                        return
                    where = f"{(file or b'?').decode()}:{line}:({(function or b'?').decode()})"
                    suffix = f": {_strerror(lib, err)}" if err else ""
                    log.log(level, "%s %s%s", where, message, suffix)
                except Exception:  # a C callback must not raise
                    log.debug("could not read an ALSA message", exc_info=True)

            return _HANDLER_TYPE(handle)

        lib.snd_strerror.restype = ctypes.c_char_p
        _handler, _debug_handler = handler(debug=False), handler(debug=True)
        lib.snd_lib_error_set_handler(_handler)
        # A custom error handler also receives alsa-lib's debug notes (SNDMSG, silent by
        # default unless $LIBASOUND_DEBUG is set): they go to DEBUG, not WARNING.
        with contextlib.suppress(ValueError):
            ctypes.c_void_p.in_dll(lib, "snd_err_msg").value = ctypes.cast(
                _debug_handler, ctypes.c_void_p
            ).value
        return True


def _strerror(lib: ctypes.CDLL, err: int) -> str:
    text: bytes | None = lib.snd_strerror(ctypes.c_int(err))
    return (text or b"").decode()
