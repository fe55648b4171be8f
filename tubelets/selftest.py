"""``tubelets selftest``: every backend against the reference on this machine, then timings.

    tubelets selftest [--device cuda|cpu] [--quick] [--json PATH]
    python -m tubelets selftest ...

The checks use the public API alone: :func:`tubelets.composite`, :class:`tubelets.TubeletOverlay`,
:func:`tubelets.sample_tubelets`, :data:`tubelets.ops.BACKENDS`, :func:`tubelets.ops.unavailable`,
:mod:`tubelets.cuda_driver` and :func:`tubelets.profiling.count_dispatches`. The oracle is
the reference, ``composite(..., backend="torch")``, on the same device; on CUDA it is first
checked against itself on the CPU. Every other backend that paints the device's tensors must
give the same raw bits, except that where the reference has a NaN any NaN matches: torch's
own float32 → bfloat16 cast gives 0x7FC0 or 0xFFFF (scalar or vectorised code), and a GPU's
arithmetic turns every NaN into 0x7FFFFFFF. A non-NaN there (the -0.0 of a bad rounding) fails.

A check passes, fails or is skipped (the reason is printed). Without ``--quick`` the large
CUDA cases run, ``torch.compile`` uses inductor rather than aot_eager, and a benchmark
follows: pairs of clips per second, achieved GB/s (both clips read, both written) against a
device-to-device copy measured in the same run, and launches per call. The exit status is 1
if a check failed; ``--json`` writes the machine, the versions, every check and the timings.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import json
import math
import platform
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable

import torch

from . import TubeletConfig, TubeletOverlay, __version__, composite, cuda_driver, ops, sample_tubelets
from .baselines import overlay_grid_sample, overlay_kornia
from .profiling import count_dispatches

DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32)
LAYOUTS = ("BCTHW", "BTCHW", "channels_last_3d", "sliced")
# NaN bit patterns put into float sources and canvases: quiet and signalling, both signs, the
# GPU's canonical one and NumPy's.
NAN_PAYLOADS = {
    torch.float32: (0x7FC00000, 0x7FFFFFFF, 0xFFFFFFFF, 0x7F800001, 0xFFC00001),
    torch.float16: (0x7E00, 0x7FFF, 0xFFFF, 0x7C01, 0xFE01),
    torch.bfloat16: (0x7FC0, 0x7FFF, 0xFFFF, 0x7F81, 0xFFC1),
}
# Every transform, translucent and soft patches, so that blending and ramps are exercised.
MIXED = TubeletConfig(num_tubelets=3, transforms=("rotation", "scale", "shear"), opacity=(0.4, 1.0),
                      softness=(0.0, 0.3))
CONFIGS = {
    "paper": TubeletConfig(),
    "linear motion, scale": TubeletConfig(motion="linear", transforms=("scale",)),
    "static, 5 tubelets, p=0.5": TubeletConfig(motion="static", num_tubelets=5, p=0.5),
    "translucent soft ellipses": TubeletConfig(shapes=("ellipse",), opacity=(0.2, 0.8), softness=(0.1, 0.5)),
    "large patches, shear": TubeletConfig(patch_size=(0.6, 1.0), transforms=("shear", "rotation")),
}
# (B, C, T, H, W): 1×1 frames, one frame, primes, H ≠ W, a single row or column.
AWKWARD = ((1, 1, 1, 1, 1), (2, 3, 1, 13, 11), (3, 1, 5, 7, 29), (1, 4, 3, 2, 97), (2, 3, 2, 31, 1))


class Skipped(Exception):
    """The check cannot run here; the message says why."""


@dataclasses.dataclass
class Result:
    name: str
    status: str  # "pass", "fail" or "skip"
    detail: str
    seconds: float


@dataclasses.dataclass(frozen=True)
class Case:
    """Painting ``B`` clips ``(C, T, H, W)`` of ``dtype`` stored in ``layout`` with tubelets
    sampled by ``config``; ``nans`` puts NaNs of every payload into float clips."""

    shape: tuple[int, int, int, int, int]
    dtype: torch.dtype
    layout: str = "BCTHW"
    config: TubeletConfig = MIXED
    nans: bool = False
    seed: int = 0

    def __str__(self) -> str:
        sizes = "×".join(map(str, self.shape))
        return f"{str(self.dtype).removeprefix('torch.')} {sizes} {self.layout}{' NaN' if self.nans else ''}"


def stored(values: torch.Tensor, layout: str) -> torch.Tensor:
    """``values`` ``(B, C, T, H, W)`` in the memory layout ``layout``."""
    if layout == "BTCHW":  # stored (B, T, C, H, W), as video decoders give it
        return values.transpose(1, 2).contiguous().transpose(1, 2)
    if layout == "channels_last_3d":
        return values.contiguous(memory_format=torch.channels_last_3d)
    if layout == "sliced":  # every other column of a larger buffer, one row in
        batch, channels, frames, height, width = values.shape
        buffer = torch.zeros(batch, channels, frames, height + 1, 2 * width, dtype=values.dtype, device=values.device)
        view = buffer[..., 1:, ::2]
        view.copy_(values)
        return view
    return values.clone()


def make_inputs(case: Case, device: torch.device):
    """``(video, source, tubelets)`` for ``case`` on ``device``, the same on every device."""
    generator = torch.Generator().manual_seed(case.seed)
    batch, channels, frames, height, width = case.shape

    def clip() -> torch.Tensor:
        if case.dtype == torch.uint8:
            values = torch.randint(0, 256, case.shape, generator=generator, dtype=torch.uint8)
        else:
            values = torch.rand(case.shape, generator=generator).to(case.dtype)
        if case.nans and case.dtype.is_floating_point:
            integer = {2: torch.int16, 4: torch.int32}[values.element_size()]
            payloads = torch.tensor(NAN_PAYLOADS[case.dtype], dtype=torch.int64).to(integer)
            pick = torch.randint(0, len(payloads), case.shape, generator=generator)
            where = torch.rand(case.shape, generator=generator) < 0.1
            values = torch.where(where, payloads[pick].view(case.dtype), values)
        return stored(values.to(device), case.layout)

    video, source = clip(), clip()
    tubes = sample_tubelets(case.config, batch, frames, height, width, device=device, generator=generator)
    return video, source, tubes


def bits(tensor: torch.Tensor) -> torch.Tensor:
    integer = {1: torch.uint8, 2: torch.int16, 4: torch.int32}[tensor.element_size()]
    return tensor.contiguous().view(integer)


def mismatch(actual: torch.Tensor, expected: torch.Tensor) -> str | None:
    """``None`` if the raw bits agree (NaN matching any NaN), else the first difference."""
    differ = bits(actual) != bits(expected)
    if expected.is_floating_point():
        nan = torch.isnan(expected)
        differ = (torch.isnan(actual) != nan) | (differ & ~nan)
    count = int(differ.sum())
    if count == 0:
        return None
    index = tuple(int(i) for i in differ.nonzero()[0])
    mask = (1 << 8 * actual.element_size()) - 1
    got, want = (int(bits(t)[index]) & mask for t in (actual, expected))
    return (f"{count} of {actual.numel()} values differ, first at {index}: "
            f"{actual[index].item()!r} (0x{got:x}) instead of {expected[index].item()!r} (0x{want:x})")


def paint_mismatch(case: Case, backend: str, device: torch.device) -> str | None:
    """How ``backend`` differs from the reference on ``case``; ``out=`` in the case's layout."""
    video, source, tubes = make_inputs(case, device)
    expected = composite(video, source, tubes, backend="torch")
    out = None if case.layout == "BCTHW" else stored(torch.zeros_like(video, memory_format=torch.contiguous_format), case.layout)
    return mismatch(composite(video, source, tubes, backend=backend, out=out), expected)


def masks_mismatch(case: Case, backend: str, device: torch.device) -> str | None:
    """How ``backend`` differs from the reference on ``case`` painted with masks from a source
    with an alpha channel (transparent, opaque and between; floats beyond [0, 1] too), with
    the videos and with masks alone."""
    video, source, tubes = make_inputs(case, device)
    generator = torch.Generator().manual_seed(case.seed + 1)
    unit = torch.rand(source[:, :1].shape, generator=generator).to(device)
    alpha = ((unit * 3).floor() * 127.5).round().to(torch.uint8) if case.dtype == torch.uint8 else \
        (unit * 1.6 - 0.3).to(case.dtype)
    source = torch.cat([source, alpha], 1)
    results = []
    for name in (backend, "torch"):
        out = torch.empty_like(video, memory_format=torch.contiguous_format)
        masks = torch.empty(video.shape[0], *video.shape[2:], dtype=torch.int8, device=device)
        alone = torch.empty_like(masks)
        ops.paint_([out], [video], source, tubes, backend=name, masks=masks, source_alpha=True)
        ops.paint_([], [], source, tubes, backend=name, masks=alone, source_alpha=True)
        results.append((out, masks, alone))
    (out, masks, alone), (want, want_masks, _) = results
    for label, actual, expected in (("pixels", out, want), ("masks", masks, want_masks),
                                    ("masks alone", alone, want_masks)):
        if problem := mismatch(actual, expected):
            return f"{label}: {problem}"
    return None


def parity(backend: str, device: torch.device, cases: list[Case],
           compare: Callable[[Case, str, torch.device], str | None] = paint_mismatch) -> Callable[[], str]:
    def check() -> str:
        failures = [f"{case}: {problem}" for case in cases if (problem := compare(case, backend, device))]
        if failures:
            raise AssertionError(f"{len(failures)} of {len(cases)} cases differ; " + "; ".join(failures[:3]))
        return f"{len(cases)} cases, same bits"
    return check


def other_span_kernels(device: torch.device, cases: list[Case]) -> Callable[[], str]:
    """The C++ backend with each span kernel this CPU runs besides its default
    (``tubelets._C.simds()``: the portable passes, AVX2, AVX-512), each on ``cases``."""
    def check() -> str:
        from .native import _C

        assert _C is not None  # the cpu backend is available
        default = _C.simd()
        others = [simd for simd in _C.simds() if simd != default]
        try:
            for simd in others:
                _C.set_simd(simd)
                try:
                    parity("cpu", device, cases)()
                except AssertionError as error:
                    raise AssertionError(f"{simd}: {error}") from None
        finally:
            _C.set_simd(default)
        if not others:
            return f"this CPU runs the {default} kernel only"
        return f"{', '.join(others)} besides {default}: {len(cases)} cases each, same bits"
    return check


def oracle_on_cpu(device: torch.device) -> Callable[[], str]:
    """The reference on ``device`` against the reference on the CPU, which defines the bits."""
    cases = [Case((2, 3, 4, 24, 31), dtype) for dtype in DTYPES]

    def check() -> str:
        for case in cases:
            video, source, tubes = make_inputs(case, device)
            here = composite(video, source, tubes, backend="torch")
            cpu = composite(video.cpu(), source.cpu(), tubes.to("cpu"), backend="torch")
            if problem := mismatch(here.cpu(), cpu):
                raise AssertionError(f"{case}: {problem}")
        return f"{len(cases)} cases, same bits as on the CPU"
    return check


def side_stream(backend: str, device: torch.device) -> str:
    """Paint under ``torch.cuda.stream(s)`` and read the result on ``s`` at once, while the
    default stream is busy: a launch on any stream but ``s`` would be read unfinished."""
    sleep = getattr(torch.cuda, "_sleep", None)
    if sleep is None:
        raise Skipped("this torch has no torch.cuda._sleep to keep a stream busy")
    case = Case((2, 3, 4, 24, 31), torch.float32)
    video, source, tubes = make_inputs(case, device)
    expected = composite(video, source, tubes, backend="torch")
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.device(device):
        sleep(200_000_000)  # on the default stream: about 0.1 s of GPU time
    with torch.cuda.stream(stream):
        result = composite(video, source, tubes, backend=backend)
        snapshot = result.clone()
    torch.cuda.synchronize(device)
    if problem := mismatch(snapshot, expected):
        raise AssertionError(problem)
    return "result ready on the stream it was painted on"


def many_frames(backend: str, device: torch.device) -> str:
    """More than 65,535 frames (B·T), beyond a CUDA grid's y and z limits."""
    case = Case((1100, 3, 64, 12, 20), torch.uint8, config=TubeletConfig())
    if problem := paint_mismatch(case, backend, device):
        raise AssertionError(f"{case}: {problem}")
    return f"{case}: {1100 * 64:,} frames, same bits"


def huge_tensor(backend: str, device: torch.device) -> str:
    """A video of more than 2**31 elements, painted beyond element 2**31."""
    shape = (2, 1, 16_400, 256, 256)
    size = math.prod(shape)
    free = torch.cuda.mem_get_info(device)[0]
    if free < 6 * size:
        raise Skipped(f"needs {6 * size / 2**30:.1f} GiB free on {device} for {size:,} uint8 values, "
                      f"{free / 2**30:.1f} GiB are")
    generator = torch.Generator(device).manual_seed(0)
    video, source = (torch.randint(0, 256, shape, dtype=torch.uint8, device=device, generator=generator)
                     for _ in range(2))
    config = TubeletConfig(patch_size=(0.05, 0.1))
    tubes = sample_tubelets(config, *shape[:1], *shape[2:], device=device, generator=torch.Generator().manual_seed(0))
    expected = composite(video, source, tubes, backend="torch")
    if not (expected.view(-1)[2**31:] != video.view(-1)[2**31:]).any():
        raise AssertionError("the reference painted nothing beyond element 2**31: the case tests nothing")
    problem = mismatch(composite(video, source, tubes, backend=backend), expected)
    if problem:
        raise AssertionError(problem)
    return f"{size:,} elements, same bits"


def compiled_overlay(backend: str, device: torch.device, compiler: str) -> str:
    """``torch.compile(fullgraph=True)`` of a ``TubeletOverlay`` call against the reference."""
    v1, v2, tubes = make_inputs(Case((2, 3, 4, 24, 31), torch.uint8), device)
    overlay = TubeletOverlay(backend=backend)
    compiled = torch.compile(lambda a, b: overlay(a, b, tubelets=tubes), fullgraph=True, backend=compiler)
    expected = TubeletOverlay(backend="torch")(v1, v2, tubelets=tubes)
    for got, want in zip(compiled(v1, v2), expected):
        if problem := mismatch(got, want):
            raise AssertionError(problem)
    return f"{compiler}, fullgraph, same bits"


def graph_capture(backend: str, device: torch.device) -> str:
    """Whole ``TubeletOverlay`` calls captured in CUDA graphs and replayed: with explicit
    tubelets (the same bits as the reference), and sampling included (the pair is painted)."""
    v1, v2, tubes = make_inputs(Case((2, 3, 4, 24, 31), torch.uint8), device)
    overlay = TubeletOverlay(backend=backend)
    expected = TubeletOverlay(backend="torch")(v1, v2, tubelets=tubes)
    calls = {"replayed": lambda: overlay(v1, v2, tubelets=tubes), "sampled": lambda: overlay(v1, v2)}
    captured = {}
    for name, call in calls.items():
        warmup = torch.cuda.Stream(device)
        warmup.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(warmup):  # compiles, allocates and caches constants outside the capture
            call()
        torch.cuda.current_stream(device).wait_stream(warmup)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.device(device), torch.cuda.graph(graph):
            captured[name] = call()
        graph.replay()
    torch.cuda.synchronize(device)
    for got, want in zip(captured["replayed"], expected):
        if problem := mismatch(got, want):
            raise AssertionError(f"replayed graph: {problem}")
    if all(torch.equal(got, clip) for got, clip in zip(captured["sampled"], (v1, v2))):
        raise AssertionError("the captured call with sampling painted nothing")
    return "captured and replayed (explicit and sampled tubelets), same bits"


def driver_check(device: torch.device) -> str:
    """The CUDA module's driver check: what it was built for, whether this machine runs it, and
    whether the backend's availability says the same."""
    report = cuda_driver.installed()
    if report is None:
        raise Skipped("tubelets._cuda is not installed (built without nvcc)")
    said = ops.unavailable("cuda", torch.device("cuda"))
    if said != report.problem:
        raise AssertionError(f"the backend says {said!r}, the driver check {report.problem!r}")
    if device.type != "cuda":
        return str(report)
    if report.problem is not None:
        raise AssertionError(report.problem)
    capability = torch.cuda.get_device_capability(device)
    if problem := report.device_problem(capability):
        raise AssertionError(problem)
    image = cuda_driver.kernel_image(report.archs, capability)
    return f"{report}; sm_{capability[0]}{capability[1]} runs {image}"


Checks = list[tuple[str, Callable[[], str]]]  # (name, check returning what it found)


def plan(device: torch.device, quick: bool) -> tuple[Checks, list[str], Checks]:
    """``(checks, backends, late checks)``: named checks, the backends they compare with the
    reference, and checks to run after the benchmark (a failed capture may upset the device)."""
    backends = [b for b in ops.BACKENDS if b != "torch" and ops.unavailable(b, device) is None]
    checks: Checks = []
    for backend in ops.BACKENDS:
        if backend != "torch" and backend not in backends:
            reason = ops.unavailable(backend, device)
            checks.append((f"{backend}: available", _skip(f"unavailable here: {reason}")))
    if device.type == "cuda":
        checks.append(("torch: reference on CUDA = on CPU", oracle_on_cpu(device)))
    small = (2, 3, 4, 24, 31)
    for backend in backends:
        families = {
            "dtypes × layouts": [Case(small, d, layout) for d in DTYPES for layout in LAYOUTS],
            "awkward shapes": [Case(shape, d) for shape in AWKWARD for d in DTYPES],
            "tubelet configs": [Case(small, d, config=c) for c in CONFIGS.values() for d in (torch.uint8, torch.bfloat16)],
            "NaN sources and canvases": [Case(small, d, nans=True) for d in NAN_PAYLOADS],
        }
        for family, cases in families.items():
            checks.append((f"{backend}: {family}", parity(backend, device, cases)))
        masked = [Case(shape, d) for shape in (small, *AWKWARD[1:3]) for d in DTYPES]
        checks.append((f"{backend}: masks, sprite alpha", parity(backend, device, masked, masks_mismatch)))
        if backend == "cpu":
            kernels = [Case(small, d, layout) for d in DTYPES for layout in LAYOUTS]
            kernels += [Case(shape, d) for shape in AWKWARD for d in (torch.uint8, torch.float32)]
            checks.append(("cpu: other span kernels", other_span_kernels(device, kernels)))
        if device.type == "cuda":
            checks.append((f"{backend}: non-default stream", functools.partial(side_stream, backend, device)))
            checks.append((f"{backend}: cuda:1 from cuda:0", _second_gpu(backend)))
            if not quick:
                checks.append((f"{backend}: B·T > 65,535 frames", functools.partial(many_frames, backend, device)))
                checks.append((f"{backend}: > 2**31 elements", functools.partial(huge_tensor, backend, device)))
        compiler = "aot_eager" if quick else "inductor"
        checks.append((f"{backend}: torch.compile(overlay)",
                       functools.partial(compiled_overlay, backend, device, compiler)))
    checks.append(("CUDA module: driver check", lambda: driver_check(device)))
    late: Checks = []
    if device.type == "cuda":
        late = [(f"{b}: CUDA graph of an overlay call", functools.partial(graph_capture, b, device)) for b in backends]
    return checks, backends, late


def _skip(reason: str) -> Callable[[], str]:
    def check() -> str:
        raise Skipped(reason)
    return check


def _second_gpu(backend: str) -> Callable[[], str]:
    def check() -> str:
        if torch.cuda.device_count() < 2:
            raise Skipped("one GPU only")
        with torch.cuda.device(0):
            return parity(backend, torch.device("cuda:1"), [Case((2, 3, 4, 24, 31), d) for d in DTYPES])()
    return check


def run_check(name: str, check: Callable[[], str]) -> Result:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy on signalling NaNs (interpreter)
        try:
            status, detail = "pass", check()
        except Skipped as reason:
            status, detail = "skip", str(reason)
        except Exception as error:  # a check that breaks has failed, whatever broke
            status, detail = "fail", f"{type(error).__name__}: {error}"
            if not isinstance(error, AssertionError):
                detail += "\n" + "".join(traceback.format_exception(error)[-3:]).rstrip()
    result = Result(name, status, detail, time.perf_counter() - start)
    print(f"{status.upper():<6}{result.seconds:7.2f}s  {name}: {_first_line(detail)}", flush=True)
    return result


# ---------------------------------------------------------------------------
# Benchmark


def seconds_per_call(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Mean seconds of ``repeats`` calls after two warm-up calls: CUDA events on CUDA, else
    ``time.perf_counter``."""
    for _ in range(2):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / repeats
    start_time = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start_time) / repeats


def copy_bandwidth(device: torch.device) -> float:
    """Bytes/s of a device-to-device copy (read and write counted)."""
    size = (256 if device.type == "cuda" else 64) << 20
    source = torch.ones(size, dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    return 2 * size / seconds_per_call(lambda: target.copy_(source), device, repeats=10)


def benchmark(device: torch.device, backends: list[str]) -> dict:
    """Clip pairs per second of every backend, the reference and batched PyTorch warps, on
    the paper's clips (16 × 112² uint8, M = 2, rotation)."""
    batch = 64 if device.type == "cuda" else 4
    repeats = 20 if device.type == "cuda" else 3
    v1, v2, tubes = make_inputs(Case((batch, 3, 16, 112, 112), torch.uint8, config=TubeletConfig()), device)
    moved = 4 * v1.numel() * v1.element_size()  # both clips read, both written
    bandwidth = copy_bandwidth(device)

    def overlay_with(backend: str) -> Callable[[], object]:
        return lambda: TubeletOverlay(backend=backend)(v1, v2, tubelets=tubes)

    timed = {f"tubelets {b}": overlay_with(b)
             for b in ["torch", *backends] if not (b == "triton" and device.type == "cpu")}
    timed["affine_grid + grid_sample"] = lambda: overlay_grid_sample(v1, v2, tubes)
    if importlib.util.find_spec("kornia") is not None:
        timed["kornia warp_affine"] = lambda: overlay_kornia(v1, v2, tubes)
    rows = []
    for name, fn in timed.items():
        seconds = seconds_per_call(fn, device, repeats)
        rows.append({"method": name, "ms_per_call": 1e3 * seconds, "pairs_per_s": batch / seconds,
                     "gb_per_s": moved / seconds / 1e9, "of_copy_bandwidth": moved / seconds / bandwidth,
                     "launches_per_call": count_dispatches(fn).kernels})
        row = rows[-1]
        print(f"  {name:<28}{row['pairs_per_s']:>10,.0f} pairs/s {row['gb_per_s']:>8.2f} GB/s "
              f"{100 * row['of_copy_bandwidth']:>6.1f}% of copy {row['launches_per_call']:>5} launches", flush=True)
    return {"clips": f"{batch} pairs of 3×16×112×112 uint8, M=2, rotation", "copy_gb_per_s": bandwidth / 1e9,
            "rows": rows}


# ---------------------------------------------------------------------------
# Report


def machine(device: torch.device) -> dict:
    """The device, the driver and every version that matters."""
    module = cuda_driver.installed()
    info: dict[str, object] = {
        "device": str(device), "python": platform.python_version(), "torch": torch.__version__,
        "cuda": torch.version.cuda, "tubelets": __version__, "triton": _version("triton"),
        "driver_cuda": cuda_driver.version_name(module.driver) if module and module.driver > 0 else None,
        "cuda_module": None if module is None else dataclasses.asdict(module),
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info.update(name=properties.name, capability=f"sm_{properties.major}{properties.minor}",
                    memory_gib=round(properties.total_memory / 2**30, 1), gpus=torch.cuda.device_count())
    else:
        info.update(name=cpu_name(), threads=torch.get_num_threads())
    return info


def cpu_name() -> str:
    """The CPU's model name (Linux), or what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    try:
        return __import__(module).__version__
    except Exception as error:  # a broken install is reported, not fatal
        return f"unimportable: {error}"


def _first_line(text) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else ""


def print_table(results: list[Result]) -> None:
    width = max(len(r.name) for r in results)
    print(f"\n{'status':<7}{'check':<{width + 2}}detail")
    for r in results:
        print(f"{r.status.upper():<7}{r.name:<{width + 2}}{_first_line(r.detail)[:140]}")
    counts = {status: sum(r.status == status for r in results) for status in ("pass", "fail", "skip")}
    print(f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tubelets selftest", description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="small cases only, no benchmark")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("tubelets selftest: --device cuda, but torch sees no CUDA device", file=sys.stderr)
        return 2
    device = torch.device("cuda", torch.cuda.current_device()) if args.device == "cuda" else torch.device("cpu")
    start = time.perf_counter()
    about = machine(device)
    print(f"tubelets {__version__} selftest on {about['name']} ({device}), torch {torch.__version__}, "
          f"CUDA {torch.version.cuda}, driver {about['driver_cuda']}")
    checks, backends, late = plan(device, args.quick)
    results = [run_check(name, check) for name, check in checks]
    timings = None
    if not args.quick:
        print("benchmark:")
        try:
            timings = benchmark(device, backends)
        except Exception as error:
            results.append(Result("benchmark", "fail", f"{type(error).__name__}: {error}", 0.0))
    results += [run_check(name, check) for name, check in late]
    print_table(results)
    failed = any(r.status == "fail" for r in results)
    report = {**about, "quick": args.quick, "passed": not failed, "seconds": time.perf_counter() - start,
              "checks": [dataclasses.asdict(r) for r in results], "benchmark": timings}
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if failed else 0
