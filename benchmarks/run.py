"""Benchmark tubelets against the official code, a per-clip OpenCV pipeline and batched PyTorch warps.

    python benchmarks/run.py [--quick] [--official CLONE] [--out DIR]

Each case (clip size, batch ``B``, tubelets ``M``, transforms, dtype, threads) times every
method on the same input clip pairs, in one process:

================  ========================================  ========================================
method            sampling                                  compositing
================  ========================================  ========================================
``official``      the paper's code (``official.py``, from the clone given with ``--official``),
                  one clip pair per call as its data loader calls it: total only, as its
                  parameter sampling also crops, resizes and shapes the patches
``opencv``        efficient per-clip OpenCV pipeline (ours, written from the paper's text):
                  NumPy, one clip at a time                 OpenCV, one clip pair at a time
                  (``opencv_pipeline.sample_clip``)         (``opencv_pipeline.overlay_clip``)
``grid_sample``   ``tubelets.sample_tubelets``              ``F.affine_grid`` + ``F.grid_sample``
``kornia``        ``tubelets.sample_tubelets``              ``kornia.geometry.transform.warp_affine``
``ours:NAME``     ``tubelets.sample_tubelets``              ``TubeletOverlay(backend=NAME)``
``…+out``         the same                                  ``TubeletOverlay(backend=NAME)`` with
                                                            ``out=`` two tensors made once per case
``…+inplace``     the same                                  ``TubeletOverlay(backend=NAME, inplace=True)``
================  ========================================  ========================================

``NAME`` is every backend available at run time, except Triton's interpreter on CPU tensors
(a test tool); ``ours:torch``, the readable reference, is timed at ``B=1`` only. The
official code handles only 16-frame 112² and 224² clips, the sizes of every case here, and
runs with its pretraining config's values (read from the clone); it draws its own
tubelets. ``official`` and ``opencv`` read ``(T, H, W, C)`` NumPy copies of the clips (made
untimed) and return uncollated per-clip frames; ``B`` pairs are ``B`` calls in sequence.

Stages: ``sample`` draws parameters; ``composite`` paints given parameters (every method
but ``official`` paints the same :class:`~tubelets.Tubelets`, ``opencv`` after conversion
to its per-clip form); ``total`` samples and paints, as in training.

Timing: after one warm-up call of each, ``ROUNDS`` rounds (``ONE_PAIR_ROUNDS`` at B=1) each
time every method and stage of the case once, in an order shuffled each round
(:func:`measurement.interleaved_timings`), so that a busy spell of the machine slows all
contenders alike and none always runs right after the same, cache-evicting one. Columns,
per row:

* ``pairs/s``: clip pairs per second, the median over rounds, ``[min – max]`` beside it.
* ``×official``, ``×opencv``, ``×grid``: the median over that method's median, same case
  and stage (``official``: ``total`` only), same thread count.
* ``ns/px``: nanoseconds per covered pixel per clip pair: the median time of a call over
  the covered pixels of the case's tubelets (:func:`measurement.covered_pixels`: pixels
  with alpha > 0, summed over clips, tubelets and frames of ``v1``; ``v2`` gets the same).
  In ``total`` rows every call samples new tubelets and ``official`` its own, so there the
  case's count stands for their expected count.
* ``ops``, ``syncs``: kernel-like aten ops and host syncs of one call
  (:func:`tubelets.profiling.count_dispatches`); NumPy methods dispatch none (blank).
* ``moved MB``: a **model** of the bytes the method moves (:func:`measurement.paste_bytes`
  for ``ours`` and ``opencv``, :func:`measurement.full_frame_bytes`, a lower bound, for
  ``grid_sample`` and ``kornia``; ``official`` is not modelled), beside the bytes that must
  move (:func:`measurement.must_move_bytes`, in the case's header line).
* ``peak MiB``: extra memory of one more call (:data:`measurement.CPU_MEMORY_METHOD`).
* ``roofline``: the achieved rate × the bytes that must move, over the copy bandwidth
  measured in this run at the same thread count. The H100 figure in the header is a model
  (must-move bytes over 3.35 TB/s), not a measurement.

The issue's targets are checked at the end (:func:`print_targets`). Results go to
``DIR/results.json`` and ``DIR/chart.png``.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling modules; `tubelets` is the installed package

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import measurement  # noqa: E402
import official  # noqa: E402
import opencv_pipeline  # noqa: E402
import torch_pipelines  # noqa: E402
from tubelets import TubeletConfig, TubeletOverlay, Tubelets, sample_tubelets  # noqa: E402
from tubelets.ops import BACKENDS, unavailable  # noqa: E402
from tubelets.profiling import count_dispatches  # noqa: E402

ROUNDS = 5
ONE_PAIR_ROUNDS = 15
"""Rounds of the cases of one clip pair per call (B=1): such a call takes a millisecond,
and how long depends on what ran just before it (what is left in the caches), so their
medians need more rounds to settle."""
CHANNELS = 3
ALL_CORES = measurement.usable_cores()
TRANSFORMS = {"none": (), "rotation": ("rotation",), "scale+rotation+shear": ("scale", "rotation", "shear")}
DTYPES = {"uint8": torch.uint8, "float32": torch.float32}
NUMPY_METHODS = ("official", "opencv")
"""Methods that dispatch no aten op: nothing for ``count_dispatches`` to count."""


@dataclasses.dataclass(frozen=True)
class Case:
    """One point of the matrix: ``batch`` clip pairs of ``frames × height × width`` pixels."""

    frames: int
    height: int
    width: int
    batch: int
    tubelets: int
    transform: str
    dtype: str
    threads: int

    def label(self) -> str:
        threads = "1 thread" if self.threads == 1 else f"{self.threads} threads"
        return (f"{self.frames}×{self.height}×{self.width} B={self.batch} M={self.tubelets} "
                f"{self.transform} {self.dtype}, {threads}")


TARGET = Case(16, 112, 112, 32, 2, "rotation", "uint8", 1)
"""The paper's training setting (§4.1) on one core."""
TARGET_B1 = dataclasses.replace(TARGET, batch=1)
"""The same, one clip pair per call, as ``DataLoader`` workers make items."""
SPEEDUP_TARGETS = {TARGET: 30.0, TARGET_B1: 15.0}
"""The issue's targets: ``total`` clip pairs/s of ours over the official code's."""
PAINT_NS_TARGET = 3.0
"""The issue's target: ns per covered pixel per clip pair of ours' ``composite`` at ``TARGET``."""
KERNELS_TARGET, SYNCS_TARGET = 12, 0
"""The issue's targets: at most this many kernel-like ops and host syncs per overlay call."""


def matrix(quick: bool) -> list[Case]:
    """Every case of the full matrix, or the quick subset: the target cases and their neighbours."""
    threads = sorted({1, ALL_CORES})
    if quick:
        near = [dataclasses.replace(TARGET, **change) for change in (
            {}, {"dtype": "float32"}, {"transform": "scale+rotation+shear"},
            {"batch": 1}, {"batch": 1, "height": 224, "width": 224},
        )]
        return near + [dataclasses.replace(TARGET, threads=n) for n in threads if n != 1]
    return [Case(16, size, size, batch, tubelets, transform, dtype, n)
            for n in threads for size in (112, 224) for batch in (1, 32, 128) for tubelets in (1, 2, 3)
            for transform in TRANSFORMS for dtype in DTYPES]


def our_backends(device: torch.device) -> tuple[list[str], dict[str, str]]:
    """The backends that can paint tensors on ``device``, and why each other one cannot."""
    names, reasons = [], {}
    for name in BACKENDS:
        try:
            reason = unavailable(name, device)
        except Exception as error:  # a backend still being written may not even import
            reason = f"{type(error).__name__}: {error}"
        if name == "triton" and device.type == "cpu" and reason is None:
            reason = "on CPU tensors it runs in the Triton interpreter, a test tool; not timed"
        if reason is None:
            names.append(name)
        else:
            reasons[name] = reason
    return names, reasons


@dataclasses.dataclass(frozen=True)
class Timed:
    """One method at one stage: the call to time and what it moves."""

    call: Callable[[], object]
    moved_bytes: int | None  # the model of the bytes it moves; None: not modelled (or sampling only)


def inputs(case: Case, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, Tubelets]:
    """The case's clip pairs ``v1, v2`` ``(B, C, T, H, W)`` on ``device`` and the tubelets that
    every ``composite`` call paints; the same for every run."""
    config = TubeletConfig(num_tubelets=case.tubelets, transforms=TRANSFORMS[case.transform])
    generator = torch.Generator().manual_seed(0)
    size = (case.batch, CHANNELS, case.frames, case.height, case.width)
    v1, v2 = (torch.randint(0, 256, size, dtype=torch.uint8, generator=generator) for _ in range(2))
    if case.dtype == "float32":
        v1, v2 = v1 / 255, v2 / 255
    tubelets = sample_tubelets(config, case.batch, case.frames, case.height, case.width, generator=generator)
    return v1.to(device), v2.to(device), tubelets.to(device)


def methods(case, v1, v2, tubelets, covered, backends, with_kornia, clone) -> dict[tuple[str, str], Timed]:
    """``{(method, stage): Timed}`` for one case, on the device of ``v1``.

    ``covered`` is :func:`measurement.covered_pixels` of ``tubelets``; ``clone`` the official
    code's clone or None. NumPy methods run on CPU tensors only.
    """
    config = TubeletConfig(num_tubelets=case.tubelets, transforms=TRANSFORMS[case.transform])
    batch, frames, height, width = case.batch, case.frames, case.height, case.width
    itemsize = v1.element_size()
    paste = measurement.paste_bytes(tubelets, covered, CHANNELS, height, width, itemsize)
    full_frame = measurement.full_frame_bytes(tubelets, CHANNELS, height, width, itemsize)

    def sample():
        return sample_tubelets(config, batch, frames, height, width, device=v1.device)

    timed = {}
    if v1.device.type == "cpu":
        n1, n2 = (v.permute(0, 2, 3, 4, 1).contiguous().numpy() for v in (v1, v2))
        if clone is not None:
            transform, pairs = official.Official(clone, frames, height, width), official.clip_pairs(n1, n2)
            timed[("official", "total")] = Timed(lambda: transform.pairs(pairs), None)
        clips = opencv_pipeline.from_tubelets(tubelets)
        rng = np.random.default_rng(0)

        def opencv_sample():
            return [opencv_pipeline.sample_clip(rng, config, frames, height, width) for _ in range(batch)]

        def opencv_composite():
            return [opencv_pipeline.overlay_clip(n1[b], (n1[b], n2[b]), clips[b]) for b in range(batch)]

        def opencv_total():
            return [opencv_pipeline.overlay_clip(n1[b], (n1[b], n2[b]),
                                                 opencv_pipeline.sample_clip(rng, config, frames, height, width))
                    for b in range(batch)]

        timed.update({("opencv", "sample"): Timed(opencv_sample, None),
                      ("opencv", "composite"): Timed(opencv_composite, paste),
                      ("opencv", "total"): Timed(opencv_total, paste)})
    timed[("ours", "sample")] = Timed(sample, None)
    baselines = [("grid_sample", torch_pipelines.overlay_grid_sample)]
    if with_kornia:
        baselines.append(("kornia", torch_pipelines.overlay_kornia))
    for name, overlay in baselines:
        timed[(name, "composite")] = Timed(lambda overlay=overlay: overlay(v1, v2, tubelets), full_frame)
        timed[(name, "total")] = Timed(lambda overlay=overlay: overlay(v1, v2, sample()), full_frame)
    for name in backends:
        if name == "torch" and batch > 1:
            continue  # the readable reference takes seconds to minutes per batch: timed at B=1 only
        # +out paints into two tensors made once, as a loop reusing its buffers would; +inplace
        # paints v1 and v2 themselves (their pixels change from call to call; the work does not).
        reused = (torch.empty_like(v1), torch.empty_like(v2))
        for mode in ("", "+out", "+inplace") if name != "torch" else ("",):
            overlay = TubeletOverlay(config, backend=name, inplace=mode == "+inplace")
            out = reused if mode == "+out" else None
            label = f"ours:{name}{mode}"
            timed[(label, "composite")] = Timed(
                lambda overlay=overlay, out=out: overlay(v1, v2, tubelets=tubelets, out=out), paste)
            timed[(label, "total")] = Timed(lambda overlay=overlay, out=out: overlay(v1, v2, out=out), paste)
    return timed


def run_case(case, device, backends, with_kornia, clone, bandwidth, progress) -> tuple[dict, list[dict]]:
    """Time and measure every method of ``case`` on ``device``: the case's summary and its rows."""
    v1, v2, tubelets = inputs(case, device)
    covered = measurement.covered_pixels(tubelets, case.height, case.width)
    timed = methods(case, v1, v2, tubelets, covered, backends, with_kornia, clone)
    must = measurement.must_move_bytes(case.batch, CHANNELS, case.frames, case.height, case.width,
                                       v1.element_size())
    roofline = case.batch * bandwidth / must
    summary = {**dataclasses.asdict(case), "device": str(device), "must_move_bytes": must,
               "covered_pixels": covered, "copy_bandwidth": bandwidth, "roofline_clip_pairs_per_s": roofline,
               "h100_model_clip_pairs_per_s": case.batch * measurement.H100_BANDWIDTH / must}
    rounds = ONE_PAIR_ROUNDS if case.batch == 1 else ROUNDS
    progress(f"{len(timed)} calls × {rounds} rounds, interleaved")
    seconds = measurement.interleaved_timings({key: t.call for key, t in timed.items()}, device, rounds=rounds)
    rows = []
    for (method, stage), t in timed.items():
        progress(f"{method} {stage}: memory and dispatches")
        rates = [case.batch / s for s in seconds[(method, stage)]]
        median = statistics.median(rates)
        counts = None if method in NUMPY_METHODS else count_dispatches(t.call)
        painted = stage != "sample"
        rows.append({**dataclasses.asdict(case), "device": str(device), "method": method, "stage": stage,
                     "seconds": seconds[(method, stage)],
                     "clip_pairs_per_s": {"median": median, "min": min(rates), "max": max(rates)},
                     "ns_per_covered_pixel": case.batch / median / covered * 1e9 if painted else None,
                     "kernel_ops": None if counts is None else counts.kernels,
                     "host_syncs": None if counts is None else counts.syncs,
                     "ops": None if counts is None else dict(counts.ops),
                     "moved_bytes_model": t.moved_bytes,
                     "peak_bytes": measurement.peak_memory(t.call, device),
                     "roofline_share": median / roofline if painted else None})
    return summary, rows


RATIO_BASES = {"official": "vs_official", "opencv": "vs_opencv", "grid_sample": "vs_grid_sample"}
"""Method → the row field holding the ratio to it."""


def add_ratios(rows: list[dict]) -> None:
    """``vs_official``, ``vs_opencv``, ``vs_grid_sample``: each row's median over that method's,
    same case and stage; on the same device for grid_sample (the NumPy methods run on CPU)."""
    def key(row, method):
        device = row["device"] if method == "grid_sample" else None
        return (*(row[f] for f in Case.__dataclass_fields__), row["stage"], device)

    for method, field in RATIO_BASES.items():
        base = {key(r, method): r["clip_pairs_per_s"]["median"] for r in rows if r["method"] == method}
        for row in rows:
            rate = base.get(key(row, method))
            row[field] = None if rate is None else row["clip_pairs_per_s"]["median"] / rate


def show_progress(text: str) -> None:
    """One progress line on stderr: rewritten in place on a terminal, appended otherwise."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + text)
    elif text:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()



def case_of(row: dict) -> Case:
    return Case(**{f: row[f] for f in Case.__dataclass_fields__})


def print_case(summary: dict, rows: list[dict]) -> None:
    """The case's header (bytes that must move, covered pixels, roofline), then one line per
    method and stage; columns as in the module docstring."""
    device = summary["device"]
    print(f"\n== {case_of(summary).label()}, on {device}")
    print(f"   must move {summary['must_move_bytes'] / 1e6:.1f} MB (read v1 and v2, write both outputs); "
          f"{summary['covered_pixels'] / summary['batch']:,.0f} covered pixels per clip pair")
    print(f"   roofline {summary['roofline_clip_pairs_per_s']:,.0f} clip pairs/s at the copy bandwidth measured "
          f"here ({summary['copy_bandwidth'] / 1e9:.1f} GB/s); H100 model ({measurement.H100_BANDWIDTH / 1e12:.2f} "
          f"TB/s, not measured) {summary['h100_model_clip_pairs_per_s']:,.0f} clip pairs/s")
    print(f"   {'method':<20}{'stage':<10}{'pairs/s':>10}  {'[min – max]':<22}{'×official':>9}{'×opencv':>8}"
          f"{'×grid':>7}{'ns/px':>7}{'ops':>5}{'syncs':>6}{'moved MB':>9}{'peak MiB':>9}{'roofline':>9}")
    for row in rows:
        rate = row["clip_pairs_per_s"]
        method = row["method"] if device == "cpu" else f"{row['method']}@{device}"
        spread = f"[{rate['min']:,.1f} – {rate['max']:,.1f}]"
        cells = [_cell(row["vs_official"], "{:.1f}"), _cell(row["vs_opencv"], "{:.2f}"),
                 _cell(row["vs_grid_sample"], "{:.1f}"), _cell(row["ns_per_covered_pixel"], "{:.1f}"),
                 _cell(row["kernel_ops"], "{}"), _cell(row["host_syncs"], "{}"),
                 _cell(row["moved_bytes_model"], "{:.1f}", 1e-6), _cell(row["peak_bytes"], "{:.1f}", 2**-20),
                 _cell(row["roofline_share"], "{:.1%}")]
        widths = [9, 8, 7, 7, 5, 6, 9, 9, 9]
        print(f"   {method:<20}{row['stage']:<10}{rate['median']:>10,.1f}  {spread:<22}"
              + "".join(f"{cell:>{w}}" for cell, w in zip(cells, widths)))
    sys.stdout.flush()


def _cell(value, form: str, scale: float = 1.0) -> str:
    return "" if value is None else form.format(value * scale if scale != 1.0 else value)


def targets(rows: list[dict]) -> list[dict]:
    """The issue's targets for each of our backends timed at :data:`TARGET`, on CPU:
    ``{method, target, value, met}``, ``value`` and ``met`` None where not measured."""
    def row(case, method, stage):
        return next((r for r in rows if case_of(r) == case and r["device"] == "cpu"
                     and r["method"] == method and r["stage"] == stage), None)

    checks = []
    contenders = sorted({r["method"] for r in rows if r["method"].startswith("ours:") and case_of(r) == TARGET
                         and r["device"] == "cpu"})
    for method in contenders:
        for case, wanted in SPEEDUP_TARGETS.items():
            ours, theirs = row(case, method, "total"), row(case, "official", "total")
            value = None if ours is None or theirs is None else ours["vs_official"]
            checks.append({"method": method, "target": f">= {wanted:g}× official at B={case.batch} (sample + paint)",
                           "value": value, "unit": "×", "met": None if value is None else value >= wanted})
        paint, overlay = row(TARGET, method, "composite"), row(TARGET, method, "total")
        for target, value, unit, bound in [
            (f"<= {PAINT_NS_TARGET:g} ns per covered pixel per clip pair (paint, B=32)",
             paint["ns_per_covered_pixel"], " ns", PAINT_NS_TARGET),
            (f"<= {KERNELS_TARGET} kernel-like ops per overlay call (B=32)", overlay["kernel_ops"], "", KERNELS_TARGET),
            (f"<= {SYNCS_TARGET} host syncs per overlay call (B=32)", overlay["host_syncs"], "", SYNCS_TARGET),
        ]:
            checks.append({"method": method, "target": target, "value": value, "unit": unit, "met": value <= bound})
    return checks


def print_targets(checks: list[dict], with_official: bool) -> None:
    """One line per target: the target, the measured value, met or not."""
    if not checks:
        print(f"\nTargets of issue 8: not checked, no backend of ours was timed at {TARGET.label()}")
        return
    print(f"\nTargets of issue 8 ({TARGET.label()}; B=1 the same with one clip pair per call):")
    for check in checks:
        value = check["value"]
        if value is None:
            shown, verdict = "not measured", "" if with_official else "(run with --official CLONE)"
        else:
            shown = f"{value:.2f}{check['unit']}" if isinstance(value, float) else f"{value}"
            verdict = "met" if check["met"] else "NOT MET"
        print(f"   {check['method']:<18}{check['target']:<62}{shown:>14}  {verdict}")


def write_chart(rows: list[dict], path: Path) -> bool:
    """Clip pairs/s per method for the paper's setting (M=2, rotation), total stage, log scale;
    each bar labelled with its ratio to the official code where that was timed."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = [r for r in rows if r["stage"] == "total" and r["tubelets"] == 2 and r["transform"] == "rotation"]
    panels = sorted({r["threads"] for r in chosen})
    figure, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.8), squeeze=False)
    for ax, threads in zip(axes[0], panels):
        here = [r for r in chosen if r["threads"] == threads]
        cases = sorted({(r["frames"], r["height"], r["batch"], r["dtype"]) for r in here})
        labels = sorted({(r["method"], r["device"]) for r in here},
                        key=lambda m: (m[0] not in NUMPY_METHODS, NUMPY_METHODS.index(m[0])
                                       if m[0] in NUMPY_METHODS else 0, m))
        width = 0.8 / len(labels)
        for i, (method, device) in enumerate(labels):
            values = {(r["frames"], r["height"], r["batch"], r["dtype"]): r for r in here
                      if (r["method"], r["device"]) == (method, device)}
            xs = [k + i * width for k, case in enumerate(cases) if case in values]
            stats = [values[case]["clip_pairs_per_s"] for case in cases if case in values]
            medians = [s["median"] for s in stats]
            spread = [[m - s["min"] for m, s in zip(medians, stats)], [s["max"] - m for m, s in zip(medians, stats)]]
            name = method if device == "cpu" else f"{method}@{device}"
            bars = ax.bar(xs, medians, width, yerr=spread, label=name, capsize=2)
            ratios = [values[case]["vs_official"] for case in cases if case in values]
            if any(r is not None for r in ratios) and method != "official":
                ax.bar_label(bars, labels=["" if r is None else f"{r:.{1 if r < 10 else 0}f}×" for r in ratios],
                             fontsize=6, padding=2)
        ax.set_xticks([k + 0.4 - width / 2 for k in range(len(cases))])
        ax.set_xticklabels([f"{t}×{h}² B={b}\n{d}" for t, h, b, d in cases])
        ax.set_yscale("log")
        ax.set_ylabel("clip pairs / s (median, min–max)")
        ax.set_title(f"M=2, rotation, sample + composite, {threads} thread{'s' if threads > 1 else ''}"
                     + ("\nbar labels: × official" if any(r["method"] == "official" for r in here) else ""))
        ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the target cases and their neighbours (1-2 min)")
    parser.add_argument("--official", type=Path, metavar="CLONE",
                        help="a clone of github.com/fmthoker/tubelet-contrast: time the paper's code too")
    parser.add_argument("--out", type=Path, default=Path("out/bench"), help="where results.json and chart.png go")
    args = parser.parse_args(argv)
    if args.official is not None:
        official.load(args.official)  # a wrong path fails now, not after minutes of timing
        np.random.seed(0)  # the official code draws from NumPy's and Python's global generators
        random.seed(0)
    cases = matrix(args.quick)
    info = measurement.machine()
    cpu = torch.device("cpu")
    devices = [cpu] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    backends = {device: our_backends(device) for device in devices}
    with_kornia = importlib.util.find_spec("kornia") is not None
    print(f"tubelets benchmarks: {info['cpu']}, {info['usable_cores']} usable cores"
          + (f", {info['cuda_device']}" if info["cuda_device"] else ", no GPU"))
    print("versions: " + ", ".join(f"{k} {info[k]}" for k in ("torch", "triton", "numpy", "scipy", "cv2", "kornia")))
    for device, (names, reasons) in backends.items():
        print(f"ours on {device}: {', '.join(names)}"
              + "".join(f"\n   {name} unavailable: {reason}" for name, reason in reasons.items()))
    if not with_kornia:
        print("kornia is not installed: its baseline is skipped")
    if args.official is None:
        print("official: not timed (give --official CLONE, a clone of github.com/fmthoker/tubelet-contrast)")
    else:
        print(f"official: {args.official.resolve()}, one clip pair per call; sampling and pasting are one "
              "call there (its sampler also crops, resizes and shapes the patches), so it has a total row only")
    print("opencv: efficient per-clip OpenCV pipeline (ours, written from the paper's text)")
    print(f"timing: median, min and max of {ROUNDS} interleaved rounds ({ONE_PAIR_ROUNDS} at B=1), in a shuffled order, "
          "after one warm-up call of each")
    print(f"memory: {measurement.CPU_MEMORY_METHOD}")
    print("note: cv2.setNumThreads cannot spread the per-clip NumPy/OpenCV methods' small warps over cores; "
          "in training they scale over DataLoader worker processes instead, so the 1-thread ratios "
          "compare like with like")

    start = time.perf_counter()
    summaries, rows, bandwidths = [], [], {}
    for index, case in enumerate(cases):
        torch.set_num_threads(case.threads)
        cv2.setNumThreads(case.threads)
        for device in devices:
            if device.type == "cuda" and case.threads != ALL_CORES:
                continue  # the GPU runs once per case, with every core feeding it
            key = f"{device}:{case.threads}"
            if key not in bandwidths:
                bandwidths[key] = measurement.copy_bandwidth(device)
            prefix = f"[{index + 1}/{len(cases)}] {case.label()} on {device}:"

            def progress(what, prefix=prefix):
                show_progress(f"{prefix} {what} ({time.perf_counter() - start:.0f} s)")

            summary, case_rows = run_case(case, device, backends[device][0], with_kornia, args.official,
                                          bandwidths[key], progress)
            summaries.append(summary)
            rows += case_rows
            add_ratios(rows)
            show_progress("")
            print_case(summary, case_rows)
    print(f"done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    checks = targets(rows)
    print_targets(checks, args.official is not None)

    args.out.mkdir(parents=True, exist_ok=True)
    command = ("python benchmarks/run.py" + (" --quick" if args.quick else "")
               + (f" --official {args.official}" if args.official else "") + f" --out {args.out}")
    result = {"command": command, "machine": info, "official": None if args.official is None else {
                  "clone": str(args.official.resolve()), "configs": official.CONFIGS},
              "rounds": {"B>1": ROUNDS, "B=1": ONE_PAIR_ROUNDS}, "memory_method": measurement.CPU_MEMORY_METHOD,
              "copy_bandwidth": bandwidths, "h100_model_bandwidth": measurement.H100_BANDWIDTH,
              "backends": {str(d): {"available": n, "unavailable": r} for d, (n, r) in backends.items()},
              "cases": summaries, "rows": rows, "targets": checks}
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out / 'results.json'}")
    if write_chart(rows, args.out / "chart.png"):
        print(f"wrote {args.out / 'chart.png'}")
    else:
        print("chart skipped: matplotlib is not installed")


if __name__ == "__main__":
    main()
