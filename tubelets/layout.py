"""The layout guard: refuse a clip whose shape cannot be the layout it is given in.

A ``(T, H, W, C)`` clip read as ``(C, T, H, W)``, or a ``(B, T, C, H, W)`` batch read as
``(B, C, T, H, W)``, has the frame count where the channels should be. Painted, it gives
patches that differ per "channel" and stand still: silent corruption. Video has at most
:data:`MAX_CHANNELS` channels, so more is refused with the layout the shape most likely
is, unless the caller states the channel count.
"""
from __future__ import annotations

import torch

MAX_CHANNELS = 4
"""The most channels a clip is taken to have (RGB and alpha) without ``channels=``."""


def check_channels(name: str, clip: torch.Tensor, layout: str, channels: int | None) -> None:
    """Raise unless ``clip`` (laid out as ``layout``, e.g. ``"CTHW"`` or ``"BCTHW"``) has
    ``channels`` channels, or at most :data:`MAX_CHANNELS` when ``channels`` is ``None``."""
    shape = tuple(clip.shape)
    found = shape[layout.index("C")]
    if channels is not None:
        if found != channels:
            raise ValueError(f"{name} has {found} channels as {layout} {shape}, but channels={channels}")
        return
    if found <= MAX_CHANNELS:
        return
    raise ValueError(f"{name} has {found} channels as {layout} {shape}: {_likely_layout(shape, layout)}; "
                     f"if it really has {found} channels, pass channels={found}")


def _likely_layout(shape: tuple[int, ...], layout: str) -> str:
    """What a shape with too many channels most likely is, and what to do about it."""
    if shape[-1] <= MAX_CHANNELS:
        last = layout.replace("C", "") + "C"
        order = ", ".join(str(last.index(axis)) for axis in layout)
        return f"it looks like {last}, channels last: pass clip.permute({order})"
    swapped = layout.replace("C", "_").replace("T", "C").replace("_", "T")
    if shape[layout.index("T")] <= MAX_CHANNELS:
        return f"it looks like {swapped}: use data_format={swapped.rjust(5, 'B')!r}"
    return f"no layout of video fits ({MAX_CHANNELS} channels at most)"
