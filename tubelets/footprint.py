"""Footprints of tubelets in pixels: the tight box and the visibility of each patch in each frame.

A tubelet paints the output pixels whose centres ``(x, y) = (j, i)`` its map
``inv_affine[b, m, t]`` sends into its shape (:mod:`tubelets.params`,
:mod:`tubelets.reference`): ``u = A · (x, y) + a`` with ``d(u) <= 1`` for hard edges and
``d(u) < 1`` for soft ones, where ``d`` is ``max(|u_x|, |u_y|)`` (rectangle: the unit
square), ``sqrt(u_x² + u_y²)`` (ellipse: the unit disc) or ``|u_x| + |u_y|`` (rhombus:
the unit L1 ball, i.e. ``max(|u_x + u_y|, |u_x - u_y|) <= 1``); and only if
``opacity[b, m, t] > 0``.

The region is convex: on a pixel row ``y`` it covers one chord ``[left(y), right(y)]``,
worked out in closed form from ``A`` and ``a`` (two slabs ``|α·x + β| <= 1`` for the
polygons, a quadratic for the ellipse). ``right`` is concave in ``y``: it falls away
from the ``y`` of the shape's rightmost point clipped to the frame, ``y*``. That point is
``c + F · u*`` under the forward map ``F = A⁻¹``, ``c = -F · a``, where ``u*`` is the point
of the shape farthest along the row ``F[0]``: ``sign(F[0])`` for the square,
``F[0] / |F[0]|`` for the disc, the vertex along the larger ``|F0k|`` for the L1 ball. So
the right side is the largest ``floor(right(y))`` over the rows ``floor(y*) - REACH`` …
``floor(y*) + REACH + 1`` of the frame: the inner ones count where their chord holds a
pixel centre, the two outer ones always, bounding every row beyond. Likewise for ``left``
and, on columns, for the top and the bottom. Everything is float64 from the float32 maps,
and a patch partly off the frame gets the box of the part inside.

How tight: no pixel outside the box is painted, up to the float32 rounding of ``u`` in
the compositor (a centre within about 1e-5 px of the edge may fall either way: one pixel
per side). A side lies out only where the chords on all the inner rows (or columns) hold
no pixel centre: a corner sharper than :data:`REACH` rows can cover, or a sliver thinner
than a pixel, which can also be visible and paint nothing.

:func:`tubelets.params.frame_boxes`, which the compositors use, is a looser box around
the whole unit square with a pixel of margin: it holds these boxes whatever the shape.
"""
from __future__ import annotations

import numbers

import torch

from .params import SHAPES, forward_map

ELLIPSE, RHOMBUS = SHAPES.index("ellipse"), SHAPES.index("rhombus")  # anything else: rectangle

REACH = 2
"""Rows (or columns) each side of the extreme point's that count only where they hold a
pixel centre; the next ones bound the rest. More is tighter on sharp corners, and slower."""

EMPTY = (0, 0, -1, -1)
"""The box of a tubelet that paints nothing in a frame: ``x1 < x0`` and ``y1 < y0``."""


def boxes(inv_affine: torch.Tensor, opacity: torch.Tensor, shape: torch.Tensor, softness: torch.Tensor,
          height: int, width: int) -> torch.Tensor:
    """``(B, M, T, 4)`` int64 tight boxes ``(x0, y0, x1, y1)``, inclusive pixel indices, of
    the pixels each tubelet paints in each frame of a ``height × width`` frame.

    A tubelet-frame that paints nothing in the frame (off it, ``opacity <= 0`` or NaN, or a
    map with a non-finite entry, which sends every pixel to NaN or infinity) gets
    :data:`EMPTY`. A singular finite map paints a strip, the whole plane or nothing: its
    box is the whole frame (as :func:`tubelets.params.frame_boxes` gives), not tight.

    Args:
        inv_affine: ``(B, M, T, 2, 3)`` float32, output pixel → patch coordinates.
        opacity: ``(B, M, T)`` float32.
        shape: ``(B, M)`` int32 index into :data:`tubelets.params.SHAPES`.
        softness: ``(B, M)`` float32, 0 for hard edges.
        height, width: the frame, pixels (ints ``>= 1``).
    """
    height, width = _frame_size(height, width)
    maps = inv_affine.double()
    kind = shape[..., None].expand(opacity.shape)  # (B, M, T)
    soft = (softness > 0)[..., None].expand(opacity.shape)
    forward, centre = forward_map(inv_affine)  # (B, M, T, 2, 2), (B, M, T, 2)
    sizes = (width, height)
    offsets = torch.arange(-REACH, REACH + 2, dtype=torch.float64, device=maps.device)  # lines around each
    outer = (offsets == -REACH) | (offsets == REACH + 1)
    lines_maps, lines_kind, lines_soft = maps[..., None, None, :, :], kind[..., None, None], soft[..., None, None]
    first, last = [], []
    for axis in (0, 1):  # x, then y: the extent along ``axis``, over rows or columns
        other, top = 1 - axis, sizes[1 - axis] - 1
        farthest = _farthest(forward[..., axis, :], kind)  # (B, M, T, 2), patch units
        along = (forward[..., other, :] * farthest).sum(-1)
        signs = torch.tensor([1.0, -1.0], dtype=torch.float64, device=maps.device)
        # (B, M, T, 2): the farthest point forward and backward along ``axis``, on the frame.
        at = (centre[..., other, None] + signs * along[..., None]).clamp(0, top)
        line = torch.floor(at)[..., None] + offsets  # (B, M, T, 2, L)
        start, end = _chord(lines_maps, lines_kind, axis, line)
        lo = torch.where(lines_soft, torch.floor(start) + 1, torch.ceil(start)).clamp(min=0)
        hi = torch.where(lines_soft, torch.ceil(end) - 1, torch.floor(end)).clamp(max=sizes[axis] - 1)
        # Past the outer lines the chords only shrink (the shape is convex): those bound the
        # rest; a line within them counts only where it holds a pixel centre.
        counts = (outer | (lo <= hi)) & (line >= 0) & (line <= top)
        first.append(torch.where(counts, lo, torch.inf)[..., 1, :].amin(-1))
        last.append(torch.where(counts, hi, -torch.inf)[..., 0, :].amax(-1))
    box = torch.stack([*first, *last], -1)  # (B, M, T, 4)
    finite = inv_affine.isfinite().flatten(-2).all(-1)
    singular = finite & ~forward.isfinite().flatten(-2).all(-1)
    whole = torch.tensor([0, 0, width - 1, height - 1], dtype=box.dtype, device=box.device)
    box = torch.where(singular[..., None], whole, box)
    painted = finite & (opacity > 0) & (box[..., :2] <= box[..., 2:]).all(-1)  # NaN compares False
    empty = torch.tensor(EMPTY, dtype=box.dtype, device=box.device)
    return torch.where(painted[..., None], box, empty).long()


def visible(inv_affine: torch.Tensor, opacity: torch.Tensor, shape: torch.Tensor, softness: torch.Tensor,
            height: int, width: int) -> torch.Tensor:
    """``(B, M, T)`` bool: whether each tubelet paints a pixel of a ``height × width``
    frame in each frame, i.e. its :func:`boxes` box is not :data:`EMPTY`. Arguments as
    for :func:`boxes`."""
    box = boxes(inv_affine, opacity, shape, softness, height, width)
    return box[..., 2] >= box[..., 0]


def _farthest(row: torch.Tensor, kind: torch.Tensor) -> torch.Tensor:
    """``(..., 2)`` the point ``u`` of each shape that maximises ``row · u``, ``row``
    ``(..., 2)`` float64 and ``kind`` ``(...)`` shape indices (any maximiser on ties)."""
    square = torch.sign(row)
    disc = row / row.norm(dim=-1, keepdim=True)
    larger = row.abs().argmax(-1, keepdim=True)
    diamond = torch.zeros_like(row).scatter(-1, larger, square.gather(-1, larger))
    kind = kind[..., None]
    return torch.where(kind == ELLIPSE, disc, torch.where(kind == RHOMBUS, diamond, square))


def _chord(maps: torch.Tensor, kind: torch.Tensor, axis: int, line: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(start, end)``, each ``(...)``, pixels: the extent along ``axis`` (0: x, 1: y) of
    each shape on the pixel line where the other coordinate is ``line`` ``(...)``;
    ``start = +inf, end = -inf`` where it misses the line. ``maps`` ``(..., 2, 3)`` float64."""
    slope = maps[..., axis]  # (..., 2): u = slope · s + offset along the line
    offset = maps[..., 1 - axis] * line[..., None] + maps[..., 2]
    missed = (torch.full_like(line, torch.inf), torch.full_like(line, -torch.inf))

    # Ellipse: |slope · s + offset|² <= 1, a quadratic in s.
    aa, ab, bb = slope.square().sum(-1), (slope * offset).sum(-1), offset.square().sum(-1)
    root = (ab.square() - aa * (bb - 1)).sqrt()  # NaN where the line misses
    meets = root >= 0
    ellipse = (torch.where(meets, (-ab - root) / aa, missed[0]), torch.where(meets, (-ab + root) / aa, missed[1]))

    # Polygons: the intersection of two slabs |α·s + β| <= 1; the rhombus's are u_x ± u_y.
    rhombus = (kind == RHOMBUS)[..., None]
    alpha = torch.where(rhombus, torch.stack([slope.sum(-1), slope[..., 0] - slope[..., 1]], -1), slope)
    beta = torch.where(rhombus, torch.stack([offset.sum(-1), offset[..., 0] - offset[..., 1]], -1), offset)
    flat = alpha == 0  # the slab is parallel to the line: all of it or none
    safe = torch.where(flat, 1.0, alpha)
    one, two = (-1 - beta) / safe, (1 - beta) / safe
    inside = beta.abs() <= 1
    start = torch.where(flat, torch.where(inside, -torch.inf, torch.inf), torch.minimum(one, two))
    end = torch.where(flat, torch.where(inside, torch.inf, -torch.inf), torch.maximum(one, two))
    polygon = (start.amax(-1), end.amin(-1))

    is_ellipse = kind == ELLIPSE
    start = torch.where(is_ellipse, ellipse[0], polygon[0])
    end = torch.where(is_ellipse, ellipse[1], polygon[1])
    gap = start > end  # two slabs that do not overlap on the line
    return torch.where(gap, missed[0], start), torch.where(gap, missed[1], end)


def _frame_size(height: int, width: int) -> tuple[int, int]:
    """``height, width`` as ints, or ``ValueError`` naming the one that is not an int ``>= 1``."""
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(height), int(width)
