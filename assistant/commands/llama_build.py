"""How llama.cpp is built for this machine: the one place that decides it.

`pip install llama-cpp-python` compiles llama.cpp with `-march=native`. On a host whose CPU
advertises AMX that compiles in ggml's AMX matmul, and where the hypervisor does not give the
process usable tile state its first `ldtilecfg` faults: every model load dies with SIGSEGV.
So the install builds the wheel itself, with flags chosen here:

- x86-64: `GGML_NATIVE=OFF` and each SIMD extension the CPU and kernel report (SSE4.2, AVX,
  AVX2, FMA, F16C, BMI2, AVX-VNNI, AVX-512 with VBMI/VNNI/BF16), never AMX. Runtime-dispatched
  CPU variants (`GGML_CPU_ALL_VARIANTS`) are not used: they score variants by the CPU's
  advertised features and pick the Sapphire Rapids one, AMX included, on exactly such a host.
- aarch64 (a Raspberry Pi 5): llama.cpp's own native ARM build, which probes each optional
  feature (dotprod, i8mm, SVE, SME) by running it, so one that faults is left out.

The wheel is kept in a cache keyed by its version, flags, machine and compiler: a re-run
reuses a build made with the current flags and rebuilds one made with others. The install
writes the key into the installed package (`llama_cpp/assistant-build.json`), so a
llama-cpp-python installed any other way (pip's own native build) is replaced.

Standard library only: `scripts/install` runs it before the project's dependencies exist.
    python -m assistant.commands.llama_build install [--rebuild]  build (or reuse), install
    python -m assistant.commands.llama_build smoke     load each local model, make one token
    python -m assistant.commands.llama_build check     list AMX instructions in the install
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from assistant.commands.llama_flags import (
    EXTRA_ARGS_ENV,
    BuildError,
    cmake_args,
    cpu_flags,
    parse_define,
    summary,
)
from assistant.commands.llama_installed import (
    AMX_MNEMONICS,
    MARKER,
    amx_instructions,
    fingerprint,
    installed_key,
    installed_marker,
    libraries,
    package_dir,
)

# Its own names and the flag and install helpers it re-exports (the tests reach them here).
__all__ = [
    "AMX_MNEMONICS",
    "EXTRA_ARGS_ENV",
    "MARKER",
    "VERSION",
    "BuildError",
    "amx_instructions",
    "build_key",
    "cache_dir",
    "check",
    "cmake_args",
    "compiler_version",
    "cpu_flags",
    "fingerprint",
    "install",
    "installed_key",
    "installed_marker",
    "libraries",
    "local_models",
    "main",
    "package_dir",
    "parse_define",
    "plan",
    "smoke",
    "summary",
    "this_machine",
    "user_extra_args",
]

VERSION = "0.3.36"
"""The llama-cpp-python release built (its vendored llama.cpp with it)."""

_BUILD_ENV = ("CMAKE_ARGS", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "SKBUILD_CMAKE_ARGS",
              "SKBUILD_CMAKE_DEFINE", "FORCE_CMAKE")  # fmt: skip


def compiler_version() -> str:
    cc = os.environ.get("CC", "cc")
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def build_key(version: str, args: Sequence[str], machine: str, compiler: str) -> str:
    text = json.dumps([version, list(args), machine, compiler, sys.version_info[:2]])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "assistant" / "llama-cpp-python"


def this_machine() -> tuple[tuple[str, ...], str]:
    """(cmake args, cache key) for this host, with the user's extra args."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    extra = tuple(shlex.split(user_extra_args()))
    machine, flags = platform.machine(), cpu_flags(cpuinfo)
    args = cmake_args(machine, flags, extra)
    # A native build's flags are the CPU's features, probed as it compiles: its key has them.
    host = machine + (" " + " ".join(sorted(flags)) if "-DGGML_NATIVE=ON" in args else "")
    return args, build_key(VERSION, args, host, compiler_version())


def user_extra_args() -> str:
    """$ASSISTANT_LLAMA_CMAKE_ARGS, kept in the cache so a later plain `scripts/install`
    builds with them too (set it to "" to drop them); "" when never set."""
    kept = cache_dir() / "extra-cmake-args"
    if EXTRA_ARGS_ENV in os.environ:
        value = os.environ[EXTRA_ARGS_ENV].strip()
        for arg in shlex.split(value):
            parse_define(arg)  # a bad one is refused before it is kept
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(value + "\n")
        return value
    try:
        return kept.read_text().strip()
    except OSError:
        return ""


def _pip(python: str, *args: str) -> None:
    cmd = [python, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise BuildError(f"pip {args[0]} failed (exit {done.returncode}): {shlex.join(cmd)}")


def _build_wheel(python: str, args: Sequence[str], into: Path) -> Path:
    into.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=into.parent) as tmp:
        # Only these flags reach the build: compiler flags or scikit-build settings from the
        # environment (CFLAGS=-march=native) would change it behind the key's back.
        env = {k: v for k, v in os.environ.items() if k not in _BUILD_ENV}
        env["CMAKE_ARGS"] = shlex.join(args)
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        cmd = [
            python, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
            "--no-cache-dir", "--no-binary", "llama-cpp-python", "-w", tmp,
            f"llama-cpp-python=={VERSION}",
        ]  # fmt: skip
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode:
            log = into.parent / "build-failed.log"
            log.write_text(done.stdout + done.stderr)
            raise BuildError(f"building llama-cpp-python {VERSION} failed: see {log}")
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise BuildError(f"pip wheel made {len(wheels)} wheels in {tmp}, expected one")
        if into.exists():
            shutil.rmtree(into)
        into.mkdir()
        target = into / wheels[0].name
        shutil.move(str(wheels[0]), target)
        (into / "cmake-args.txt").write_text(shlex.join(args) + "\n")
        return target


def plan(installed_key: object, key: str, cached: bool, rebuild: bool) -> str:
    """What the install does: "keep" the installed build, "reuse" the cached wheel, or
    "build" one. Only a build made with this machine's key is kept or reused."""
    if rebuild:
        return "build"
    if installed_key == key:
        return "keep"
    return "reuse" if cached else "build"


def install(rebuild: bool = False, dry_run: bool = False) -> None:
    """Make the installed llama-cpp-python the build for this machine's flags."""
    args, key = this_machine()
    where = cache_dir() / f"{VERSION}-{key}"
    wheels = sorted(where.glob("*.whl")) if where.is_dir() else []
    step = plan(installed_key(package_dir()), key, bool(wheels), rebuild)
    if dry_run:
        print(f"llama.cpp: would {step} ({summary(args)}; key {key})")
        return
    if step == "keep":
        print(f"llama.cpp: installed build matches this machine ({summary(args)})")
        return
    if step == "build":
        print(f"llama.cpp: building llama-cpp-python {VERSION} ({summary(args)}); a few minutes")
        wheel = _build_wheel(sys.executable, args, where)
        # A native build pip cached earlier must not come back through pip's cache.
        subprocess.run(
            [sys.executable, "-m", "pip", "cache", "remove", "llama_cpp_python"],
            capture_output=True,
        )
    else:
        wheel = wheels[-1]
        print(f"llama.cpp: reusing the build for this machine ({summary(args)})")
    _pip(sys.executable, "install", "--force-reinstall", "--no-deps", str(wheel))
    _pip(sys.executable, "install", str(wheel))  # its dependencies, if any are missing
    pkg = package_dir()
    if pkg is None:
        raise BuildError(f"installed {wheel} but llama_cpp is not importable")
    if found := {lib.name: f for lib in libraries(pkg) if (f := amx_instructions(lib))}:
        raise BuildError(f"the build {wheel} has AMX instructions, it must not: {found}")
    record = {
        "key": key,
        "version": VERSION,
        "cmake_args": list(args),
        "wheel": str(wheel),
        "files": fingerprint(pkg),
    }
    (pkg / MARKER).write_text(json.dumps(record, indent=1) + "\n")


_SMOKE = """
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=512, n_threads=2, n_batch=256, verbose=False)
# ~100 tokens of prompt: a batched prefill (the matmul kernels a turn's prompt runs), then one
# token decoded.
prompt = "A household question and its answer. " * 14 + "The capital of France is"
out = llm.create_completion(prompt, max_tokens=1, temperature=0.0)
print(repr(out["choices"][0]["text"]))
"""


def local_models() -> list[Path]:
    """The GGUF files of the llama.cpp roles the user's configuration loads (not those
    served over HTTP): the fast model first."""
    from assistant.app import load_settings

    files = load_settings(None).model_files()
    return [files[role] for role in ("llm.fast", "llm.large") if role in files]


def smoke(model: Path, timeout_s: float = 300.0, env: dict[str, str] | None = None) -> str:
    """Load `model` in a child process, prefill a prompt and make one token; its text, or
    BuildError: one line naming the build where it crashed, or the model's own error."""
    env = {**(os.environ if env is None else env), "OMP_NUM_THREADS": "2"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _SMOKE, str(model)],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as e:
        raise BuildError(f"llama.cpp made no token from {model} in {timeout_s:.0f} s") from e
    if done.returncode == 0:
        return done.stdout.strip()
    if done.returncode > 0:  # a Python error: the file, not the build
        raise BuildError(f"llama.cpp could not run {model}: {_last_line(done.stderr)}")
    pkg = package_dir()
    marker = installed_marker(pkg) or {}
    build = marker.get("wheel") or (pkg or "llama_cpp (not built by this install)")
    args = marker.get("cmake_args")
    flags = " ".join(str(a) for a in args) if isinstance(args, list) else "unknown flags"
    try:
        how = signal.Signals(-done.returncode).name
    except ValueError:
        how = f"signal {-done.returncode}"
    raise BuildError(
        f"llama.cpp crashed loading {model.name} (killed by {how}); the build is {build} "
        f"[{flags}]. Rebuild it with `scripts/install --rebuild-llama`, adding CMake flags to "
        f"leave out the faulting extension in {EXTRA_ARGS_ENV} "
        f"(e.g. {EXTRA_ARGS_ENV}=-DGGML_AVX512=OFF)"
    )


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def check() -> dict[str, dict[str, int]]:
    """AMX instructions found in each installed llama.cpp library (empty: none)."""
    pkg = package_dir()
    if pkg is None:
        raise BuildError("llama_cpp is not installed")
    return {lib.name: found for lib in libraries(pkg) if (found := amx_instructions(lib))}


def main(argv: Sequence[str] | None = None) -> int:
    from assistant.core.errors import AssistantError

    parser = argparse.ArgumentParser(
        prog="python -m assistant.commands.llama_build", description=__doc__
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="build (or reuse) and install llama-cpp-python")
    p_install.add_argument("--rebuild", action="store_true", help="build again even if cached")
    p_install.add_argument("--dry-run", action="store_true", help="say what it would do")
    sub.add_parser("smoke", help="load each local model in a child process, make one token")
    sub.add_parser("check", help="list AMX instructions in the installed llama.cpp")
    ns = parser.parse_args(argv)
    try:
        if ns.command == "install":
            install(rebuild=ns.rebuild, dry_run=ns.dry_run)
        elif ns.command == "smoke":
            models = local_models()
            for model in models:
                smoke(model)
            names = ", ".join(m.name for m in models) or "no local GGUF in models.toml"
            print(f"llama.cpp smoke test: {names}: loaded, prefilled and made a token")
        else:
            found = check()
            for lib, counts in found.items():
                print(f"{lib}: AMX instructions {counts}")
            if found:
                return 1
            print("no AMX instructions in the installed llama.cpp")
    except (BuildError, AssistantError, ValueError, OSError, subprocess.CalledProcessError) as e:
        print(f"error: {e}".replace("\n", " "), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
