"""How the benchmarks measure: wall time, peak memory, copy bandwidth, bytes moved, the machine."""
from __future__ import annotations

import ctypes
import importlib
import math
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

H100_BANDWIDTH = 3.35e12
"""Bytes/s of an H100 SXM's HBM3, the datasheet figure; used only for a labelled model."""

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")
try:
    _MALLOC_TRIM = ctypes.CDLL(None).malloc_trim  # glibc
except (OSError, AttributeError):
    _MALLOC_TRIM = None

CPU_MEMORY_METHOD = (
    "CPU: peak resident set size during one call minus the resident set size before it. Before the "
    "call, glibc malloc_trim(0) hands freed memory back to the OS and writing 5 to /proc/self/clear_refs "
    "resets the high-water mark VmHWM; VmHWM is read after the call. Whole process, every allocator "
    "(PyTorch, NumPy, OpenCV), exact to the page, no sampling. "
    "CUDA: torch.cuda.max_memory_allocated() during the call minus memory_allocated() before it."
)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timings(fn: Callable[[], object], device: torch.device, *, repeats: int, warmup: int) -> list[float]:
    """Seconds of ``repeats`` calls of ``fn`` after ``warmup`` calls, each up to device synchronisation."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def peak_memory(fn: Callable[[], object], device: torch.device) -> int | None:
    """Bytes one call of ``fn`` adds at its peak (see :data:`CPU_MEMORY_METHOD`); ``None`` where
    the CPU method needs Linux's ``/proc`` or glibc and they are missing."""
    if device.type == "cuda":
        synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    if _MALLOC_TRIM is None or not _CLEAR_REFS.exists():
        return None
    _MALLOC_TRIM(0)
    _CLEAR_REFS.write_text("5")
    before = _status_kib("VmRSS")
    fn()
    return (_status_kib("VmHWM") - before) * 1024


def _status_kib(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def copy_bandwidth(device: torch.device, nbytes: int = 256 << 20, repeats: int = 5) -> float:
    """Bytes/s of ``dst.copy_(src)`` on ``nbytes``-byte tensors, read and write counted; median."""
    src = torch.ones(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    seconds = timings(lambda: dst.copy_(src), device, repeats=repeats, warmup=1)
    return 2 * nbytes / statistics.median(seconds)


def composite_bytes(tubelets, channels: int, height: int, width: int, itemsize: int) -> int:
    """Bytes that painting ``tubelets`` onto copies of a batch of clip pairs must move.

    Read and write both clips whole (the out-of-place copies), read and write the pixels
    each patch covers in both clips, and read each crop once. A patch covers
    ``4 / |det L|`` pixels, ``L`` the 2×2 part of its ``inv_affine``, times its shape's share
    of the square (1, π/4 or 1/2), at most the whole frame; parts off the frame count.
    """
    batch, _, frames = tubelets.inv_affine.shape[:3]
    linear = tubelets.inv_affine[..., :2].double()
    square = 4 / torch.linalg.det(linear).abs()  # (B, M, T) pixels
    share = torch.tensor([1.0, math.pi / 4, 0.5], dtype=torch.float64)[tubelets.shape.long().cpu()]
    covered = (square.cpu() * share[..., None]).clamp(max=height * width).sum().item()
    crops = tubelets.patch_size.double().prod(-1).sum().item()
    clip = batch * channels * frames * height * width
    return int(itemsize * (2 * 2 * clip + 2 * 2 * channels * covered + channels * crops))


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def machine() -> dict:
    """The CPU, its cores, the accelerator if any, and the versions of everything timed."""
    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
    for module in ("torch", "triton", "numpy", "scipy", "cv2", "kornia", "tubelets"):
        info[module] = _version(module)
    return info


def _version(module: str) -> str | None:
    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
