"""`sample_tubelets`: draw ``M`` tubelets for each clip of a batch, vectorised over ``(B, M)``.

Randomness is drawn per clip, on the generator's device (the video's device when no
generator is given, using the global RNG that ``torch.manual_seed`` seeds), and the result
is moved to ``device``. There is no Python loop over the batch.
"""
from __future__ import annotations

import torch

from . import trajectories
from .config import TubeletConfig
from .params import SHAPES, Tubelets, compile_inv_affine, crop_size, half_size_of


def sample_tubelets(
    config: TubeletConfig,
    batch_size: int,
    frames: int,
    height: int,
    width: int,
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> Tubelets:
    """Sample tubelets for ``batch_size`` clips of ``frames × height × width`` pixels.

    Patches are cropped from the same frame size (the source clip ``v1`` of §5.3.2);
    the returned :class:`Tubelets` are sorted per clip, largest patch first (paint order).
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    draw_device = generator.device if generator is not None else device

    def uniform(shape: tuple[int, ...]) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=draw_device)

    batch = (batch_size, config.num_tubelets)
    size = torch.tensor([width, height], dtype=torch.float32, device=draw_device)

    src_box, src_frame = _crops(uniform, batch, config.patch_size, frames, size)
    # Paint order: largest crop first. Every other draw is independent of the crop, so
    # sorting the crops alone gives the same distribution as sorting whole tubelets.
    order = _largest_first(src_box)
    src_box, src_frame = src_box.gather(1, order[..., None].expand(-1, -1, 4)), src_frame.gather(1, order)
    shape = torch.tensor([SHAPES.index(s) for s in config.shapes], device=draw_device)
    shape = shape[(uniform(batch) * len(config.shapes)).long().clamp(max=len(config.shapes) - 1)]
    softness = _between(uniform(batch), config.softness)
    applied = (uniform((batch_size, 1, 1)) < config.p).float()
    opacity = (_between(uniform(batch), config.opacity)[..., None] * applied).expand(*batch, frames)

    motion_times = None
    if config.motion == "static":
        centers = trajectories.static_path(uniform, batch, frames, size)
    elif config.motion == "linear":
        motion_times = trajectories.keyframe_times(uniform, batch, config.keyframes, frames, draw_device)
        centers = trajectories.linear_path(uniform, motion_times, config.max_step, frames, size)
    else:
        centers = trajectories.nonlinear_path(
            uniform, batch, config.nonlinear_points, config.nonlinear_sigma,
            config.nonlinear_extent, frames, size,
        )
    half = half_size_of(src_box)[:, :, None]  # (B, M, 1, 2)
    centers = _snap_to_crop_grid(centers, src_box)

    times = trajectories.keyframe_times(uniform, batch, config.keyframes, frames, draw_device)
    identity = torch.zeros(*batch, frames, 2, device=draw_device)
    angles = identity[..., 0]
    scales, shears = identity + 1, identity
    if "rotation" in config.transforms:
        angles = trajectories.keyframed(uniform, times, *config.rotation_range, 0.0, 1, frames)[..., 0]
    if "scale" in config.transforms:
        scales = trajectories.keyframed(uniform, times, *config.scale_range, 1.0, 2, frames)
    if "shear" in config.transforms:
        shears = trajectories.keyframed(uniform, times, *config.shear_range, 0.0, 2, frames)

    return Tubelets(
        inv_affine=compile_inv_affine(centers, half, angles, scales, shears),
        opacity=opacity.contiguous(),
        src_box=src_box,
        src_frame=src_frame,
        shape=shape.int(),
        softness=softness,
        centers=centers.contiguous(),
        angles=angles.contiguous(),
        scales=scales.contiguous(),
        shears=shears.contiguous(),
        motion_keyframes=motion_times,
        transform_keyframes=times,
    ).to(device)


def _between(unit: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    low, high = bounds
    return low + (high - low) * unit


def _crops(uniform, batch, patch_size, frames, size):
    """Crop boxes ``(B, M, 4)`` int32 inside the frame and their source frames ``(B, M)``.

    Width and height are drawn independently, each a fraction ``patch_size`` of the
    frame's width or height (§5.4.1: 16 to 64 px at 112 px), at least one pixel.
    """
    extent = _between(uniform((*batch, 2)), patch_size) * size
    extent = extent.round().clamp(min=1.0)
    extent = torch.minimum(extent, size)
    corner = (uniform((*batch, 2)) * (size - extent + 1)).floor()
    corner = torch.minimum(corner, size - extent)
    src_box = torch.cat([corner, corner + extent - 1], -1).int()
    src_frame = (uniform(batch) * frames).long().clamp(max=frames - 1).int()
    return src_box, src_frame


def _snap_to_crop_grid(centers: torch.Tensor, src_box: torch.Tensor) -> torch.Tensor:
    """Shift centres by under half a pixel so output pixels land on source pixel centres.

    A crop of even width has its centre between two pixels; a patch whose centre has the
    same fractional part samples source pixel centres while it is only translated (up
    to the float32 rounding of its map), so the crop is not blurred.
    """
    phase = ((src_box[..., :2] + src_box[..., 2:]).float() * 0.5).frac()[:, :, None]
    return torch.round(centers - phase) + phase


def _largest_first(src_box: torch.Tensor) -> torch.Tensor:
    """``(B, M)`` permutation that sorts each clip's tubelets by crop area, largest first."""
    area = crop_size(src_box).prod(-1)
    return torch.sort(area, dim=-1, descending=True, stable=True).indices
