"""Benchmark tubelets against a per-clip OpenCV pipeline and batched PyTorch warps.

    python benchmarks/run.py [--quick] [--out DIR]

Each case (clip size, batch ``B``, tubelets ``M``, transforms, dtype, threads) times every
method on the same input clip pairs, in one process:

===============  ========================================  ========================================
method           sampling                                  compositing
===============  ========================================  ========================================
``opencv``       NumPy, one clip at a time                 OpenCV, one clip pair at a time
                 (``opencv_pipeline.sample_clip``)         (``opencv_pipeline.overlay_clip``)
``grid_sample``  ``tubelets.sample_tubelets``              ``F.affine_grid`` + ``F.grid_sample``
``kornia``       ``tubelets.sample_tubelets``              ``kornia.geometry.transform.warp_affine``
``ours:NAME``    ``tubelets.sample_tubelets``              ``TubeletOverlay(backend=NAME)``
===============  ========================================  ========================================

``NAME`` is every backend available at run time, except Triton's interpreter on CPU tensors
(a test tool); ``ours:torch``, the readable reference, is timed at ``B=1`` only.

Stages: ``sample`` draws parameters; ``composite`` paints given parameters (every method
paints the same :class:`~tubelets.Tubelets`, the OpenCV pipeline after conversion to its
per-clip form); ``total`` samples and paints, as in training. Figures are clip pairs per
second, the median of ``REPEATS`` calls after one warm-up call, with min and max; ``×opencv``
divides by the OpenCV pipeline's figure for the same stage and thread count. The OpenCV
pipeline reads ``(T, H, W, C)`` NumPy copies of the clips (made untimed) and returns
uncollated per-clip arrays. Peak memory comes from one more call
(:data:`measurement.CPU_MEMORY_METHOD`).

Roofline: the bytes painting must move (:func:`measurement.composite_bytes`) over the copy
bandwidth measured in this run at the same thread count; a rate's share of the roofline is
its achieved bandwidth over the copy bandwidth. The H100 figure is a model (bytes over
3.35 TB/s), not a measurement. Results go to ``DIR/results.json`` and ``DIR/chart.png``.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling modules; `tubelets` is the installed package

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import measurement  # noqa: E402
import opencv_pipeline  # noqa: E402
import torch_pipelines  # noqa: E402
from tubelets import TubeletConfig, TubeletOverlay, sample_tubelets  # noqa: E402
from tubelets.ops import BACKENDS, unavailable  # noqa: E402

REPEATS = 5
CHANNELS = 3
ALL_CORES = measurement.usable_cores()
TRANSFORMS = {"none": (), "rotation": ("rotation",), "scale+rotation+shear": ("scale", "rotation", "shear")}
DTYPES = {"uint8": torch.uint8, "float32": torch.float32}


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
"""The paper's training setting (§5.4.1) on one core."""


def matrix(quick: bool) -> list[Case]:
    """Every case of the full matrix, or the quick subset: the target case and its neighbours."""
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


def methods(case: Case, device: torch.device, backends: list[str], with_kornia: bool):
    """``({(method, stage): call}, bytes painting must move)`` for one case on ``device``.

    Every call works on the same clips; every ``composite`` call paints the same tubelets.
    """
    config = TubeletConfig(num_tubelets=case.tubelets, transforms=TRANSFORMS[case.transform])
    generator = torch.Generator().manual_seed(0)
    size = (case.batch, CHANNELS, case.frames, case.height, case.width)
    v1, v2 = (torch.randint(0, 256, size, dtype=torch.uint8, generator=generator) for _ in range(2))
    if case.dtype == "float32":
        v1, v2 = v1 / 255, v2 / 255
    batch, frames, height, width = case.batch, case.frames, case.height, case.width
    tubelets = sample_tubelets(config, batch, frames, height, width, generator=generator)

    def sample():
        return sample_tubelets(config, batch, frames, height, width, device=device)

    calls = {}
    if device.type == "cpu":
        n1, n2 = (v.permute(0, 2, 3, 4, 1).contiguous().numpy() for v in (v1, v2))
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

        calls.update({("opencv", "sample"): opencv_sample, ("opencv", "composite"): opencv_composite,
                      ("opencv", "total"): opencv_total})
    v1, v2, tubelets = v1.to(device), v2.to(device), tubelets.to(device)
    calls[("ours", "sample")] = sample
    baselines = [("grid_sample", torch_pipelines.overlay_grid_sample)]
    if with_kornia:
        baselines.append(("kornia", torch_pipelines.overlay_kornia))
    for name, overlay in baselines:
        calls[(name, "composite")] = lambda overlay=overlay: overlay(v1, v2, tubelets)
        calls[(name, "total")] = lambda overlay=overlay: overlay(v1, v2, sample())
    for name in backends:
        if name == "torch" and batch > 1:
            continue  # the readable reference takes seconds to minutes per batch: timed at B=1 only
        overlay = TubeletOverlay(config, backend=name)
        calls[(f"ours:{name}", "composite")] = lambda overlay=overlay: overlay(v1, v2, tubelets=tubelets)
        calls[(f"ours:{name}", "total")] = lambda overlay=overlay: overlay(v1, v2)
    itemsize = torch.empty((), dtype=DTYPES[case.dtype]).element_size()
    return calls, measurement.composite_bytes(tubelets, CHANNELS, height, width, itemsize)


def run_case(case, device, backends, with_kornia, bandwidth, progress) -> tuple[dict, list[dict]]:
    """Time and measure every method of ``case`` on ``device``: the case's summary and its rows."""
    calls, moved = methods(case, device, backends, with_kornia)
    roofline = case.batch * bandwidth / moved
    summary = {**dataclasses.asdict(case), "device": str(device), "bytes_moved": moved,
               "copy_bandwidth": bandwidth, "roofline_clip_pairs_per_s": roofline,
               "h100_model_clip_pairs_per_s": case.batch * measurement.H100_BANDWIDTH / moved}
    rows = []
    for (method, stage), call in calls.items():
        progress(f"{method} {stage}")
        seconds = measurement.timings(call, device, repeats=REPEATS, warmup=1)
        rates = [case.batch / s for s in seconds]
        rows.append({**dataclasses.asdict(case), "device": str(device), "method": method, "stage": stage,
                     "seconds": seconds,
                     "clip_pairs_per_s": {"median": statistics.median(rates), "min": min(rates), "max": max(rates)},
                     "peak_bytes": measurement.peak_memory(call, device),
                     "roofline_share": None if stage == "sample" else statistics.median(rates) / roofline})
    return summary, rows


def add_ratios(rows: list[dict]) -> None:
    """``vs_opencv``: each row's median over the OpenCV pipeline's, same case and stage."""
    def key(row):
        return tuple(row[f] for f in (*Case.__dataclass_fields__, "stage"))

    opencv = {key(r): r["clip_pairs_per_s"]["median"] for r in rows if r["method"] == "opencv"}
    for row in rows:
        base = opencv.get(key(row))
        row["vs_opencv"] = None if base is None else row["clip_pairs_per_s"]["median"] / base


def show_progress(text: str) -> None:
    """One progress line on stderr: rewritten in place on a terminal, appended otherwise."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + text)
    elif text:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


def print_case(summary: dict, rows: list[dict]) -> None:
    """The case's roofline line, then one line per method and stage."""
    device = summary["device"]
    print(f"\n== {Case(**{f: summary[f] for f in Case.__dataclass_fields__}).label()}, on {device}")
    print(f"   {summary['bytes_moved'] / 1e6:.1f} MB must move: roofline "
          f"{summary['roofline_clip_pairs_per_s']:,.0f} clip pairs/s at the copy bandwidth measured here "
          f"({summary['copy_bandwidth'] / 1e9:.1f} GB/s); H100 model "
          f"({measurement.H100_BANDWIDTH / 1e12:.2f} TB/s, not measured) "
          f"{summary['h100_model_clip_pairs_per_s']:,.0f} clip pairs/s")
    print(f"   {'method':<16}{'stage':<10}{'clip pairs/s':>13}  {'[min – max]':<21}{'×opencv':>8}"
          f"{'peak MiB':>10}{'roofline':>10}")
    for row in rows:
        rate = row["clip_pairs_per_s"]
        method = row["method"] if device == "cpu" else f"{row['method']}@{device}"
        spread = f"[{rate['min']:,.1f} – {rate['max']:,.1f}]"
        ratio = "" if row["vs_opencv"] is None else f"{row['vs_opencv']:.2f}"
        peak = "n/a" if row["peak_bytes"] is None else f"{row['peak_bytes'] / 2**20:.1f}"
        share = "" if row["roofline_share"] is None else f"{row['roofline_share']:.1%}"
        print(f"   {method:<16}{row['stage']:<10}{rate['median']:>13,.1f}  {spread:<21}{ratio:>8}{peak:>10}{share:>10}")
    sys.stdout.flush()


def print_target(rows: list[dict]) -> None:
    """Ratios of the target case, sampling and compositing together."""
    rates = {r["method"]: r["clip_pairs_per_s"]["median"] for r in rows
             if r["stage"] == "total" and r["device"] == "cpu"
             and all(r[f] == getattr(TARGET, f) for f in Case.__dataclass_fields__)}
    if "opencv" not in rates:
        return
    opencv, grid = rates["opencv"], rates["grid_sample"]
    print(f"\nTarget: {TARGET.label()}, sampling + compositing")
    for method, ours in rates.items():
        if method.startswith("ours:"):
            print(f"   {method}: {ours:,.0f} clip pairs/s = {ours / opencv:.2f}× the OpenCV pipeline "
                  f"({opencv:,.0f}/s), {ours / grid:.2f}× batched grid_sample ({grid:,.0f}/s)")


def write_chart(rows: list[dict], path: Path) -> bool:
    """Clip pairs/s per method for the paper's setting (M=2, rotation), total stage, log scale."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = [r for r in rows if r["stage"] == "total" and r["tubelets"] == 2 and r["transform"] == "rotation"]
    panels = sorted({r["threads"] for r in chosen})
    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, threads in zip(axes[0], panels):
        here = [r for r in chosen if r["threads"] == threads]
        cases = sorted({(r["frames"], r["height"], r["batch"], r["dtype"]) for r in here})
        labels = sorted({(r["method"], r["device"]) for r in here}, key=lambda m: (m[0] != "opencv", m))
        width = 0.8 / len(labels)
        for i, (method, device) in enumerate(labels):
            values = {(r["frames"], r["height"], r["batch"], r["dtype"]): r["clip_pairs_per_s"] for r in here
                      if (r["method"], r["device"]) == (method, device)}
            xs = [k + i * width for k, case in enumerate(cases) if case in values]
            stats = [values[case] for case in cases if case in values]
            medians = [s["median"] for s in stats]
            spread = [[m - s["min"] for m, s in zip(medians, stats)], [s["max"] - m for m, s in zip(medians, stats)]]
            name = method if device == "cpu" else f"{method}@{device}"
            ax.bar(xs, medians, width, yerr=spread, label=name, capsize=2)
        ax.set_xticks([k + 0.4 - width / 2 for k in range(len(cases))])
        ax.set_xticklabels([f"{t}×{h}² B={b}\n{d}" for t, h, b, d in cases])
        ax.set_yscale("log")
        ax.set_ylabel("clip pairs / s (median, min–max)")
        ax.set_title(f"M=2, rotation, sample + composite, {threads} thread{'s' if threads > 1 else ''}")
        ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the target case and its neighbours (< 2 min)")
    parser.add_argument("--out", type=Path, default=Path("out/bench"), help="where results.json and chart.png go")
    args = parser.parse_args(argv)
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
    print(f"memory: {measurement.CPU_MEMORY_METHOD}")
    print("note: cv2.setNumThreads cannot spread the OpenCV pipeline's small per-clip warps over cores; "
          "in training it scales over DataLoader worker processes instead, so the 1-thread ratios "
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

            summary, case_rows = run_case(case, device, backends[device][0], with_kornia, bandwidths[key], progress)
            summaries.append(summary)
            rows += case_rows
            add_ratios(rows)
            show_progress("")
            print_case(summary, case_rows)
    print(f"done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print_target(rows)

    args.out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "") + f" --out {args.out}"
    result = {"command": command, "machine": info,
              "repeats": REPEATS, "memory_method": measurement.CPU_MEMORY_METHOD,
              "copy_bandwidth": bandwidths, "h100_model_bandwidth": measurement.H100_BANDWIDTH,
              "backends": {str(d): {"available": n, "unavailable": r} for d, (n, r) in backends.items()},
              "cases": summaries, "rows": rows}
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out / 'results.json'}")
    if write_chart(rows, args.out / "chart.png"):
        print(f"wrote {args.out / 'chart.png'}")
    else:
        print("chart skipped: matplotlib is not installed")


if __name__ == "__main__":
    main()
