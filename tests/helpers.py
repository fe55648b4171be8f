"""Hand-built tubelets and backend lists shared by the tests."""
import functools
import importlib.util
import itertools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from tubelets import ops
from tubelets.params import Tubelets, compile_inv_affine, half_size_of


def hand_tubelets(src_box, centers, *, angles=None, scales=None, shears=None, shape=0,
                  softness=0.0, opacity=1.0, src_frame=0) -> Tubelets:
    """Tubelets from explicit motion: ``src_box`` ``(B, M, 4)``, ``centers`` ``(B, M, T, 2)``."""
    src_box = torch.as_tensor(src_box, dtype=torch.int32)
    centers = torch.as_tensor(centers, dtype=torch.float32)
    batch, count, frames = centers.shape[:3]
    angles = torch.zeros(batch, count, frames) if angles is None else torch.as_tensor(angles, dtype=torch.float32).expand(batch, count, frames)
    scales = torch.ones(batch, count, frames, 2) if scales is None else torch.as_tensor(scales, dtype=torch.float32).expand(batch, count, frames, 2)
    shears = torch.zeros(batch, count, frames, 2) if shears is None else torch.as_tensor(shears, dtype=torch.float32).expand(batch, count, frames, 2)
    full = lambda v, dtype, *shape_: torch.as_tensor(v, dtype=dtype).expand(*shape_).contiguous()
    return Tubelets(
        inv_affine=compile_inv_affine(centers, half_size_of(src_box)[:, :, None], angles, scales, shears),
        opacity=full(opacity, torch.float32, batch, count, frames),
        src_box=src_box,
        src_frame=full(src_frame, torch.int32, batch, count),
        shape=full(shape, torch.int32, batch, count),
        softness=full(softness, torch.float32, batch, count),
        centers=centers, angles=angles, scales=scales, shears=shears,
    )


def kernel_params(tubes: Tubelets) -> tuple[torch.Tensor, ...]:
    """The parameter tensors every backend's ``paint_`` takes after the videos."""
    return tubes.inv_affine, tubes.opacity, tubes.src_box, tubes.src_frame, tubes.shape, tubes.softness


def paint_canvas(paint, canvas: torch.Tensor, source: torch.Tensor, *params, into: torch.Tensor | None = None) -> None:
    """Call a backend's ``paint_`` on the ``P`` copies of ``canvas`` ``(P, B, C, T, H, W)``:
    in place, or out of place from ``canvas`` into ``into`` (same shape)."""
    paint(list(canvas if into is None else into), list(canvas), source, *params)


def random_pair(shape, dtype=torch.uint8, seed=0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two random clips of ``shape``: uint8 in [0, 255], floats in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    v1, v2 = (torch.randint(0, 256, shape, generator=generator) for _ in range(2))
    if dtype.is_floating_point:
        v1, v2 = v1 / 255, v2 / 255
    return v1.to(dtype), v2.to(dtype)


def cpu_backends() -> list[str]:
    """Backends that paint CPU tensors here (the reference always)."""
    return [b for b in ("torch", "cpu") if ops.unavailable(b, torch.device("cpu")) is None]


def outside_every_patch(tubes: Tubelets, height: int, width: int) -> torch.Tensor:
    """``(B, T, H, W)`` pixels whose patch coordinates exceed 1 for every tubelet, in float64."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    m = tubes.inv_affine.double().numpy()[..., None, None]  # (B, M, T, 2, 3, 1, 1)
    ux = m[..., 0, 0, :, :] * x + m[..., 0, 1, :, :] * y + m[..., 0, 2, :, :]
    uy = m[..., 1, 0, :, :] * x + m[..., 1, 1, :, :] * y + m[..., 1, 2, :, :]
    outside = np.maximum(np.abs(ux), np.abs(uy)) > 1 + 1e-4
    return torch.from_numpy(outside.all(axis=1))


def bits(tensor: torch.Tensor) -> torch.Tensor:
    """The raw bits of ``tensor`` as integers, so that equality is exact, NaN included."""
    integer = {1: torch.uint8, 2: torch.int16, 4: torch.int32}[tensor.element_size()]
    return tensor.contiguous().view(integer)


def assert_same_bits(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Equal bits, except that a NaN matches any NaN.

    Which NaN a painted pixel gets is unspecified: where both operands of an add are NaN
    the compiler may put either first (and so pick either's sign and payload), arithmetic
    on a GPU makes every NaN 0x7FFFFFFF, and torch's own casts of NaN differ by code path.
    """
    actual, expected = actual.cpu(), expected.cpu()
    if expected.is_floating_point():
        nan = torch.isnan(expected)
        assert torch.equal(torch.isnan(actual), nan)
        actual, expected = actual[~nan], expected[~nan]
    assert torch.equal(bits(actual), bits(expected))


SENTINEL = 255


def huge_source_edge(axis: str):
    """``(canvas, source, params)``: a patch cut from the last 3 columns (``axis="x"``) or
    rows (``"y"``) of a uint8 source 2**24 + 4 pixels across (or down) and 2 the other way.

    There the crop's last index 2**24 + 3 rounds up to 2**24 + 4 in float32, one past the
    source; the source is a view of a buffer whose next column (row) holds ``SENTINEL``, so
    such a read stays in memory and shows in the result. The source's own pixels are < 200.
    """
    long, short = 2**24 + 4, 2
    if axis == "x":
        buffer = torch.full((1, 1, 1, short, long + 1), SENTINEL, dtype=torch.uint8)
        source = buffer[..., :long]
        src_box = [[[long - 3, 0, long - 1, short - 1]]]
        scales = [4.0, 2.0]  # the patch spans 12 × 8 canvas pixels
    else:
        buffer = torch.full((1, 1, 1, long + 1, short), SENTINEL, dtype=torch.uint8)
        source = buffer[..., :long, :]
        src_box = [[[0, long - 3, short - 1, long - 1]]]
        scales = [2.0, 4.0]
    source.copy_(torch.arange(long, dtype=torch.int64).remainder(199).to(torch.uint8).view(
        (1, 1, 1, 1, long) if axis == "x" else (1, 1, 1, long, 1)))
    tubes = hand_tubelets(src_box, [[[[8.0, 8.0]]]], scales=scales)
    canvas = torch.zeros(1, 1, 1, 1, 16, 16, dtype=torch.uint8)
    return canvas, source, kernel_params(tubes)


@functools.cache
def build_script():
    """``setup.py`` as a module, to test its functions (``setup()`` runs only as ``__main__``)."""
    path = Path(__file__).resolve().parent.parent / "setup.py"
    spec = importlib.util.spec_from_file_location("tubelets_build_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def byte_addresses(tensor: torch.Tensor) -> list[int]:
    """The address of every element's first byte, one per index (repeats kept): slow, for
    small tensors."""
    base, item = tensor.data_ptr(), tensor.element_size()
    return [base + item * sum(i * s for i, s in zip(index, tensor.stride()))
            for index in itertools.product(*(range(n) for n in tensor.shape))]


def brute_share(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether an element of ``a`` and one of ``b`` have a byte in common, by enumeration."""
    bytes_a = {x + k for x in byte_addresses(a) for k in range(a.element_size())}
    return any(y + k in bytes_a for y in byte_addresses(b) for k in range(b.element_size()))


def run_python(code: str, *args: str, interpret: bool = False, timeout: float | None = None
               ) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports the same ``tubelets`` as this one (the
    same ``sys.path``, from a neutral folder: in the repository root the source tree, which
    has no compiled modules when the package is installed, would shadow it), with
    ``TRITON_INTERPRET=1`` or without it."""
    environment = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if interpret:
        environment["TRITON_INTERPRET"] = "1"
    environment["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in sys.path)
    with tempfile.TemporaryDirectory() as directory:
        return subprocess.run([sys.executable, "-c", code, *args], env=environment, cwd=directory,
                              capture_output=True, text=True, timeout=timeout)
