"""`render_masks`: which tubelet shows on each pixel, ``(B, T, H, W)`` int8.

The compositing kernels write the masks as they paint (``TubeletOverlay(...)(v1, v2,
return_masks=True)``: one more output of the same pass); this function runs them on
masks alone. A pixel holds the index ``m`` of the last (topmost) tubelet whose coverage
there is above 0 (opacity × shape mask × a sprite's alpha), ``-1`` where none: the
footprints exactly, at most :data:`tubelets.ops.MAX_MASKED_TUBELETS` tubelets per clip.
"""
from __future__ import annotations

import torch

from . import ops
from .params import Tubelets
from .sprites import sprite_source


def render_masks(tubelets: Tubelets, height: int, width: int, *, sprites: torch.Tensor | None = None,
                 backend: str = "auto", validate: bool = True) -> torch.Tensor:
    """``(B, T, height, width)`` int8 masks of ``tubelets`` on frames of ``height × width``
    pixels, on the tubelets' device.

    Args:
        sprites: the ``(N, 4, h, w)`` bank that sprite tubelets (:func:`tubelets.sprites.assign_sprites`)
            were drawn from: their alpha shapes the footprint; ``None`` for patches.
        backend: ``"auto"`` or one of :data:`tubelets.ops.BACKENDS`.
        validate: check the tubelets' values (see :mod:`tubelets.ops`).
    """
    if not isinstance(tubelets, Tubelets):
        raise TypeError(f"tubelets must be a Tubelets, got {type(tubelets).__name__}")
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    batch, frames, device = tubelets.batch_size, tubelets.num_frames, tubelets.device
    if sprites is None:  # the colours are never read: one zero, seen as a clip
        source = torch.zeros((), dtype=torch.uint8, device=device).expand(batch, 1, frames, height, width)
    else:
        source = sprite_source(sprites, batch, sprites.dtype, device)
    masks = torch.empty(batch, frames, height, width, dtype=torch.int8, device=device)
    ops.paint_([], [], source, tubelets, backend=backend, validate=validate, masks=masks,
               source_alpha=sprites is not None)
    return masks
