"""Which CMake flags llama.cpp is built with, decided from the CPU's features: each SIMD
extension the kernel reports, never AMX. Pure, and standard library only (see llama_build)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

EXTRA_ARGS_ENV = "ASSISTANT_LLAMA_CMAKE_ARGS"
"""Extra CMake arguments a user adds (e.g. `-DGGML_AVX512=OFF`); part of the cache key."""

# x86 CMake options and the /proc/cpuinfo flags each needs. GGML_AVX512 compiles with
# -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw, so it needs all five.
_X86_OPTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("GGML_SSE42", ("sse4_2",)),
    ("GGML_AVX", ("avx",)),
    ("GGML_AVX2", ("avx2",)),
    ("GGML_FMA", ("fma",)),
    ("GGML_F16C", ("f16c",)),
    ("GGML_BMI2", ("bmi2",)),
    ("GGML_AVX_VNNI", ("avx_vnni",)),
    ("GGML_AVX512", ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw")),
    ("GGML_AVX512_VBMI", ("avx512vbmi",)),
    ("GGML_AVX512_VNNI", ("avx512_vnni",)),
    ("GGML_AVX512_BF16", ("avx512_bf16",)),
)
_NEVER = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")


class BuildError(Exception):
    """The build or its check failed; the message is the one line the install prints."""


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The CPU's features as the kernel reports them: x86's `flags`, ARM's `Features`.

    The kernel leaves out what it does not enable (AVX-512 without its XSAVE state), so
    these are features the OS supports, not only ones the CPU has."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cmake_args(machine: str, flags: frozenset[str], extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The CMake arguments llama.cpp is built with on this machine; `extra` (`-DNAME=VALUE`)
    overrides an option of the same name. AMX stays off whatever `extra` says."""
    machine = machine.lower()
    options: dict[str, str] = {}
    if machine in ("x86_64", "amd64"):
        options["GGML_NATIVE"] = "OFF"
        for option, needs in _X86_OPTIONS:
            options[option] = "ON" if all(f in flags for f in needs) else "OFF"
    elif machine in ("aarch64", "arm64"):
        options["GGML_NATIVE"] = "ON"
    for arg in extra:
        name, value = parse_define(arg)
        options[name] = value
    if machine in ("x86_64", "amd64"):
        # -mavx512vnni and the like imply AVX-512F: with AVX512 off they must be off too.
        if options.get("GGML_AVX512") == "OFF":
            for option in ("GGML_AVX512_VBMI", "GGML_AVX512_VNNI", "GGML_AVX512_BF16"):
                options[option] = "OFF"
        options.update(dict.fromkeys(_NEVER, "OFF"))
    return tuple(f"-D{name}={value}" for name, value in options.items())


_DEFINE = re.compile(r"^-D([A-Za-z_][A-Za-z0-9_]*)(?::[A-Z]+)?=(.*)$")


def parse_define(arg: str) -> tuple[str, str]:
    """`-DGGML_AVX512=OFF` -> ("GGML_AVX512", "OFF"); BuildError for anything else."""
    if (m := _DEFINE.match(arg)) is None:
        raise BuildError(f"{EXTRA_ARGS_ENV}: {arg!r} is not a CMake -DNAME=VALUE")
    return m.group(1), m.group(2)


def summary(args: Iterable[str]) -> str:
    """`AVX2 FMA F16C …, no AMX` for a progress line."""
    on = [
        a.removeprefix("-DGGML_").removesuffix("=ON")
        for a in args
        if a.startswith("-DGGML_") and a.endswith("=ON") and "NATIVE" not in a
    ]
    if "-DGGML_NATIVE=ON" in args:
        return "native build (ARM: features probed by running them)"
    return (" ".join(on) or "llama.cpp defaults") + ", no AMX"
