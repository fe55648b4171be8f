"""What a user would write instead of this package: batched PyTorch warps over full frames.

The baselines of ``benchmarks/run.py`` and ``tubelets selftest``; tests/test_baselines.py
checks them against the reference.

Both functions paint the package's :class:`~tubelets.Tubelets` onto copies of a batch of
clip pairs, every clip and frame at once, one tubelet at a time:

* :func:`overlay_grid_sample`: ``F.affine_grid`` gives the patch coordinates ``u`` of every
  output pixel (``B·T·H·W`` of them, float32 pairs); the shape mask is computed from
  ``u``; ``F.grid_sample`` reads the source frame at ``centre + u · half``. The ``T``
  frames of a clip are stacked along the grid's height so that each clip's source frame
  is read without being repeated ``T`` times.
* :func:`overlay_kornia`: ``kornia.geometry.transform.warp_affine`` warps the source frame
  and its shape mask (one extra channel), repeated for the ``T`` frames, with the forward
  map source pixel → output pixel.

Both blend in float32 with ``torch.lerp`` and round uint8 once at the end. Unlike the
package they sample the whole source frame, not the crop: bilinear taps on the crop's
border read the pixels beside it (``padding_mode`` only acts at the frame's border).
kornia's mask is warped bilinearly, then thresholded at 0.5 for hard-edged shapes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .params import SHAPES, Tubelets

ELLIPSE, RHOMBUS = SHAPES.index("ellipse"), SHAPES.index("rhombus")


def overlay_grid_sample(v1: torch.Tensor, v2: torch.Tensor, tubelets: Tubelets) -> tuple[torch.Tensor, torch.Tensor]:
    """``(v1', v2')``: copies of the ``(B, C, T, H, W)`` clips with ``tubelets`` cut from ``v1``."""
    batch, channels, frames, height, width = v1.shape
    outputs = [v.to(torch.float32, copy=True) for v in (v1, v2)]
    # affine_grid (align_corners=False) gives normalised x_n; the pixel is x = (W·x_n + W - 1) / 2.
    to_pixels = torch.tensor([[width / 2, 0, (width - 1) / 2], [0, height / 2, (height - 1) / 2], [0, 0, 1]],
                             dtype=torch.float64, device=v1.device)
    theta = (tubelets.inv_affine.double() @ to_pixels).float()  # (B, M, T, 2, 3): normalised output → u
    centre, half = _crop_geometry(tubelets.src_box)
    size = torch.tensor([width, height], dtype=torch.float32, device=v1.device)
    grid_scale, grid_offset = 2 * half / size, (2 * centre + 1) / size - 1  # u → normalised source
    clips = torch.arange(batch, device=v1.device)
    for m in range(tubelets.num_tubelets):
        u = F.affine_grid(theta[:, m].reshape(batch * frames, 2, 3), [batch * frames, 1, height, width],
                          align_corners=False).view(batch, frames, height, width, 2)
        grid = torch.addcmul(grid_offset[:, m, None, None], u.view(batch, frames * height, width, 2),
                             grid_scale[:, m, None, None])
        frame = v1[clips, :, tubelets.src_frame[:, m].long()].float()  # (B, C, H, W)
        patch = F.grid_sample(frame, grid, mode="bilinear", padding_mode="border", align_corners=False)
        patch = patch.view(batch, channels, frames, height, width)
        shape = tubelets.shape[:, m].view(-1, 1, 1, 1)
        softness = tubelets.softness[:, m].view(-1, 1, 1, 1)
        coverage = shape_coverage(u[..., 0], u[..., 1], shape, softness)  # (B, T, H, W)
        alpha = (coverage * tubelets.opacity[:, m, :, None, None]).unsqueeze(1)
        for out in outputs:
            out.lerp_(patch, alpha)
    q, k = (_to_dtype(out, v1.dtype) for out in outputs)
    return q, k


def overlay_kornia(v1: torch.Tensor, v2: torch.Tensor, tubelets: Tubelets) -> tuple[torch.Tensor, torch.Tensor]:
    """``(v1', v2')`` as :func:`overlay_grid_sample`, warping with kornia's ``warp_affine``."""
    from kornia.geometry.transform import warp_affine

    batch, channels, frames, height, width = v1.shape
    outputs = [v.to(torch.float32, copy=True) for v in (v1, v2)]
    centre, half = _crop_geometry(tubelets.src_box)
    # Output pixel p → u = inv_affine · p → source pixel s = centre + half · u; kornia wants s → p.
    to_source = torch.zeros(*centre.shape[:2], 3, 3, dtype=torch.float64, device=v1.device)
    to_source[..., 0, 0], to_source[..., 1, 1], to_source[..., 2, 2] = half[..., 0], half[..., 1], 1
    to_source[..., :2, 2] = centre
    inverse = torch.cat([tubelets.inv_affine.double(), to_source[:, :, None, 2:].expand(-1, -1, frames, 1, 3)], -2)
    forward = torch.linalg.inv(to_source[:, :, None] @ inverse)[..., :2, :].float()  # (B, M, T, 2, 3)
    ys = torch.arange(height, dtype=torch.float32, device=v1.device).view(1, -1, 1)
    xs = torch.arange(width, dtype=torch.float32, device=v1.device).view(1, 1, -1)
    clips = torch.arange(batch, device=v1.device)
    for m in range(tubelets.num_tubelets):
        shape = tubelets.shape[:, m].view(-1, 1, 1)
        softness = tubelets.softness[:, m].view(-1, 1, 1)
        mask = shape_coverage((xs - centre[:, m, 0, None, None]) / half[:, m, 0, None, None],
                         (ys - centre[:, m, 1, None, None]) / half[:, m, 1, None, None], shape, softness)
        frame = v1[clips, :, tubelets.src_frame[:, m].long()].float()  # (B, C, H, W)
        stacked = torch.cat([frame, mask[:, None]], 1)[:, None].expand(batch, frames, channels + 1, height, width)
        warped = warp_affine(stacked.reshape(batch * frames, channels + 1, height, width),
                             forward[:, m].reshape(batch * frames, 2, 3), (height, width),
                             mode="bilinear", padding_mode="zeros", align_corners=True)
        warped = warped.view(batch, frames, channels + 1, height, width).transpose(1, 2)
        patch, coverage = warped[:, :channels], warped[:, channels:]
        coverage = torch.where(softness.view(-1, 1, 1, 1, 1) > 0, coverage, (coverage > 0.5).float())
        alpha = coverage * tubelets.opacity[:, m].view(batch, 1, frames, 1, 1)
        for out in outputs:
            out.lerp_(patch, alpha)
    q, k = (_to_dtype(out, v1.dtype) for out in outputs)
    return q, k


def _crop_geometry(src_box: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre and half size ``(B, M, 2)`` float32 of inclusive crops ``(B, M, 4)``, pixels."""
    box = src_box.float()
    return (box[..., :2] + box[..., 2:]) / 2, (box[..., 2:] - box[..., :2] + 1) / 2


def shape_coverage(ux: torch.Tensor, uy: torch.Tensor, shape: torch.Tensor, softness: torch.Tensor) -> torch.Tensor:
    """Shape coverage in ``[0, 1]`` at patch coordinates ``u`` (as :mod:`tubelets.reference`).

    ``shape`` and ``softness`` broadcast against ``ux`` and ``uy``. Every shape's distance is
    at least ``max(|ux|, |uy|)``, so points outside the patch square get 0.
    """
    ax, ay = ux.abs(), uy.abs()
    distance = torch.where(shape == ELLIPSE, torch.sqrt(ux * ux + uy * uy),
                           torch.where(shape == RHOMBUS, ax + ay, torch.maximum(ax, ay)))
    ramp = ((1 - distance) / torch.where(softness > 0, softness, 1.0)).clamp(0, 1)
    return torch.where(softness > 0, ramp, (distance <= 1).float())


def _to_dtype(video: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """float32 → ``dtype``, rounding and clamping for uint8."""
    if dtype == torch.uint8:
        return video.round_().clamp_(0, 255).to(dtype)
    return video.to(dtype)
