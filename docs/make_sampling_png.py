"""Make ``docs/sampling.png``: what the presets and the per-sample controls sample.

Top row, one panel per preset (:meth:`TubeletConfig.paper`, ``.paper_linear()``,
``.official_code()``): the centre paths of the tubelets of 12 clips of 16 frames in a
112 × 112 frame (a dot at the first frame). Bottom row: the rotation of the same tubelets
over the frames (degrees) per preset, and one linear path eased by each ``interpolation``
(its x position over the frames, with the same seed). Run from the repository root::

    python docs/make_sampling_png.py            # writes docs/sampling.png
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
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("sampling.png"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 4, figsize=(16, 7.5))
    frames = torch.arange(FRAMES)
    for column, (name, config) in enumerate(PRESETS.items()):
        tubes = sample_tubelets(config, CLIPS, FRAMES, SIZE, SIZE, seed=torch.tensor(args.seed))
        paths, angles = axes[0, column], axes[1, column]
        for b in range(CLIPS):
            for m in range(tubes.num_tubelets):
                if not bool(tubes.painted()[b, m]):
                    continue
                x, y = tubes.centers[b, m].unbind(-1)
                line, = paths.plot(x, y, linewidth=1)
                paths.plot(x[:1], y[:1], "o", color=line.get_color(), markersize=3)
                angles.plot(frames, tubes.angles[b, m], linewidth=1, color=line.get_color())
        paths.set(xlim=(0, SIZE - 1), ylim=(SIZE - 1, 0), aspect="equal", title=f"TubeletConfig.{name}: paths (px)")
        angles.set(xlabel="frame", ylabel="rotation (degrees)", title=f"{name}: rotation")
    eased, timing = axes[0, 3], axes[1, 3]
    base = TubeletConfig(num_tubelets=1, motion="linear", transforms=("scale",), keyframes=3)
    for mode in ("linear", "accelerate", "decelerate"):
        tubes = sample_tubelets(dataclasses.replace(base, interpolation=mode), 1, FRAMES, SIZE, SIZE,
                                seed=torch.tensor(args.seed + 3))
        x, y = tubes.centers[0, 0].unbind(-1)
        eased.plot(x, y, "o-", markersize=3, linewidth=1, label=mode)
        timing.plot(frames, x, "o-", markersize=3, linewidth=1, label=mode)
        keyframes = tubes.motion_keyframes[0, 0]
    for frame in keyframes.tolist():
        timing.axvline(frame, color="grey", linewidth=0.5)
    eased.set(xlim=(0, SIZE - 1), ylim=(SIZE - 1, 0), aspect="equal", title="interpolation: one linear path (px)")
    timing.set(xlabel="frame (grey: keyframes)", ylabel="x (px)", title="interpolation: x over the frames")
    eased.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.out, dpi=72)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
