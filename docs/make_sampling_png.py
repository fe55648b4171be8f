"""Make ``docs/presets.png`` and ``docs/controls.png``: what the presets and the
per-sample controls sample.

``presets.png``, one column per preset (:meth:`TubeletConfig.paper`, ``.paper_linear()``,
``.official_code()``): the centre paths of the tubelets of 12 clips of 16 frames in a
112 × 112 frame (a dot at the first frame), and their rotation over the frames (degrees).
``controls.png``: one linear path eased by each ``interpolation`` (the path, and its x over
the frames, with the same seed); the counts ``num_tubelets=(1, 4)`` draws for 64 clips; and
the paths of 4 clips with ``same_on_batch=True`` (one path, drawn four times). Run from the
repository root::

    python docs/make_sampling_png.py            # writes docs/presets.png and docs/controls.png
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from tubelets import TubeletConfig, sample_tubelets

SIZE, FRAMES, CLIPS = 112, 16, 12
"""Frame side (pixels), frames per clip and clips per panel."""
PRESETS = {"paper()": TubeletConfig.paper(), "paper_linear()": TubeletConfig.paper_linear(),
           "official_code()": TubeletConfig.official_code()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name, draw, size in (("presets", _presets, (12, 7.5)), ("controls", _controls, (16, 4))):
        figure = plt.figure(figsize=size)
        draw(figure, args.seed)
        figure.tight_layout()
        figure.savefig(args.out / f"{name}.png", dpi=72)
        print(f"wrote {args.out / f'{name}.png'}")


def _presets(figure, seed: int) -> None:
    axes = figure.subplots(2, 3)
    frames = torch.arange(FRAMES)
    for column, (name, config) in enumerate(PRESETS.items()):
        tubes = sample_tubelets(config, CLIPS, FRAMES, SIZE, SIZE, seed=torch.tensor(seed))
        paths, angles = axes[0, column], axes[1, column]
        painted = tubes.painted()
        for b in range(CLIPS):
            for m in range(tubes.num_tubelets):
                if not bool(painted[b, m]):
                    continue
                x, y = tubes.centers[b, m].unbind(-1)
                line, = paths.plot(x, y, linewidth=1)
                paths.plot(x[:1], y[:1], "o", color=line.get_color(), markersize=3)
                angles.plot(frames, tubes.angles[b, m], linewidth=1, color=line.get_color())
        _frame(paths, f"TubeletConfig.{name}: paths (px)")
        angles.set(xlabel="frame", ylabel="rotation (degrees)", title=f"{name}: rotation")


def _controls(figure, seed: int) -> None:
    eased, timing, counts, same = figure.subplots(1, 4)
    base = TubeletConfig(num_tubelets=1, motion="linear", transforms=("scale",), keyframes=3)
    for mode in ("linear", "accelerate", "decelerate"):
        tubes = sample_tubelets(dataclasses.replace(base, interpolation=mode), 1, FRAMES, SIZE, SIZE,
                                seed=torch.tensor(seed + 3))
        x, y = tubes.centers[0, 0].unbind(-1)
        eased.plot(x, y, "o-", markersize=3, linewidth=1, label=mode)
        timing.plot(torch.arange(FRAMES), x, "o-", markersize=3, linewidth=1, label=mode)
        keyframes = tubes.motion_keyframes[0, 0]
    for frame in keyframes.tolist():
        timing.axvline(frame, color="grey", linewidth=0.5)
    _frame(eased, "interpolation: one linear path (px)")
    eased.legend(fontsize=8)
    timing.set(xlabel="frame (grey: keyframes)", ylabel="x (px)", title="interpolation: x over the frames")
    drawn = sample_tubelets(TubeletConfig(num_tubelets=(1, 4)), 64, FRAMES, SIZE, SIZE, seed=torch.tensor(seed))
    per_clip = drawn.painted().sum(1)
    counts.bar(range(1, 5), [int((per_clip == n).sum()) for n in range(1, 5)])
    counts.set(xlabel="tubelets painted", ylabel="clips of 64", title="num_tubelets=(1, 4): counts")
    alike = sample_tubelets(TubeletConfig(same_on_batch=True), 4, FRAMES, SIZE, SIZE, seed=torch.tensor(seed))
    for b, style in enumerate(("-", "--", ":", "-.")):
        for m in range(alike.num_tubelets):
            x, y = alike.centers[b, m].unbind(-1)
            same.plot(x, y, style, linewidth=2 - 0.4 * b, color=f"C{m}")
    _frame(same, "same_on_batch=True: 4 clips' paths")


def _frame(axes, title: str) -> None:
    """``axes`` as a frame: pixels, y down, square."""
    axes.set(xlim=(0, SIZE - 1), ylim=(SIZE - 1, 0), aspect="equal", title=title)


if __name__ == "__main__":
    main()
