"""What a user would write instead of this package: batched PyTorch warps over whole frames.

Timing baselines for ``tubelets selftest`` (``benchmarks/torch_pipelines.py`` has the fuller
versions the benchmarks use). Both paint :class:`~tubelets.Tubelets` cut from ``v1`` onto
float32 copies of both ``(B, C, T, H, W)`` clips, every clip and frame at once, one tubelet
at a time, blend with ``torch.lerp`` and round once at the end. They sample the whole
source frame rather than the crop, and ignore ``softness``: close to the package's output,
not equal to it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .params import SHAPES, Tubelets

ELLIPSE, RHOMBUS = SHAPES.index("ellipse"), SHAPES.index("rhombus")


def grid_sample_pair(v1: torch.Tensor, v2: torch.Tensor, tubelets: Tubelets) -> tuple[torch.Tensor, torch.Tensor]:
    """``F.affine_grid`` gives every output pixel's patch coordinates ``u``; ``F.grid_sample``
    reads the source frame at ``centre + u · half``; the shape mask comes from ``u``."""
    batch, channels, frames, height, width = v1.shape
    outputs = [v.to(torch.float32, copy=True) for v in (v1, v2)]
    # affine_grid's normalised output x_n (align_corners=False) is pixel x = (W·x_n + W - 1) / 2.
    to_pixels = torch.tensor([[width / 2, 0, (width - 1) / 2], [0, height / 2, (height - 1) / 2], [0, 0, 1]],
                             dtype=torch.float64, device=v1.device)
    theta = (tubelets.inv_affine.double() @ to_pixels).float()  # (B, M, T, 2, 3): normalised output → u
    centre, half = _crop_geometry(tubelets.src_box)
    size = torch.tensor([width, height], dtype=torch.float32, device=v1.device)
    scale, offset = 2 * half / size, (2 * centre + 1) / size - 1  # u → normalised source
    clips = torch.arange(batch, device=v1.device)
    for m in range(tubelets.num_tubelets):
        u = F.affine_grid(theta[:, m].reshape(batch * frames, 2, 3), [batch * frames, 1, height, width],
                          align_corners=False).view(batch, frames * height, width, 2)
        grid = torch.addcmul(offset[:, m, None, None], u, scale[:, m, None, None])
        frame = v1[clips, :, tubelets.src_frame[:, m].long()].float()  # (B, C, H, W)
        patch = F.grid_sample(frame, grid, mode="bilinear", padding_mode="border", align_corners=False)
        coverage = _coverage(u[..., 0], u[..., 1], tubelets.shape[:, m].view(-1, 1, 1))
        alpha = coverage.view(batch, 1, frames, height, width) * tubelets.opacity[:, m].view(batch, 1, frames, 1, 1)
        for out in outputs:
            out.lerp_(patch.view(batch, channels, frames, height, width), alpha)
    return tuple(_to_dtype(out, v1.dtype) for out in outputs)


def kornia_pair(v1: torch.Tensor, v2: torch.Tensor, tubelets: Tubelets) -> tuple[torch.Tensor, torch.Tensor]:
    """``kornia.geometry.transform.warp_affine`` warps the source frame and its shape mask (one
    more channel), repeated for the ``T`` frames, by the forward map source → output pixel."""
    from kornia.geometry.transform import warp_affine

    batch, channels, frames, height, width = v1.shape
    outputs = [v.to(torch.float32, copy=True) for v in (v1, v2)]
    centre, half = _crop_geometry(tubelets.src_box)
    # Output pixel p → u = inv_affine · p → source pixel s = centre + half · u; kornia wants s → p.
    to_source = torch.zeros(batch, tubelets.num_tubelets, 1, 3, 3, dtype=torch.float64, device=v1.device)
    to_source[..., 0, 0], to_source[..., 1, 1], to_source[..., 2, 2] = half[..., 0, None], half[..., 1, None], 1
    to_source[..., :2, 2] = centre[:, :, None]
    last_row = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64, device=v1.device)
    inverse = torch.cat([tubelets.inv_affine.double(), last_row.expand(*tubelets.inv_affine.shape[:3], 1, 3)], -2)
    forward = torch.linalg.inv(to_source @ inverse)[..., :2, :].float()  # (B, M, T, 2, 3)
    ys = torch.arange(height, dtype=torch.float32, device=v1.device).view(1, -1, 1)
    xs = torch.arange(width, dtype=torch.float32, device=v1.device).view(1, 1, -1)
    clips = torch.arange(batch, device=v1.device)
    for m in range(tubelets.num_tubelets):
        mask = _coverage((xs - centre[:, m, 0, None, None]) / half[:, m, 0, None, None],
                         (ys - centre[:, m, 1, None, None]) / half[:, m, 1, None, None],
                         tubelets.shape[:, m].view(-1, 1, 1))
        frame = v1[clips, :, tubelets.src_frame[:, m].long()].float()  # (B, C, H, W)
        stacked = torch.cat([frame, mask[:, None]], 1)[:, None].expand(-1, frames, -1, -1, -1)
        warped = warp_affine(stacked.reshape(batch * frames, channels + 1, height, width),
                             forward[:, m].reshape(batch * frames, 2, 3), (height, width),
                             mode="bilinear", padding_mode="zeros", align_corners=True)
        warped = warped.view(batch, frames, channels + 1, height, width).transpose(1, 2)
        alpha = (warped[:, channels:] > 0.5).float() * tubelets.opacity[:, m].view(batch, 1, frames, 1, 1)
        for out in outputs:
            out.lerp_(warped[:, :channels], alpha)
    return tuple(_to_dtype(out, v1.dtype) for out in outputs)


def _crop_geometry(src_box: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre and half size ``(B, M, 2)`` float32 of inclusive crops ``(B, M, 4)``, pixels."""
    box = src_box.float()
    return (box[..., :2] + box[..., 2:]) / 2, (box[..., 2:] - box[..., :2] + 1) / 2


def _coverage(ux: torch.Tensor, uy: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
    """Hard-edged coverage, 0 or 1, of patch coordinates ``u`` (``shape`` broadcasts)."""
    ax, ay = ux.abs(), uy.abs()
    distance = torch.where(shape == ELLIPSE, torch.sqrt(ux * ux + uy * uy),
                           torch.where(shape == RHOMBUS, ax + ay, torch.maximum(ax, ay)))
    return (distance <= 1).float()


def _to_dtype(video: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """float32 → ``dtype``, rounding and clamping for uint8."""
    if dtype == torch.uint8:
        return video.round_().clamp_(0, 255).to(dtype)
    return video.to(dtype)
