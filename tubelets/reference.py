"""The reference compositor: plain PyTorch, written to be read; the oracle for every kernel.

Per output pixel ``p`` of frame ``t`` of clip ``b``, for each tubelet ``m`` in index order
(see :mod:`tubelets.params` for the coordinate conventions)::

    skip unless p lies in boxes[b, m, t]
    u = inv_affine[b, m, t] @ (p.x, p.y, 1)                    # (a·x + b·y) + c, float32
    skip if max(|u.x|, |u.y|) > 1
    d = max(|u.x|, |u.y|)   rectangle
        sqrt(u.x² + u.y²)   ellipse
        |u.x| + |u.y|       rhombus
    shape_alpha = clamp((1 - d) / softness, 0, 1) if softness > 0 else (d <= 1)
    a = opacity[b, m, t] · shape_alpha
    s = clamp(centre + u · half, crop)                          # source pixel, see params
    v = bilinear(source[b, :, src_frame[b, m]], s)              # lerps: x, then y
    a = a · clamp(v[C] · unit, 0, 1); v = v[:C]                 # only with source_alpha
    mask = m if a > 0 (or NaN)                                  # only with masks
    out = out if a <= 0 else v if a >= 1 else out · (1 - a) + v · a
    out = quantise(out)                                         # after every tubelet

With ``source_alpha`` the source has one channel more than the videos, an alpha channel
(a sprite's, say): sampled like the others, times ``unit`` (``1/255`` in float32 for uint8,
1 for floats) and clamped to ``[0, 1]`` (a NaN gives 0), it multiplies the coverage.
``masks`` ``(B, T, H, W)`` int8 gets the index of the last (topmost) tubelet painting
each pixel, ``-1`` where none does: the footprint of every tubelet, from the same ``a``.

``quantise`` is ``clamp(floor(v + 0.5), 0, 255)`` for uint8 and round-to-nearest-even
for float16/bfloat16, so a pixel after each tubelet is a valid value of the dtype.
Alpha is not premultiplied. Arithmetic is float32 in this order, without fused
multiply-adds, so the C++ backend can match it bit for bit. A patch moved by whole pixels
reproduces its crop up to the float32 rounding of ``inv_affine`` (exactly when the crop's
sides are powers of two; otherwise within about 1e-5 of a pixel in the sample position).

The boxes are those of :func:`tubelets.params.frame_boxes`; out-of-place, each output
first gets a copy of its input. Memory: each tubelet is painted over chunks of frames (of
all clips), each frame over a window as large as the chunk's largest box, and a chunk holds
at most about :data:`CHUNK_ELEMENTS` window values; so the scratch space is bounded by a
constant (some tens of MB, or one frame's window if larger), whatever ``B·T``.
"""
from __future__ import annotations

import torch

from .params import SHAPES, frame_boxes

ELLIPSE, RHOMBUS = SHAPES.index("ellipse"), SHAPES.index("rhombus")  # anything else: rectangle


def paint_(
    outs: list[torch.Tensor],
    ins: list[torch.Tensor],
    source: torch.Tensor,
    inv_affine: torch.Tensor,
    opacity: torch.Tensor,
    src_box: torch.Tensor,
    src_frame: torch.Tensor,
    shape: torch.Tensor,
    softness: torch.Tensor,
    *,
    masks: torch.Tensor | None = None,
    source_alpha: bool = False,
) -> None:
    """Write ``ins[p]`` with the tubelets painted on into ``outs[p]``, for every copy ``p``.

    Args:
        outs: ``P`` tensors ``(B, C, T, H, W)``, any strides; ``outs[p]`` may be ``ins[p]``
            itself (painted in place), and must not overlap ``source`` or another output.
            ``P`` may be 0 when ``masks`` are given.
        ins: ``P`` tensors of the same shape, dtype and device, any strides.
        source: ``(B, C, Ts, Hs, Ws)``, any strides; where the patch pixels come from.
        inv_affine: ``(B, M, T, 2, 3)`` float32.
        opacity: ``(B, M, T)`` float32.
        src_box: ``(B, M, 4)`` int32.  src_frame, shape: ``(B, M)`` int32.
        softness: ``(B, M)`` float32.
        masks: ``None``, or ``(B, T, H, W)`` int8 to receive the topmost tubelet's index.
        source_alpha: the source's last channel is an alpha channel (see above).
    """
    for out, video in zip(outs, ins):
        if not same_elements(out, video):
            out.copy_(video)
    canvas = outs[0] if outs else masks  # masks without outputs (see ops.paint_)
    assert canvas is not None
    height, width = canvas.shape[-2:]
    batch, frames = inv_affine.shape[0], inv_affine.shape[2]
    channels = source.shape[1]
    colours = channels - 1 if source_alpha else channels
    if masks is not None:
        masks.fill_(-1)
    boxes = frame_boxes(inv_affine, height, width)  # (B, M, T, 4)
    patches = source.permute(0, 2, 3, 4, 1)  # (B, Ts, Hs, Ws, C), a view
    src_frame = src_frame.clamp(0, source.shape[2] - 1)
    clip = torch.arange(batch, device=source.device).repeat_interleave(frames)  # (B·T,) clip of each frame
    frame = torch.arange(frames, device=source.device).repeat(batch)
    for m in range(inv_affine.shape[1]):
        box = boxes[:, m].flatten(0, 1)  # (B·T, 4)
        size = (box[:, 2:] - box[:, :2] + 1).clamp(min=0).prod(-1)  # (B·T,) pixels per box
        largest = int(size.max()) if size.numel() else 0
        if largest == 0:
            continue
        step = max(1, CHUNK_ELEMENTS // (largest * channels))
        for first in range(0, batch * frames, step):
            chunk = slice(first, first + step)
            window = _window(box[chunk], height, width)
            if window is None:
                continue
            n, y, x = window
            b, t = clip[chunk][n], frame[chunk][n]  # (N,) clip and frame of each window
            u = _patch_coords(inv_affine[b, m, t], x, y)
            alpha = _alpha(u, opacity[b, m, t], box[chunk][n], shape[b, m], softness[b, m], x, y)[..., None]
            value = _bilinear(patches, b, src_frame[b, m], src_box[b, m], u)
            if source_alpha:
                unit = 1 / 255 if source.dtype == torch.uint8 else 1.0
                coverage = value[..., colours:] * torch.tensor(unit, dtype=torch.float32)
                alpha = alpha * torch.fmin(torch.fmax(coverage, torch.zeros(())), torch.ones(()))
                value = value[..., :colours]
            if masks is not None:
                b3, t3 = b[:, None, None], t[:, None, None]
                masks[b3, t3, y, x] = torch.where(alpha[..., 0] <= 0, masks[b3, t3, y, x], m)
            for out in outs:
                pixels = out.permute(0, 2, 3, 4, 1)  # (B, T, H, W, C), a view
                where = (b[:, None, None], t[:, None, None], y, x)
                before = pixels[where]  # (N, h, w, C)
                under = before.float()
                blended = torch.where(alpha >= 1, value, under * (1 - alpha) + value * alpha)
                pixels[where] = torch.where(alpha <= 0, before, quantise(blended, out.dtype))


CHUNK_ELEMENTS = 2**18
"""Window values (frames × pixels × channels) the reference paints at once."""


def same_elements(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether ``a`` and ``b`` are one tensor's memory seen alike: painting ``a`` is painting
    ``b`` in place."""
    return a.data_ptr() == b.data_ptr() and a.stride() == b.stride()


def quantise(value: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """float32 → ``dtype``: round half up and clamp for uint8, nearest-even for floats."""
    if dtype == torch.uint8:
        return torch.floor(value + 0.5).clamp_(0, 255).to(dtype)
    return value.to(dtype)


def _window(boxes: torch.Tensor, height: int, width: int):
    """Index tensors of one window per frame, as large as the largest of ``boxes`` ``(N, 4)``.

    Returns ``(n, y, x)``: ``n`` ``(N',)`` the frames with a non-empty box, ``y``
    ``(N', h, 1)`` and ``x`` ``(N', 1, w)``; or ``None`` if every box is empty. Windows are
    shifted to stay inside the frame so no pixel is indexed twice.
    """
    size = (boxes[:, 2:] - boxes[:, :2] + 1).clamp(min=0)  # (N, 2)
    n = torch.nonzero(size.prod(-1) > 0).flatten()
    if n.numel() == 0:
        return None
    w, h = (int(v) for v in size[n].amax(0))
    x0 = boxes[n, 0].clamp(max=width - w)
    y0 = boxes[n, 1].clamp(max=height - h)
    y = (y0[:, None] + torch.arange(h, device=boxes.device))[:, :, None]
    x = (x0[:, None] + torch.arange(w, device=boxes.device))[:, None, :]
    return n, y.long(), x.long()


def _patch_coords(inv_affine: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
    """``(u_x, u_y)``, each ``(N, h, w)`` float32, for pixels ``x`` ``(N, 1, w)``, ``y``
    ``(N, h, 1)`` of ``N`` frames with maps ``inv_affine`` ``(N, 2, 3)``."""
    m = inv_affine[..., None, None, :, :]  # (N, 1, 1, 2, 3)
    xf, yf = x.float(), y.float()
    ux = m[..., 0, 0] * xf + m[..., 0, 1] * yf + m[..., 0, 2]
    uy = m[..., 1, 0] * xf + m[..., 1, 1] * yf + m[..., 1, 2]
    return ux, uy


def _alpha(u, opacity, boxes, shape, softness, x, y) -> torch.Tensor:
    """``(N, h, w)`` float32 coverage of one tubelet: opacity × shape mask, 0 outside.
    ``opacity``, ``shape``, ``softness`` are ``(N,)``, ``boxes`` ``(N, 4)``."""
    ux, uy = u
    ax, ay = ux.abs(), uy.abs()
    chebyshev = torch.maximum(ax, ay)
    shape = shape.view(-1, 1, 1)
    distance = torch.where(
        shape == ELLIPSE,
        # float64 then float32 is correctly rounded, like C's sqrtf; torch's float32 sqrt is not.
        torch.sqrt((ux * ux + uy * uy).double()).float(),
        torch.where(shape == RHOMBUS, ax + ay, chebyshev),
    )
    soft = softness.view(-1, 1, 1)
    ramp = ((1 - distance) / torch.where(soft > 0, soft, 1.0)).clamp(0, 1)
    shape_alpha = torch.where(soft > 0, ramp, (distance <= 1).float())
    box = boxes[..., None, None, :]
    inside = (
        (x >= box[..., 0]) & (y >= box[..., 1]) & (x <= box[..., 2]) & (y <= box[..., 3])
        & (chebyshev <= 1)
    )
    return torch.where(inside, opacity[..., None, None] * shape_alpha, torch.zeros_like(ux))


def _bilinear(patches, clip, src_frame, src_box, u) -> torch.Tensor:
    """``(N, h, w, C)`` float32 samples of crops ``src_box`` ``(N, 4)`` of frames
    ``src_frame`` ``(N,)`` of clips ``clip`` ``(N,)`` at patch coordinates ``u``."""
    ux, uy = u
    height, width = patches.shape[2], patches.shape[3]
    box = src_box.view(-1, 1, 1, 4)
    x_lo, y_lo = box[..., 0].clamp(0, width - 1), box[..., 1].clamp(0, height - 1)
    x_hi, y_hi = box[..., 2].clamp(0, width - 1), box[..., 3].clamp(0, height - 1)
    centre_x = (box[..., 0] + box[..., 2]).float() * 0.5
    centre_y = (box[..., 1] + box[..., 3]).float() * 0.5
    half_x = (box[..., 2] - box[..., 0] + 1).float() * 0.5
    half_y = (box[..., 3] - box[..., 1] + 1).float() * 0.5
    # fmax/fmin drop NaN like C's fmaxf/fminf. The indices are clamped as integers too:
    # past 2**24, x_hi.float() may round up, and floor(sx) with it, past the crop.
    sx = torch.fmin(torch.fmax(centre_x + ux * half_x, x_lo.float()), x_hi.float())
    sy = torch.fmin(torch.fmax(centre_y + uy * half_y, y_lo.float()), y_hi.float())
    x0 = torch.minimum(torch.floor(sx).long(), x_hi)
    y0 = torch.minimum(torch.floor(sy).long(), y_hi)
    fx, fy = (sx - x0.float())[..., None], (sy - y0.float())[..., None]
    x1, y1 = torch.minimum(x0 + 1, x_hi), torch.minimum(y0 + 1, y_hi)
    b = clip.view(-1, 1, 1)
    f = src_frame.view(-1, 1, 1).long()
    v00, v01 = patches[b, f, y0, x0].float(), patches[b, f, y0, x1].float()
    v10, v11 = patches[b, f, y1, x0].float(), patches[b, f, y1, x1].float()
    top = v00 + fx * (v01 - v00)
    bottom = v10 + fx * (v11 - v10)
    return top + fy * (bottom - top)
