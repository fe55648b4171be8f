"""The CUDA kernels compile for every architecture setup.py builds by default, without
spilling, no GPU needed.

``nvcc -Xptxas -v`` reports, per kernel instantiation (one per dtype) and architecture,
the registers used and the bytes spilled to local memory; spills would put slow local
memory traffic into the per-pixel loop. The targets and flags are those of ``setup.py``.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import build_script

CSRC = Path(__file__).resolve().parent.parent / "csrc"
TARGETS = build_script().gencode_targets(build_script().DEFAULT_CUDA_ARCHS.split(";"))
ARCHS = tuple(real for _, real in TARGETS if real.startswith("sm_"))  # those with a cubin
DTYPES = ("uint8", "float16", "bfloat16", "float32")
# Itanium-mangled template arguments of paint_kernel<scalar_t>.
MANGLED = {"h": "uint8", "NS_4HalfE": "float16", "NS_8BFloat16E": "bfloat16", "f": "float32"}
NVCC_FLAGS = ["-std=c++17", "-O3", "--fmad=false", "-Xptxas", "-v"]
# Registers per thread that __launch_bounds__ allows: 256 threads and at least 4 blocks per
# SM (64K registers) up to sm_90; from sm_120 on no minimum, where 64 spilled. There 96
# still keeps 2 blocks resident.
MAX_REGISTERS = {arch: 64 if int(arch[3:].rstrip("af")) < 120 else 96 for arch in ARCHS}


def parse_ptxas(report: str) -> dict[tuple[str, str], dict[str, int]]:
    """``{(arch, dtype): {"registers", "stack", "spill_stores", "spill_loads"}}``."""
    kernels: dict[tuple[str, str], dict[str, int]] = {}
    current = None
    for line in report.splitlines():
        if entry := re.search(r"Compiling entry function '(\w+)' for '(sm_\d+)'", line):
            argument = re.search(r"paint_kernelI(\w+?)EEvNS_9PaintArgsE", entry[1])
            current = kernels.setdefault((entry[2], MANGLED[argument[1]]), {})
        elif current is None:
            continue
        elif spills := re.search(
            r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line
        ):
            current.update(zip(("stack", "spill_stores", "spill_loads"), map(int, spills.groups())))
        elif registers := re.search(r"Used (\d+) registers", line):
            current["registers"] = int(registers[1])
    return kernels


@pytest.fixture(scope="module")
def ptxas_report(tmp_path_factory) -> dict[tuple[str, str], dict[str, int]]:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not found: the CUDA build cannot be checked on this machine")
    gencode = [f"-gencode=arch={virtual},code={real}" for virtual, real in TARGETS]
    output = tmp_path_factory.mktemp("cuda") / "composite_cuda.o"
    source = CSRC / "composite_cuda.cu"
    command = [nvcc, "-c", str(source), "-o", str(output), *gencode, *NVCC_FLAGS]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return parse_ptxas(result.stdout + result.stderr)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_does_not_spill(ptxas_report, arch, dtype):
    usage = ptxas_report[(arch, dtype)]
    print(f"paint_kernel<{dtype}> {arch}: {usage}")
    assert usage["spill_stores"] == 0 and usage["spill_loads"] == 0, usage
    assert usage["stack"] == 0, usage
    assert usage["registers"] <= MAX_REGISTERS[arch], usage


def test_default_archs_cover_turing_to_blackwell():
    """Cubins from sm_75 (T4) to sm_120 (RTX 50), PTX of the newest for later GPUs."""
    assert {"sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120"} <= set(ARCHS)
    newest = max(int(arch[3:]) for arch in ARCHS)
    assert TARGETS[-1] == (f"compute_{newest}",) * 2


def test_only_the_expected_kernels(ptxas_report):
    assert set(ptxas_report) == {(a, d) for a in ARCHS for d in DTYPES}


HEADER_ONLY = """#include "composite.h"
// Instantiate the per-pixel template for every dtype, so its body is checked too.
#define INSTANTIATE(T) template void tubelets::paint_pixel<T>( \
    const tubelets::PaintArgs&, const tubelets::Patch&, int64_t, int64_t, int64_t, int64_t, int64_t);
INSTANTIATE(uint8_t)
INSTANTIATE(tubelets::Half)
INSTANTIATE(tubelets::BFloat16)
INSTANTIATE(float)
"""


@pytest.mark.parametrize("compiler", ["c++", "nvcc"])
def test_shared_header_compiles_as_host_code(compiler, tmp_path):
    """composite.h alone, with strict warnings, through the host compiler directly and
    through nvcc (which hands a .cpp file to the host compiler)."""
    path = shutil.which(compiler)
    if path is None:
        pytest.skip(f"{compiler} not found")
    source = tmp_path / "header_only.cpp"
    source.write_text(HEADER_ONLY)
    warnings = ["-Wall", "-Wextra", "-Werror", "-pedantic"]
    if compiler == "nvcc":
        warnings = ["-Xcompiler=" + ",".join(warnings)]
    command = [path, "-std=c++17", "-c", str(source), "-o", str(tmp_path / "header_only.o"),
               f"-I{CSRC}", *warnings]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
