"""Labels for trajectory prediction (Catch-the-Patch-style) from one overlay call.

Sprites (a folder of PNGs with ``--sprites``, else two drawn here: a ring and a soft disc)
are pasted as tubelets on a real clip; the same call returns the tubelets and the masks its
kernels wrote. From them: each tubelet's tight per-frame box and visibility (the regression
targets of a trajectory head), the per-pixel id map (a segmentation target) and a caption.
The script checks that every mask pixel lies in its tubelet's box and prints the labels::

    python examples/trajectory_labels.py                 # bikes.mp4, 16 × 112 × 112
    python examples/trajectory_labels.py --sprites DIR   # your RGBA PNGs
"""
from __future__ import annotations

import argparse

import torch

from tubelets import TubeletOverlay, describe, load_sprites
from tubelets.video import bundled_clip, read_clip


def drawn_sprites(size: int = 48) -> torch.Tensor:
    """``(2, 4, size, size)`` uint8 RGBA: an orange ring, a blue disc with a soft rim."""
    y, x = torch.meshgrid(torch.arange(size) + 0.5 - size / 2, torch.arange(size) + 0.5 - size / 2, indexing="ij")
    radius = torch.hypot(x, y) / (size / 2)
    sprites = torch.zeros(2, 4, size, size, dtype=torch.uint8)
    sprites[0, :3] = torch.tensor([255, 120, 30], dtype=torch.uint8)[:, None, None]
    sprites[0, 3] = (((radius > 0.6) & (radius <= 0.95)) * 255).to(torch.uint8)
    sprites[1, :3] = torch.tensor([40, 140, 255], dtype=torch.uint8)[:, None, None]
    sprites[1, 3] = ((1 - radius).clamp(0, 0.25) * 4 * 255).round().to(torch.uint8)
    return sprites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sprites", help="a folder of RGBA PNGs (default: two drawn sprites)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--tubelets", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    bank = load_sprites(args.sprites) if args.sprites else drawn_sprites()
    clip = read_clip(bundled_clip("bikes.mp4"), frames=args.frames, size=args.size)[None]  # (1, 3, T, H, W)
    overlay = TubeletOverlay(num_tubelets=args.tubelets, transforms=("rotation", "scale"), shapes=("rectangle",),
                             source="sprites", sprites=bank)
    painted, tubes, masks = overlay(clip, return_tubelets=True, return_masks=True,
                                    generator=torch.Generator().manual_seed(args.seed))

    boxes = tubes.boxes(args.size, args.size)      # (1, M, T, 4) x0, y0, x1, y1: pixels, inclusive
    visible = tubes.visible(args.size, args.size)  # (1, M, T)
    for m in range(tubes.num_tubelets):
        for t in range(args.frames):
            ys, xs = torch.nonzero(masks[0, t] == m, as_tuple=True)
            if len(xs) == 0:
                continue  # covered by a later tubelet, or transparent sprite pixels only
            x0, y0, x1, y1 = boxes[0, m, t].tolist()
            inside = x0 - 1 <= int(xs.min()) and int(xs.max()) <= x1 + 1 and y0 - 1 <= int(ys.min()) \
                and int(ys.max()) <= y1 + 1
            assert bool(visible[0, m, t]) and inside, f"tubelet {m}, frame {t}: mask outside its box"

    print(f"clip {tuple(painted.shape)} {painted.dtype}; sprites {tuple(bank.shape)}, drawn per tubelet: "
          f"{tubes.src_frame[0].tolist()}")
    for m in range(tubes.num_tubelets):
        first, last = boxes[0, m, 0].tolist(), boxes[0, m, -1].tolist()
        print(f"tubelet {m}: visible in {int(visible[0, m].sum())}/{args.frames} frames, box {first} -> {last}, "
              f"{int((masks == m).sum())} mask pixels")
    print(f"masks {tuple(masks.shape)} int8, ids {sorted(masks.unique().tolist())}; every mask pixel in its box")
    print("caption:", describe(tubes)[0])


if __name__ == "__main__":
    main()
