"""Where the patches come from: the source modes of :class:`~tubelets.TubeletOverlay`.

=============  ===============================================================
mode           patches are cut from
=============  ===============================================================
``"pair"``     ``v1``, for ``v1`` and ``v2`` alike: the pair shares only the
               motion and the patches (§3.2, the default; a single clip: itself)
``"self"``     each clip itself: ``v2`` gets ``v2``'s patches, so the pair shares
               only the motion
``"batch"``    another clip of the batch, ``v1[(b - 1) mod B]`` for clip ``b``
               (rolled; a batch of one: the clip itself)
``"sprites"``  a sprite bank (:mod:`tubelets.sprites`), with the sprites' alpha
=============  ===============================================================

:func:`cuts` says, for one call, which clips are painted from which source; the kernels
are the same in every mode, only their source differs.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch

from .ops import frame_copies
from .params import Tubelets
from .sprites import sprite_source

SOURCES = ("pair", "self", "batch", "sprites")


class Cut(NamedTuple):
    """Clips ``clips`` (indices into the call's clips) painted from ``source``
    ``(B, C or C + 1, Ts, Hs, Ws)`` with ``tubelets`` as the kernels read them."""

    clips: tuple[int, ...]
    source: torch.Tensor
    tubelets: Tubelets
    source_alpha: bool


def cuts(mode: str, clips: list[torch.Tensor], tubelets: Tubelets, sprites: torch.Tensor | None, *,
         validate: bool) -> list[Cut]:
    """The paint calls of one overlay call: ``clips`` are ``(B, C, T, H, W)`` views, the
    first being ``v1``; ``tubelets`` as returned to the caller. ``validate``: they were given
    by the caller, so ``"batch"`` checks the source frames it gathers (one host read) before
    the kernels see only the copies."""
    every = tuple(range(len(clips)))
    if mode == "self":
        return [Cut((p,), clip, tubelets, False) for p, clip in enumerate(clips)]
    if mode == "batch":
        frames = clips[0].shape[2]
        if validate and tubelets.num_tubelets and not bool(((tubelets.src_frame >= 0)
                                                            & (tubelets.src_frame < frames)).all()):
            raise ValueError(f"tubelets.src_frame must lie in [0, {frames}) for this source")
        return [Cut(every, *_rolled_frames(clips[0], tubelets), False)]
    if mode == "sprites":
        assert sprites is not None  # TubeletOverlay checked
        source = sprite_source(sprites, tubelets.batch_size, clips[0].dtype, clips[0].device)
        return [Cut(every, source, tubelets, True)]
    return [Cut(every, clips[0], tubelets, False)]


def _rolled_frames(video: torch.Tensor, tubelets: Tubelets) -> tuple[torch.Tensor, Tubelets]:
    """Copies of the frames clip ``b`` cuts from in clip ``(b - 1) mod B``: ``(B, C, M, H, W)``
    (tubelet ``m``'s at ``m``), and ``tubelets`` reading them. A copy of ``M`` frames per
    clip, read before any output is written, so painting in place is safe."""
    batch = video.shape[0]
    source, own = frame_copies(video, tubelets.src_frame, tuple((b - 1) % batch for b in range(batch)))
    return source, dataclasses.replace(tubelets, src_frame=own)
