"""llama.cpp is built for the machine it runs on: no AMX code, this host's SIMD, a cached
build reused only for the same flags, and an install that names a build that crashes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.commands import llama_build
from assistant.commands.llama_build import (
    BuildError,
    amx_instructions,
    build_key,
    cmake_args,
    cpu_flags,
    plan,
    summary,
)

ROOT = Path(__file__).resolve().parent.parent

# /proc/cpuinfo flags of the hosts that matter (trimmed to the SIMD part).
SAPPHIRE_RAPIDS_VM = (
    "flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma bmi2 avx2 avx512f avx512dq "
    "avx512cd avx512bw avx512vl avx512vbmi avx512_vnni avx512_bf16 avx_vnni amx_bf16 "
    "amx_tile amx_int8 hypervisor"
)
ZEN2 = "flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma bmi2 avx2 hypervisor"
PI5 = "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"  # noqa: E501


def test_an_amx_host_gets_avx512_but_never_amx() -> None:
    args = cmake_args("x86_64", cpu_flags(SAPPHIRE_RAPIDS_VM))
    assert "-DGGML_NATIVE=OFF" in args
    for on in ("AVX2", "FMA", "F16C", "AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16"):
        assert f"-DGGML_{on}=ON" in args
    for amx in ("AMX_TILE", "AMX_INT8", "AMX_BF16"):
        assert f"-DGGML_{amx}=OFF" in args
    assert not any("AMX" in a and a.endswith("=ON") for a in args)
    assert summary(args).endswith("no AMX")


def test_a_host_without_avx512_gets_avx2_and_no_avx512() -> None:
    args = cmake_args("x86_64", cpu_flags(ZEN2))
    assert {"-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON", "-DGGML_AVX512=OFF"} <= set(args)
    # AVX-512 needs all five of F/CD/VL/DQ/BW: one missing leaves it off.
    partial = ZEN2 + " avx512f avx512cd avx512vl avx512dq"
    assert "-DGGML_AVX512=OFF" in cmake_args("x86_64", cpu_flags(partial))


def test_aarch64_is_llama_cpps_probing_arm_build_with_no_x86_flags() -> None:
    args = cmake_args("aarch64", cpu_flags(PI5))
    assert args == ("-DGGML_NATIVE=ON",)
    assert cpu_flags(PI5) >= {"asimd", "asimddp"}


def test_user_flags_override_and_change_the_key_but_never_turn_amx_on() -> None:
    flags = cpu_flags(SAPPHIRE_RAPIDS_VM)
    plain = cmake_args("x86_64", flags)
    extra = cmake_args("x86_64", flags, ["-DGGML_AVX512=OFF", "-DGGML_AMX_INT8=ON"])
    assert "-DGGML_AVX512=OFF" in extra and "-DGGML_AVX512=ON" not in extra
    # Their flags imply AVX-512F, so AVX-512 off takes its extensions with it.
    for ext in ("AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16"):
        assert f"-DGGML_{ext}=OFF" in extra
    assert "-DGGML_AMX_INT8=OFF" in extra and "-DGGML_AMX_INT8=ON" not in extra
    assert "-DGGML_AVX2=ON" in extra
    with pytest.raises(BuildError, match="not a CMake"):
        cmake_args("x86_64", flags, ["--march=native"])
    key = build_key("0.3.36", plain, "x86_64", "gcc 12")
    assert key == build_key("0.3.36", plain, "x86_64", "gcc 12")
    assert key != build_key("0.3.36", extra, "x86_64", "gcc 12")
    assert key != build_key("0.3.36", plain, "x86_64", "gcc 13")
    assert key != build_key("0.3.37", plain, "x86_64", "gcc 12")


def test_a_marker_left_behind_by_another_install_is_not_trusted(tmp_path: Path) -> None:
    # pip removes only the files its RECORD lists: a marker can outlive the build it named.
    (tmp_path / "lib").mkdir()
    lib = tmp_path / "lib" / "libggml-cpu.so.0.1"
    lib.write_bytes(b"the build the marker was written for")
    record = {"key": "k1", "files": llama_build.fingerprint(tmp_path)}
    (tmp_path / llama_build.MARKER).write_text(json.dumps(record))
    assert llama_build.installed_key(tmp_path) == "k1"
    lib.write_bytes(b"pip's own -march=native build, installed over it")
    assert llama_build.installed_key(tmp_path) is None


def test_only_a_build_with_this_machines_key_is_kept_or_reused() -> None:
    assert plan("k1", "k1", cached=True, rebuild=False) == "keep"
    assert plan("k1", "k1", cached=True, rebuild=True) == "build"
    # Installed by pip itself (no key), or with other flags: replaced.
    assert plan(None, "k1", cached=True, rebuild=False) == "reuse"
    assert plan("k0", "k1", cached=False, rebuild=False) == "build"


def _compile_so(tmp_path: Path, name: str, source: str, *flags: str) -> Path:
    c = tmp_path / f"{name}.c"
    c.write_text(source)
    so = tmp_path / f"lib{name}.so"
    subprocess.run(
        ["cc", "-O2", "-shared", "-fPIC", *flags, str(c), "-o", str(so)],
        check=True,
        capture_output=True,
    )
    return so


AMX_SOURCE = """
#include <immintrin.h>
#include <stdint.h>
typedef struct { uint8_t palette, start; uint8_t pad[14]; uint16_t colsb[16]; uint8_t rows[16]; }
    tilecfg;
void dot(const int8_t *a, const int8_t *b, int32_t *c) {
    tilecfg cfg = {1};
    for (int i = 0; i < 3; i++) { cfg.colsb[i] = 64; cfg.rows[i] = 16; }
    _tile_loadconfig(&cfg);
    _tile_loadd(1, a, 64);
    _tile_loadd(2, b, 64);
    _tile_zero(0);
    _tile_dpbssd(0, 1, 2);
    _tile_stored(0, c, 64);
    _tile_release();
}
"""
AVX2_SOURCE = """
#include <immintrin.h>
__m256 fma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
"""


@pytest.mark.skipif(not shutil.which("cc") or not shutil.which("objdump"), reason="no toolchain")
def test_the_check_finds_amx_code_and_passes_code_without_it(tmp_path: Path) -> None:
    # What -march=native compiles into ggml's AMX matmul on an AMX host, in miniature.
    amx = _compile_so(tmp_path, "amx", AMX_SOURCE, "-mamx-tile", "-mamx-int8")
    found = amx_instructions(amx)
    assert {"ldtilecfg", "tileloadd", "tdpbssd", "tilestored", "tilerelease"} <= set(found)
    avx2 = _compile_so(tmp_path, "avx2", AVX2_SOURCE, "-mavx2", "-mfma")
    assert amx_instructions(avx2) == {}


def _installed() -> Path:
    pkg = llama_build.package_dir()
    assert pkg is not None, "llama_cpp is not installed"
    return pkg


def test_the_installed_llama_cpp_has_no_amx_code() -> None:
    # Fails on a -march=native build made on an AMX-capable CPU (the check above shows the
    # instructions are found), whatever CPU runs the test.
    libs = llama_build.libraries(_installed())
    assert any(lib.name.startswith("libggml-cpu") for lib in libs), libs
    found = {lib.name: f for lib in libs if (f := amx_instructions(lib))}
    assert found == {}, f"AMX instructions in the installed llama.cpp: {found}"


def test_the_installed_llama_cpp_is_this_machines_build() -> None:
    # scripts/install wrote the key of the flags it built with and a hash of the files;
    # pip's own -march=native build, or a build for other flags, fails here.
    pkg = _installed()
    args, key = llama_build.this_machine()
    assert llama_build.installed_key(pkg) == key, (llama_build.installed_marker(pkg), args)
    assert not any("AMX" in a and a.endswith("=ON") for a in args)


def test_a_rerun_of_the_install_keeps_the_build() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "assistant.commands.llama_build", "install", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("llama.cpp: would keep"), done.stdout


FAULTING_LLAMA_CPP = """
import ctypes, os, signal
amx = ctypes.CDLL(os.environ["AMX_SO"])
buf = ctypes.create_string_buffer(4096)
amx.dot(buf, buf, buf)  # ldtilecfg: SIGILL without AMX, SIGSEGV where tiles are not given
os.kill(os.getpid(), signal.SIGSEGV)  # (a host where AMX works: die as the issue's did)
"""


@pytest.mark.skipif(not shutil.which("cc"), reason="no C compiler")
def test_a_build_that_crashes_stops_the_install_with_one_line_naming_it(tmp_path: Path) -> None:
    # A llama_cpp, first on the path, that runs AMX code as it loads, as the -march=native
    # build on the host did: the child dies of the fault, not of an exception.
    fake = tmp_path / "llama_cpp"
    fake.mkdir()
    (fake / "__init__.py").write_text(FAULTING_LLAMA_CPP)
    amx = _compile_so(tmp_path, "amx", AMX_SOURCE, "-mamx-tile", "-mamx-int8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "AMX_SO": str(amx)}
    with pytest.raises(BuildError) as crash:
        llama_build.smoke(Path("/models/fast.gguf"), env=env)
    line = str(crash.value)
    assert "\n" not in line
    assert "crashed" in line and "fast.gguf" in line
    assert "killed by SIGILL" in line or "killed by SIGSEGV" in line, line
    assert "scripts/install --rebuild-llama" in line
    # The command the install runs prints that line alone and exits non-zero.
    done = subprocess.run(
        [sys.executable, "-m", "assistant.commands.llama_build", "smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": f"{tmp_path}:{ROOT}", "XDG_CONFIG_HOME": str(tmp_path / "c")},
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "crashed" in done.stderr, done.stderr


def test_a_model_that_fails_to_load_is_not_called_a_crashed_build(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-model.gguf"
    bad.write_bytes(b"not a gguf" * 100)
    with pytest.raises(BuildError) as failed:
        llama_build.smoke(bad)
    line = str(failed.value)
    assert "could not run" in line and "not-a-model.gguf" in line
    assert "crashed" not in line and "rebuild" not in line


@pytest.mark.models
def test_the_smoke_test_makes_a_token_with_each_bundled_model() -> None:
    models = llama_build.local_models()
    assert len(models) == 2 and all(m.suffix == ".gguf" for m in models)
    for model in models:
        assert llama_build.smoke(model).strip("'\"")


def test_the_marker_is_json_the_install_can_read(tmp_path: Path) -> None:
    (tmp_path / llama_build.MARKER).write_text(json.dumps({"key": "abc"}))
    assert llama_build.installed_marker(tmp_path) == {"key": "abc"}
    (tmp_path / llama_build.MARKER).write_text("{broken")
    assert llama_build.installed_marker(tmp_path) is None
