"""The paper's ablation (Tables 5.2-5.4) at toy scale on a CPU: does tubelet contrast beat
temporal contrast on a motion task, and non-linear motion beat linear beat static?

For each seed and each condition, pretrain the small 3-D CNN of ``examples/moco.py`` with
MoCo for a fixed budget of CPU time on clips of two real videos, with positive pairs made by

(a) temporal contrast: two crops of the same video (§5.3.1),
(b) static tubelets, (c) linear motion, (d) non-linear motion (Table 5.3, no transform),
(e) non-linear motion + rotation (Table 5.4, the paper's configuration),

then fit linear probes on the frozen features for the held-out motion tasks of
``examples/motion_probe.py`` (sprites, trajectories and background video that
pretraining never sees). An untrained encoder is probed too, for scale. Prints a table of
test accuracy, mean ± std over the seeds, and writes it with ``--table``; every run is
appended to ``--log`` as one JSON line as soon as it ends.

Run (the table in examples/README.md): ``python examples/replicate_ablation.py
--budget-seconds 90 --seeds 3``; ``--help`` for the rest.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

import motion_probe
from moco import MoCo, SmallC3D, ClipPool, pretrain, temporal_pairs, tubelet_pairs
from tubelets import TubeletOverlay

CONDITIONS = {
    "temporal": ("(a) temporal contrast", None),
    "static": ("(b) static tubelets", dict(motion="static", transforms=())),
    "linear": ("(c) linear motion", dict(motion="linear", transforms=())),
    "nonlinear": ("(d) non-linear motion", dict(motion="nonlinear", transforms=())),
    "rotation": ("(e) non-linear + rotation", dict(motion="nonlinear", transforms=("rotation",))),
}
"""``name: (row label, TubeletOverlay fields or None for temporal pairs)``; M = 2 tubelets."""


def probe_data(clips: int, frames: int, size: int, seed: int) -> dict:
    """``{task: (train, test)}``, each ``(clips (N, 3, T, H, W) uint8, labels (N,))``, the
    same for every run."""
    pool = ClipPool(motion_probe.PROBE_VIDEOS, frames=frames, size=size)
    generator = torch.Generator().manual_seed(seed)
    return {task: tuple(motion_probe.make_task(task, clips, generator, pool) for _ in ("train", "test"))
            for task in motion_probe.TASKS}


def evaluate(backbone: torch.nn.Module, data: dict) -> dict:
    """``{task: test accuracy}`` of linear probes on ``backbone``'s frozen features."""
    accuracy = {}
    for task, (train, test) in data.items():
        train_features = motion_probe.features(backbone, train[0]), train[1]
        test_features = motion_probe.features(backbone, test[0]), test[1]
        accuracy[task] = motion_probe.linear_probe(train_features, test_features, motion_probe.TASKS[task])
    return accuracy


def table(runs: list[dict]) -> str:
    """A markdown table: one row per condition, accuracy mean ± std (percent) per task."""
    tasks = list(motion_probe.TASKS)
    header = ["pretraining", "seeds", "steps (mean)"] + [f"{t} ({motion_probe.TASKS[t]}-way, chance "
                                                         f"{100 / motion_probe.TASKS[t]:.0f}%)" for t in tasks]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    labels = {"untrained": "untrained encoder (no pretraining)", **{k: v[0] for k, v in CONDITIONS.items()}}
    for name, label in labels.items():
        rows = [run for run in runs if run["condition"] == name]
        if not rows:
            continue
        cells = [label, str(len(rows)), f"{statistics.mean(r['steps'] for r in rows):.0f}"]
        for task in tasks:
            values = [100 * r["accuracy"][task] for r in rows]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.1f} ± {spread:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-seconds", type=float, default=240.0,
                        help="CPU seconds of pretraining per run (default 240)")
    parser.add_argument("--steps", type=int, help="stop a run after this many steps too (default: the time alone)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 … N-1 per condition (default 3)")
    parser.add_argument("--conditions", nargs="+", choices=list(CONDITIONS), default=list(CONDITIONS))
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=64, help="frame side in pixels (default 64)")
    parser.add_argument("--queue-size", type=int, default=2048)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--probe-clips", type=int, default=400, help="clips per task and split (default 400)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--log", type=Path, help="append one JSON line per run here")
    parser.add_argument("--table", type=Path, help="write the markdown table here")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    started = time.strftime("%Y-%m-%d %H:%M")
    data = probe_data(args.probe_clips, args.frames, args.size, seed=12345)
    pool = ClipPool(frames=args.frames, size=args.size)
    runs = []
    for seed in range(args.seeds):  # seeds outside, so a change in machine load hits every condition
        torch.manual_seed(seed)
        runs.append({"condition": "untrained", "seed": seed, "steps": 0, "cpu_seconds": 0.0, "seconds": 0.0,
                     "accuracy": evaluate(SmallC3D(), data)})
        for name in args.conditions:
            torch.manual_seed(seed)
            fields = CONDITIONS[name][1]
            pairs = temporal_pairs(pool) if fields is None else tubelet_pairs(pool, TubeletOverlay(**fields))
            moco = MoCo(SmallC3D(), queue_size=args.queue_size)
            result = pretrain(moco, pairs, steps=args.steps, seconds=args.budget_seconds, batch=args.batch_size,
                              lr=args.lr, generator=torch.Generator().manual_seed(seed),
                              label=f"seed {seed} {name:>9}")
            runs.append({"condition": name, "seed": seed, **result, "accuracy": evaluate(moco.backbone, data)})
            accuracy = ", ".join(f"{t} {100 * a:.1f}%" for t, a in runs[-1]["accuracy"].items())
            print(f"seed {seed} {name}: {result['steps']} steps, loss {result['loss']:.3f}; {accuracy}", flush=True)
            if args.log:
                with args.log.open("a") as log:
                    log.write(json.dumps(runs[-1]) + "\n")
    text = table(runs)
    note = (f"{args.seeds} seeds, {args.budget_seconds:g} CPU seconds of pretraining per run, batch {args.batch_size}, "
            f"{args.frames}×{args.size}×{args.size} clips, {args.threads} thread(s), torch {torch.__version__}, "
            f"{platform.processor() or platform.machine()}, started {started}")
    print(f"\n{text}\n\n{note}")
    if args.table:
        args.table.write_text(f"{text}\n\n{note}\n")
        print(f"wrote {args.table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
