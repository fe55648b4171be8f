"""A positive pair as a GIF, and the tubelets' motion as plots: static, linear and non-linear
paths, and each transform (scale, rotation, shear) along them.

Writes to ``--out``:

* ``pair.gif``: ``v1`` (bikes.mp4), ``v1`` with tubelets, ``v2`` (bigbuckbunny.mp4), ``v2``
  with the same tubelets, side by side, for the ``--motion`` and ``--transforms`` given;
* ``trajectories.png``: row 1, the centre paths (pixels, y down) of a few tubelets per
  motion; row 2, one tubelet's outline every other frame per transform, from light (first
  frame) to dark (last); row 3, that transform's parameters per frame, keyframes marked.

All from :class:`tubelets.Tubelets`' raw motion (``centers`` px, ``angles`` degrees,
``scales``, ``shears``, ``transform_keyframes``) and its per-frame maps ``inv_affine``.
Needs matplotlib. Run: ``python examples/visualize.py`` (``--help`` for the rest).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from tubelets import TubeletConfig, TubeletOverlay, sample_tubelets
from tubelets.config import MOTIONS, TRANSFORMS
from tubelets.video import bundled_clip, read_clip


def save_gif(clips: list[torch.Tensor], path: Path, zoom: int = 2) -> None:
    """``(3, T, H, W)`` uint8 clips side by side as a looping GIF, ``zoom`` × larger."""
    from PIL import Image

    frames = torch.cat(clips, -1).repeat_interleave(zoom, -1).repeat_interleave(zoom, -2).permute(1, 2, 3, 0)
    images = [Image.fromarray(frame.numpy()) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)


def outline(inv_affine: torch.Tensor) -> torch.Tensor:
    """``(T, 5, 2)`` pixels: the corners of the patch square ``u ∈ [-1, 1]²`` (closed) in
    each frame, from a tubelet's ``(T, 2, 3)`` maps (output pixel → patch coordinates)."""
    corners = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0]])
    linear, offset = inv_affine[..., :2].double(), inv_affine[..., 2:].double()
    return (torch.linalg.inv(linear)[:, None] @ (corners.double()[None, :, :, None] - offset[:, None]))[..., 0]


def plot_trajectories(path: Path, size: int, frames: int, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt

    generator = torch.Generator().manual_seed(seed)
    figure, axes = plt.subplots(3, 3, figsize=(12, 12), layout="constrained")
    colours = plt.get_cmap("tab10")
    for ax, motion in zip(axes[0], MOTIONS):
        tubes = sample_tubelets(TubeletConfig(motion=motion, transforms=()), 5, frames, size, size,
                                generator=generator)
        for b in range(tubes.batch_size):
            x, y = tubes.centers[b, 0].T
            ax.plot(x, y, "-", color=colours(b), linewidth=1.5)
            ax.plot(x[0], y[0], "o", color=colours(b), markersize=5)  # first frame
            ax.plot(x, y, ".", color=colours(b), markersize=3)  # one dot a frame
        ax.set_title(f"{motion} motion: centre paths, ● = frame 0")
    for ax, curve, transform in zip(axes[1], axes[2], TRANSFORMS):
        tubes = sample_tubelets(TubeletConfig(num_tubelets=1, motion="nonlinear", transforms=(transform,)),
                                1, frames, size, size, generator=generator)
        corners = outline(tubes.inv_affine[0, 0])
        for t in range(0, frames, 2):
            shade = plt.get_cmap("viridis")(1 - t / max(1, frames - 1))
            ax.plot(corners[t, :, 0], corners[t, :, 1], "-", color=shade, linewidth=1.2)
        ax.set_title(f"{transform} along a non-linear path")
        values = {"scale": (tubes.scales[0, 0], ("sx", "sy")), "rotation": (tubes.angles[0, 0, :, None], ("degrees",)),
                  "shear": (tubes.shears[0, 0], ("x-shear", "y-shear"))}[transform]
        for column, name in enumerate(values[1]):
            curve.plot(range(frames), values[0][:, column], "-o", markersize=3, label=name)
        for key in tubes.transform_keyframes[0, 0].tolist():
            curve.axvline(key, color="grey", linestyle=":", linewidth=1)
        curve.set_title(f"{transform} per frame (dotted: keyframes)")
        curve.set_xlabel("frame")
        curve.legend()
    for ax in axes[:2].flat:
        ax.set_xlim(0, size)
        ax.set_ylim(size, 0)  # image coordinates: y points down
        ax.set_aspect("equal")
    figure.savefig(path, dpi=80)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for pair.gif and trajectories.png")
    parser.add_argument("--motion", choices=MOTIONS, default="nonlinear")
    parser.add_argument("--transforms", nargs="*", choices=TRANSFORMS, default=["rotation"])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112, help="frame side in pixels (default 112, the paper's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    v1 = read_clip(bundled_clip("bikes.mp4"), frames=args.frames, size=args.size, start=40)
    v2 = read_clip(bundled_clip("bigbuckbunny.mp4"), frames=args.frames, size=args.size, start=40)
    overlay = TubeletOverlay(motion=args.motion, transforms=tuple(args.transforms))
    q, k = overlay(v1, v2, generator=torch.Generator().manual_seed(args.seed))
    save_gif([v1, q, v2, k], args.out / "pair.gif")
    plot_trajectories(args.out / "trajectories.png", args.size, args.frames, args.seed)
    print(f"wrote {args.out / 'pair.gif'} ({args.frames} frames) and {args.out / 'trajectories.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
