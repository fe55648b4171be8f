"""`Tubelets`: the sampled parameters, the one format every backend consumes.

Conventions (shared by every backend, the reference included):

* Pixel ``(row i, column j)`` has its centre at ``(x, y) = (j, i)``; coordinates are
  in pixels, the y axis points down.
* A tubelet ``m`` of clip ``b`` in frame ``t`` is one affine map ``inv_affine[b, m, t]``
  (2×3) from an output pixel ``(x, y, 1)`` to patch coordinates ``u ∈ [-1, 1]²``.
  Pixels with ``max(|u_x|, |u_y|) > 1`` are outside the patch.
* The patch pixels come from the crop ``src_box[b, m] = (x0, y0, x1, y1)`` (inclusive
  pixel indices) of source frame ``src_frame[b, m]``: ``s = centre + u · half`` with
  ``centre = ((x0 + x1) / 2, (y0 + y1) / 2)`` and ``half = ((x1 - x0 + 1) / 2,
  (y1 - y0 + 1) / 2)``, clamped to the crop, then sampled bilinearly. Content therefore
  never comes from outside the crop, however the patch is rotated or sheared.
* Tubelets are painted in index order ``m = 0 … M-1``; the sampler sorts them largest
  first so small patches stay visible.

The raw motion (centres, angles, scales, shears, keyframes) is kept beside the compiled
maps so that boxes for trackers, captions and replays can be derived later.
"""
from __future__ import annotations

import dataclasses

import torch

SHAPES = ("rectangle", "ellipse", "rhombus")
"""Patch shapes; ``Tubelets.shape`` holds an index into this tuple."""


@dataclasses.dataclass(frozen=True)
class Tubelets:
    """Parameters of ``M`` tubelets for each of ``B`` clips of ``T`` frames.

    Compiled fields (read by the compositing kernels):
        inv_affine: ``(B, M, T, 2, 3)`` float32, output pixel → patch coordinates.
        opacity:    ``(B, M, T)`` float32 in ``[0, 1]``.
        src_box:    ``(B, M, 4)`` int32, crop ``(x0, y0, x1, y1)`` in source pixels, inclusive.
        src_frame:  ``(B, M)`` int32, frame of the source clip the patch is cut from.
        shape:      ``(B, M)`` int32, index into :data:`SHAPES`.
        softness:   ``(B, M)`` float32 ≥ 0, width of the edge ramp in patch units (0 = hard).

    Raw motion (kept for labels, captions and replay):
        centers:    ``(B, M, T, 2)`` float32, patch centre ``(x, y)`` in output pixels.
        angles:     ``(B, M, T)`` float32, rotation in degrees, clockwise on screen.
        scales:     ``(B, M, T, 2)`` float32, ``(sx, sy)`` factors.
        shears:     ``(B, M, T, 2)`` float32, ``(x-shear, y-shear)`` factors.
        motion_keyframes:    ``(B, M, K)`` int64 frame indices of a linear path, or ``None``.
        transform_keyframes: ``(B, M, K)`` int64 frame indices of the transforms, or ``None``.
    """

    inv_affine: torch.Tensor
    opacity: torch.Tensor
    src_box: torch.Tensor
    src_frame: torch.Tensor
    shape: torch.Tensor
    softness: torch.Tensor
    centers: torch.Tensor
    angles: torch.Tensor
    scales: torch.Tensor
    shears: torch.Tensor
    motion_keyframes: torch.Tensor | None = None
    transform_keyframes: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.inv_affine.shape[0]

    @property
    def num_tubelets(self) -> int:
        return self.inv_affine.shape[1]

    @property
    def num_frames(self) -> int:
        return self.inv_affine.shape[2]

    @property
    def device(self) -> torch.device:
        return self.inv_affine.device

    @property
    def patch_size(self) -> torch.Tensor:
        """``(B, M, 2)`` int32: crop width and height in pixels."""
        return crop_size(self.src_box)

    def to(self, device: torch.device | str) -> Tubelets:
        """The same tubelets with every tensor on ``device``."""
        moved = {
            f.name: None if (v := getattr(self, f.name)) is None else v.to(device)
            for f in dataclasses.fields(self)
        }
        return Tubelets(**moved)

    def frame_boxes(self, height: int, width: int) -> torch.Tensor:
        """``(B, M, T, 4)`` int32 boxes holding each patch in a ``height × width`` frame."""
        return frame_boxes(self.inv_affine, height, width)


def compile_inv_affine(
    centers: torch.Tensor,
    half_size: torch.Tensor,
    angles: torch.Tensor,
    scales: torch.Tensor,
    shears: torch.Tensor,
) -> torch.Tensor:
    """Fold motion and transforms into ``(..., 2, 3)`` maps output pixel → patch coordinates.

    The forward map sends patch coordinates ``u`` to the pixel
    ``centre + R(angle) · Y(shear_y) · X(shear_x) · diag(scale) · diag(half_size) · u``:
    the patch is scaled, then sheared along x and then along y (each shear keeps area),
    then rotated clockwise on screen.

    Args:
        centers: ``(..., 2)`` patch centre ``(x, y)``, pixels.
        half_size: ``(..., 2)`` half the patch width and height, pixels (broadcasts).
        angles: ``(...)`` degrees.
        scales: ``(..., 2)`` ``(sx, sy)``.
        shears: ``(..., 2)`` ``(x-shear, y-shear)``.
    """
    theta = torch.deg2rad(angles.double())
    cos, sin = torch.cos(theta), torch.sin(theta)
    sx, sy = (scales.double() * half_size.double()).unbind(-1)
    kx, ky = shears.double().unbind(-1)
    # Y · X = [[1, kx], [ky, 1 + kx·ky]]; then multiplied by diag(sx, sy) on the right.
    a00, a01 = sx, kx * sy
    a10, a11 = ky * sx, (1 + kx * ky) * sy
    f00, f01 = cos * a00 - sin * a10, cos * a01 - sin * a11
    f10, f11 = sin * a00 + cos * a10, sin * a01 + cos * a11
    det = f00 * f11 - f01 * f10
    i00, i01, i10, i11 = f11 / det, -f01 / det, -f10 / det, f00 / det
    cx, cy = centers.double().unbind(-1)
    rows = [
        torch.stack([i00, i01, -(i00 * cx + i01 * cy)], -1),
        torch.stack([i10, i11, -(i10 * cx + i11 * cy)], -1),
    ]
    return torch.stack(rows, -2).float()


def frame_boxes(inv_affine: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(..., 4)`` int32 boxes ``(x0, y0, x1, y1)``, inclusive, that hold each patch.

    ``inv_affine`` is ``(..., 2, 3)``. Boxes are clipped to a ``height × width`` frame; a
    patch off the frame gets ``x1 < x0``. One pixel of margin keeps them conservative
    against rounding in ``inv_affine``.
    """
    m = inv_affine.double()
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    forward = torch.stack([d, -b, -c, a], -1).unflatten(-1, (2, 2)) / det[..., None, None]
    centre = -(forward @ m[..., 2:]).squeeze(-1)
    extent = forward.abs().sum(-1)  # half-size of the box around the patch square
    low = torch.floor(centre - extent) - 1
    high = torch.ceil(centre + extent) + 1
    # A singular map stretches the patch over a whole strip: take the whole frame.
    low = torch.where(torch.isfinite(low), low, torch.zeros_like(low))
    limit = torch.tensor([width - 1, height - 1], dtype=torch.float64, device=low.device)
    high = torch.where(torch.isfinite(high), high, limit)
    low = torch.maximum(low, torch.zeros_like(low))
    high = torch.minimum(high, limit)
    boxes = torch.cat([low, high], -1)
    empty = (low > high).any(-1, keepdim=True)
    nothing = torch.tensor([0.0, 0.0, -1.0, -1.0], dtype=boxes.dtype, device=boxes.device)
    return torch.where(empty, nothing, boxes).to(torch.int32)


def crop_size(src_box: torch.Tensor) -> torch.Tensor:
    """``(..., 2)`` width and height, in pixels, of inclusive crops ``(..., 4)``."""
    return src_box[..., 2:] - src_box[..., :2] + 1


def half_size_of(src_box: torch.Tensor) -> torch.Tensor:
    """``(..., 2)`` float half width/height of inclusive crops ``(..., 4)``."""
    return crop_size(src_box).float() / 2
