"""Sprites: object cut-outs with their own alpha, pasted as tubelets (SMILE-style).

A sprite bank is one ``(N, 4, h, w)`` RGBA tensor, uint8 (alpha 255 opaque) or float
(alpha 1 opaque). :func:`assign_sprites` turns sampled :class:`~tubelets.Tubelets` into
sprite tubelets: each tubelet draws one sprite (uniformly, from a seed drawn like the
sampler's), and its patch keeps the sampled area but takes the sprite's aspect ratio, so
sprites are not stretched; motion and transforms are unchanged. The compositing kernels
then read the bank as a source of ``N`` frames with an alpha channel
(:func:`sprite_source`): the sprite's alpha multiplies the shape mask (with the
``"rectangle"`` shape alone the alpha is the whole mask).

:func:`load_sprites` reads a folder of PNGs once (Pillow, ``pip install tubelets[sprites]``).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from . import philox
from .params import Tubelets, compile_inv_affine
from .reference import quantise
from .sampling import draw_seed

SPRITE_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32)


def check_bank(sprites: object, name: str = "sprites") -> torch.Tensor:
    """``sprites`` if it is an ``(N, 4, h, w)`` bank of a supported dtype, ``N, h, w >= 1``."""
    if not isinstance(sprites, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (N, 4, h, w), got {type(sprites).__name__}")
    if sprites.dim() != 4 or sprites.shape[1] != 4 or 0 in sprites.shape:
        raise ValueError(f"{name} must be a non-empty RGBA bank (N, 4, h, w), got {tuple(sprites.shape)}")
    if sprites.dtype not in SPRITE_DTYPES:
        raise TypeError(f"{name}: dtype {sprites.dtype} is not supported; use uint8 or a float dtype")
    return sprites


def assign_sprites(tubelets: Tubelets, sprites: torch.Tensor, *,
                   generator: torch.Generator | None = None) -> Tubelets:
    """``tubelets`` with a sprite of the ``(N, 4, h, w)`` bank drawn for every tubelet.

    ``src_frame`` becomes the sprite's index, ``src_box`` the whole sprite ``(0, 0, w-1,
    h-1)``, and ``inv_affine`` is recompiled from the raw motion for a patch of the sampled
    crop's area (pixels²) with the sprite's aspect ratio ``w / h``. The draw: one seed from
    ``generator`` (or the global RNG, DDP rank folded, see :func:`tubelets.sampling.draw_seed`)
    keyed by clip and tubelet, so a clip's sprites do not depend on the batch size.
    """
    count, height, width = check_bank(sprites).shape[0], sprites.shape[2], sprites.shape[3]
    batch, tubes = tubelets.batch_size, tubelets.num_tubelets
    device = tubelets.device
    seed = draw_seed(device, generator)
    unit = philox.uniform(seed, batch, max(tubes, 1), 1, 1)[:, :tubes, 0, 0]
    index = (unit * count).long().clamp(max=count - 1).int()
    crop = (tubelets.src_box[..., 2:] - tubelets.src_box[..., :2] + 1).double()
    area = crop.prod(-1, keepdim=True)  # (B, M, 1)
    aspect = width / height
    half = torch.cat([(area * aspect).sqrt(), (area / aspect).sqrt()], -1)[:, :, None] / 2  # (B, M, 1, 2)
    box = torch.tensor([0, 0, width - 1, height - 1], dtype=torch.int32, device=device)
    return Tubelets(
        inv_affine=compile_inv_affine(tubelets.centers, half, tubelets.angles, tubelets.scales, tubelets.shears),
        opacity=tubelets.opacity, src_box=box.expand(batch, tubes, 4).contiguous(), src_frame=index,
        shape=tubelets.shape, softness=tubelets.softness, centers=tubelets.centers, angles=tubelets.angles,
        scales=tubelets.scales, shears=tubelets.shears, motion_keyframes=tubelets.motion_keyframes,
        transform_keyframes=tubelets.transform_keyframes,
    )


def sprite_source(sprites: torch.Tensor, batch: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The bank as the kernels' source: ``(B, 4, N, h, w)``, a view (stride 0 over clips)
    of the bank in ``dtype`` on ``device``. A bank of another dtype is converted here, on
    every call: uint8 ↔ float scales by 255 (uint8 rounds half up and clamps)."""
    bank = check_bank(sprites).to(device)
    if bank.dtype != dtype:
        if dtype == torch.uint8:
            bank = quantise(bank.float() * 255, torch.uint8)
        elif bank.dtype == torch.uint8:
            bank = (bank.float() / 255).to(dtype)
        else:
            bank = bank.to(dtype)
    return bank.transpose(0, 1)[None].expand(batch, *bank.transpose(0, 1).shape)


def load_sprites(path: str | os.PathLike, *, size: tuple[int, int] | None = None) -> torch.Tensor:
    """A ``(N, 4, h, w)`` uint8 bank from the PNG (or other image) files of a folder, in
    name order, converted to RGBA (an image without alpha is opaque).

    Sprites of different sizes are centred on a transparent canvas of the largest height
    and width (or ``size = (h, w)``, which must hold each); the transparent margin is
    never painted. Needs Pillow (``pip install tubelets[sprites]``).
    """
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError("load_sprites reads images with Pillow: pip install tubelets[sprites]") from error
    if size is not None and not (isinstance(size, tuple) and len(size) == 2
                                 and all(isinstance(n, int) and n >= 1 for n in size)):
        raise ValueError(f"size must be None or a (height, width) pair of ints >= 1, got {size!r}")
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"path must be a folder of images, got {str(path)!r}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".webp", ".gif", ".tif", ".tiff"))
    if not files:
        raise ValueError(f"path: no .png (or .webp, .gif, .tif) files in {str(path)!r}")
    images = []
    for file in files:
        with Image.open(file) as image:
            rgba = torch.frombuffer(bytearray(image.convert("RGBA").tobytes()), dtype=torch.uint8)
            images.append(rgba.view(image.height, image.width, 4).permute(2, 0, 1))
    height = max(image.shape[1] for image in images) if size is None else size[0]
    width = max(image.shape[2] for image in images) if size is None else size[1]
    bank = torch.zeros(len(images), 4, height, width, dtype=torch.uint8)
    for i, (file, image) in enumerate(zip(files, images)):
        h, w = image.shape[1:]
        if h > height or w > width:
            raise ValueError(f"size: {file.name} is {h}×{w} pixels, larger than size={size}")
        top, left = (height - h) // 2, (width - w) // 2
        bank[i, :, top:top + h, left:left + w] = image
    return bank
