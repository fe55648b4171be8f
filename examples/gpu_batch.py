"""The pipeline of ``examples/dataloader.py`` with the tubelets painted after collation, on
the batch's device (CUDA when there is one, else the CPU), timed against painting per item.

The workers only decode (``ClipPairs(..., overlay=None)``); the training loop moves each
batch to the device and makes the whole batch's pairs in one call. Sampling runs on that
device too, from one seed drawn from its RNG, so nothing waits for the device. The seeding
rule changes accordingly: the tubelets now come from the training process's RNG of the
device, so seed it per rank (``torch.manual_seed(seed + rank)``) or pass
``generator=`` (a generator on the device). tubelets also folds the rank into seeds drawn
from the global RNG when ``torch.distributed`` is initialised (:mod:`tubelets.distributed`);
a ``generator=`` is used as given.

The timing compares, on one batch and one core's worth of work, ``overlay(v1[i], v2[i])``
for each item in turn (what each ``DataLoader`` worker does, on the CPU) with one
``overlay(v1, v2)`` on the device; median of ``--repeats``.

Run: ``python examples/gpu_batch.py`` (``--help`` for the rest).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from dataloader import ClipPairs, current_rank, make_loader
from tubelets import TubeletOverlay


def median_seconds(function, repeats: int, device: torch.device) -> float:
    """Median wall time of ``function()`` over ``repeats`` calls after one warm-up call,
    waiting for the device after each."""
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112, help="frame side in pixels (default 112, the paper's)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per path (default 5)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where to paint the batch (default: cuda if available, else cpu)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    rank = current_rank()
    torch.manual_seed(args.seed + rank)  # the batch's tubelets come from this RNG: one stream per rank
    overlay = TubeletOverlay()  # the paper's configuration
    dataset = ClipPairs(args.items, overlay=None, frames=args.frames, size=args.size)
    for batch in make_loader(dataset, args.batch_size, args.workers, args.seed, rank):
        v1, v2 = batch["q"].to(device, non_blocking=True), batch["k"].to(device, non_blocking=True)
        with torch.no_grad():
            q, k = overlay(v1, v2)  # (B, 3, T, H, W) on the device: one call for the batch
        # ... the trainer's step on q, k goes here
    print(f"painted {len(dataset)} pairs in batches of {args.batch_size} on {device}: q {tuple(q.shape)} {q.dtype}")

    cpu_v1, cpu_v2 = batch["q"], batch["k"]  # the last batch, on the CPU as the workers hold it
    per_item = median_seconds(lambda: [overlay(a, b) for a, b in zip(cpu_v1, cpu_v2)], args.repeats,
                              torch.device("cpu"))
    batched = median_seconds(lambda: overlay(v1, v2), args.repeats, device)
    pairs = len(v1)
    print(f"per item on cpu ({pairs} calls): {pairs / per_item:,.0f} pairs/s; one batched call on {device}: "
          f"{pairs / batched:,.0f} pairs/s ({per_item / batched:.1f}×), {torch.get_num_threads()} CPU threads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
