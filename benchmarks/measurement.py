"""How the benchmarks measure: wall time, peak memory, copy bandwidth, bytes moved, covered pixels, the machine."""
from __future__ import annotations

import ctypes
import importlib
import itertools
import os
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

from torch_pipelines import shape_coverage
from tubelets import output_memory
from tubelets.selftest import cpu_name

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
    "call, glibc malloc_trim(0) and tubelets.output_memory.release() hand freed memory back to the OS "
    "and writing 5 to /proc/self/clear_refs "
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


def interleaved_timings(calls: dict, device: torch.device, *, rounds: int, warmup: int = 1) -> dict:
    """Seconds of each call in ``calls`` (``{key: fn}``), ``rounds`` each, interleaved.

    After ``warmup`` calls of each, every round times each call once, in turn, so that a
    slow spell of a shared machine slows all of them alike; in an order shuffled each
    round (seeded), because a call right after a slow one finds its code and data evicted
    from the caches: in a fixed order the method after the readable reference ran 2× slower
    at B=1 than the same method later in the round. Each call is timed up to device
    synchronisation. Returns ``{key: [seconds of round 1, ...]}``.
    """
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    synchronize(device)
    seconds = {key: [] for key in calls}
    order = random.Random(0)
    for _ in range(rounds):
        keys = list(calls)
        order.shuffle(keys)
        for key in keys:
            fn = calls[key]
            start = time.perf_counter()
            fn()
            synchronize(device)
            seconds[key].append(time.perf_counter() - start)
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
    output_memory.release()  # the free blocks of earlier outputs would hide what a call needs
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


def must_move_bytes(batch: int, channels: int, frames: int, height: int, width: int, itemsize: int) -> int:
    """Bytes that making ``batch`` out-of-place clip pairs must move, whatever the method:
    read ``v1`` and ``v2`` once and write both outputs once, ``4·B·C·T·H·W·itemsize``."""
    return 4 * batch * channels * frames * height * width * itemsize


def paste_bytes(tubelets, covered: int, channels: int, height: int, width: int, itemsize: int) -> int:
    """Model of the bytes a painter that copies, then pastes, moves (ours, opencv).

    :func:`must_move_bytes`, plus a read and a write of each of the ``covered`` pixels
    (:func:`covered_pixels`) in both outputs, plus one read of each crop.
    """
    batch, _, frames = tubelets.inv_affine.shape[:3]
    crops = tubelets.patch_size.double().prod(-1).sum().item()
    must = must_move_bytes(batch, channels, frames, height, width, itemsize)
    return int(must + itemsize * channels * (2 * 2 * covered + crops))


def full_frame_bytes(tubelets, channels: int, height: int, width: int, itemsize: int) -> int:
    """Model, a lower bound, of the bytes full-frame float32 warps move (grid_sample, kornia).

    Both clips are converted to float32 copies and back (read ``itemsize``, write 4 bytes a
    value, then the reverse), and each tubelet blends every pixel of both copies (a read
    and a write of 4 bytes a value); their grids, masks and warped frames are left out.
    """
    batch, tubes, frames = tubelets.inv_affine.shape[:3]
    values = 2 * batch * channels * frames * height * width  # of both clips
    return int(values * (2 * (itemsize + 4) + tubes * 2 * 4))


def covered_pixels(tubelets, height: int, width: int) -> int:
    """Pixels the patches cover (alpha > 0) in a ``height × width`` frame, summed over clips,
    tubelets and frames: one clip of each pair, since both get the same patches.

    Patch coordinates ``u`` of each pixel follow :mod:`tubelets.params` in float32, as
    :mod:`tubelets.reference` computes them; alpha is the shape's coverage times the opacity.
    """
    ys = torch.arange(height, dtype=torch.float32).view(-1, 1)
    xs = torch.arange(width, dtype=torch.float32).view(1, -1)
    tubelets = tubelets.to("cpu")
    covered = 0
    for b, m in itertools.product(range(tubelets.batch_size), range(tubelets.num_tubelets)):  # (T, H, W) at a time
        a = tubelets.inv_affine[b, m, :, :, :, None, None]  # (T, 2, 3, 1, 1)
        ux = (a[:, 0, 0] * xs + a[:, 0, 1] * ys) + a[:, 0, 2]  # (T, H, W)
        uy = (a[:, 1, 0] * xs + a[:, 1, 1] * ys) + a[:, 1, 2]
        coverage = shape_coverage(ux, uy, tubelets.shape[b, m], tubelets.softness[b, m])
        covered += int((coverage * tubelets.opacity[b, m, :, None, None] > 0).sum())
    return covered


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def machine() -> dict:
    """The CPU, its cores, the accelerator if any, and the versions of everything timed."""
    info = {
        "cpu": cpu_name(),
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
