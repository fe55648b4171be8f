"""Triton compositor: paints tubelets into a canvas in place, like :func:`tubelets.reference.paint_`.

One program owns one ``BLOCK_H × BLOCK_W`` tile of one frame ``(b, t)``, for every copy
``p`` and channel ``c`` of the canvas, so no pixel is written by two programs. The grid
covers whole frames; a program whose tile misses every tubelet box of its frame returns
before touching memory, so the host never reads the boxes to size the grid. Only pixels
that some tubelet shows on (alpha > 0) are written back; the others keep their bits.

The per-pixel math is the reference's, in float32 and in the same order; launch with
``enable_fp_fusion=False`` so that no multiply-add is contracted, and with ``div_rn`` and
``sqrt_rn`` so that division and square root are correctly rounded.

Tests load a second copy of this module with ``TRITON_INTERPRET=1`` (see
``tests/test_triton.py``). For that copy to run, the kernels import nothing from the
package and call only builtins of ``triton.language``, none of its ``@triton.jit``
helpers (``tl.cdiv``, ``tl.sigmoid``, ...): those were compiled-mode functions already.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK_H, BLOCK_W = 4, 32  # a tile: 4 rows of 32 pixels (128-byte rows of float32)
NUM_WARPS = 4  # 1 pixel per thread


@triton.jit
def _quantise(value, dtype: tl.constexpr):
    """float32 → the nearest value of ``dtype``, still as float32 (``reference.quantise``)."""
    if dtype == tl.uint8:
        return tl.minimum(tl.maximum(tl.floor(value + 0.5), 0.0), 255.0)
    elif dtype == tl.float16:
        return value.to(tl.float16).to(tl.float32)
    elif dtype == tl.bfloat16:
        # Round to nearest even on the bits: the interpreter truncates float32 → bfloat16.
        # A NaN keeps its top bits and is quieted, (bits >> 16) | 0x40, as in csrc/composite.h:
        # rounding would carry a full mantissa (a GPU's NaN 0x7FFFFFFF) into -0.0 (0x8000).
        bits = value.to(tl.uint32, bitcast=True)
        nan = (bits & 0x7FFFFFFF) > 0x7F800000
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        bits = tl.where(nan, (bits >> 16) | 0x40, rounded) << 16
        return bits.to(tl.float32, bitcast=True)
    else:
        return value


@triton.jit
def _shape_alpha(ux, uy, shape, softness):
    """Coverage in [0, 1] of patch coordinates ``u`` for one shape (0 rect, 1 ellipse, 2 rhombus)."""
    if shape == 1:
        distance = tl.sqrt_rn(ux * ux + uy * uy)
    elif shape == 2:
        distance = tl.abs(ux) + tl.abs(uy)
    else:
        distance = tl.maximum(tl.abs(ux), tl.abs(uy))
    if softness > 0:
        alpha = tl.minimum(tl.maximum(tl.div_rn(1 - distance, softness), 0.0), 1.0)
    else:
        alpha = (distance <= 1).to(tl.float32)
    return alpha


@triton.jit
def _source_axis(u, first, last, size):
    """Bilinear taps along one axis of the crop ``[first, last]`` of a source axis of ``size``.

    Returns ``(i0, i1, frac)``: the two pixel indices (int32) and the weight of ``i1``.
    ``tl.minimum``/``tl.maximum`` drop NaN like C's ``fminf``/``fmaxf``, and the crop is
    clamped to the frame. The indices are clamped as integers too, as in csrc/composite.h:
    past 2**24 ``high`` may round up in float32, and ``floor(s)`` with it, past the crop and
    the source; memory safety must not rest on float rounding.
    """
    low = tl.minimum(tl.maximum(first, 0), size - 1)
    high = tl.minimum(tl.maximum(last, 0), size - 1)
    centre = (first + last).to(tl.float32) * 0.5
    half = (last - first + 1).to(tl.float32) * 0.5
    s = tl.minimum(tl.maximum(centre + u * half, low.to(tl.float32)), high.to(tl.float32))
    i0 = tl.minimum(tl.floor(s).to(tl.int32), high)
    return i0, tl.minimum(i0 + 1, high), s - i0.to(tl.float32)


@triton.jit
def paint_kernel(
    canvas_ptr,  # (P, B, C, T, H, W) pixels, read and written in place
    source_ptr,  # (B, C, T, Hs, Ws) pixels of the same dtype, read only
    inv_affine_ptr,  # (B, M, T, 2, 3) float32, contiguous: output pixel → patch coordinates
    opacity_ptr,  # (B, M, T) float32, contiguous
    boxes_ptr,  # (B, M, T, 4) int32, contiguous: inclusive (x0, y0, x1, y1) per frame
    src_box_ptr,  # (B, M, 4) int32, contiguous: inclusive crop (x0, y0, x1, y1) in the source
    src_frame_ptr,  # (B, M) int32, contiguous: source frame of each tubelet
    shape_ptr,  # (B, M) int32, contiguous: 0 rectangle, 1 ellipse, 2 rhombus
    softness_ptr,  # (B, M) float32, contiguous: edge ramp width in patch units, 0 = hard
    P, C, T, H, W,  # canvas sizes (B is implied by the grid)
    Hs, Ws,  # source frame height and width
    M,  # tubelets per clip
    canvas_sp, canvas_sb, canvas_sc, canvas_st, canvas_sh, canvas_sw,  # canvas strides, elements
    source_sb, source_sc, source_st, source_sh, source_sw,  # source strides, elements
    P_BLOCK: tl.constexpr,  # next power of two ≥ P
    C_BLOCK: tl.constexpr,  # next power of two ≥ C
    BLOCK_H: tl.constexpr,  # tile height, pixels (power of two)
    BLOCK_W: tl.constexpr,  # tile width, pixels (power of two)
):
    """Grid: (B·T·⌈H/BLOCK_H⌉·⌈W/BLOCK_W⌉,) programs, one per tile of each frame."""
    dtype: tl.constexpr = canvas_ptr.dtype.element_ty
    # Program id → (b, t, tile). Indices are int32; memory offsets are int64, since
    # B·C·T·H·W can exceed 2³¹, so b and t, which multiply strides, are int64.
    pid = tl.program_id(0)
    tiles_w = (W + BLOCK_W - 1) // BLOCK_W
    tiles = (H + BLOCK_H - 1) // BLOCK_H * tiles_w
    frame = pid // tiles  # b·T + t
    b, t = (frame // T).to(tl.int64), (frame % T).to(tl.int64)
    tile_x0 = (pid % tiles) % tiles_w * BLOCK_W
    tile_y0 = (pid % tiles) // tiles_w * BLOCK_H
    tile_x1 = tl.minimum(tile_x0 + BLOCK_W, W) - 1
    tile_y1 = tl.minimum(tile_y0 + BLOCK_H, H) - 1

    # Bounding box of the parts of this frame's tubelet boxes that fall in the tile.
    lo_x, lo_y, hi_x, hi_y = tile_x1 + 1, tile_y1 + 1, tile_x0 - 1, tile_y0 - 1
    for m in range(M):
        box = boxes_ptr + ((b * M + m) * T + t) * 4
        x0 = tl.maximum(tl.load(box + 0), tile_x0)
        y0 = tl.maximum(tl.load(box + 1), tile_y0)
        x1 = tl.minimum(tl.load(box + 2), tile_x1)
        y1 = tl.minimum(tl.load(box + 3), tile_y1)
        hit = (x0 <= x1) & (y0 <= y1)
        lo_x = tl.where(hit, tl.minimum(lo_x, x0), lo_x)
        lo_y = tl.where(hit, tl.minimum(lo_y, y0), lo_y)
        hi_x = tl.where(hit, tl.maximum(hi_x, x1), hi_x)
        hi_y = tl.where(hit, tl.maximum(hi_y, y1), hi_y)
    if (lo_x > hi_x) | (lo_y > hi_y):
        return

    # The tile's pixels as one flat block; only those inside the union box are touched.
    offs = tl.arange(0, BLOCK_H * BLOCK_W)
    x = tile_x0 + offs % BLOCK_W
    y = tile_y0 + offs // BLOCK_W
    in_union = (x >= lo_x) & (x <= hi_x) & (y >= lo_y) & (y <= hi_y)
    xf, yf = x.to(tl.float32), y.to(tl.float32)

    # The canvas block (P_BLOCK, C_BLOCK, pixels) is loaded once and kept in float32.
    p = tl.arange(0, P_BLOCK).to(tl.int64)[:, None, None]
    c = tl.arange(0, C_BLOCK).to(tl.int64)[None, :, None]
    pixel = (y.to(tl.int64) * canvas_sh + x.to(tl.int64) * canvas_sw)[None, None, :]
    canvas_ptrs = canvas_ptr + b * canvas_sb + t * canvas_st + p * canvas_sp + c * canvas_sc + pixel
    canvas_mask = (p < P) & (c < C) & in_union[None, None, :]
    out = tl.load(canvas_ptrs, mask=canvas_mask, other=0).to(tl.float32)
    # Pixels no tubelet shows on are not written back, so they keep their bits (NaN payloads).
    painted = offs < 0

    channel = c.reshape(C_BLOCK, 1)  # (C_BLOCK, 1) for the source block (C_BLOCK, pixels)
    for m in range(M):
        bm = b * M + m
        box = boxes_ptr + (bm * T + t) * 4
        x0, y0 = tl.load(box + 0), tl.load(box + 1)
        x1, y1 = tl.load(box + 2), tl.load(box + 3)
        # Tubelets whose box misses the tile cost four scalar loads.
        if (tl.maximum(x0, tile_x0) <= tl.minimum(x1, tile_x1)) & (
            tl.maximum(y0, tile_y0) <= tl.minimum(y1, tile_y1)
        ):
            affine = inv_affine_ptr + (bm * T + t) * 6
            ux = (tl.load(affine + 0) * xf + tl.load(affine + 1) * yf) + tl.load(affine + 2)
            uy = (tl.load(affine + 3) * xf + tl.load(affine + 4) * yf) + tl.load(affine + 5)
            inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1) & in_union
            inside &= tl.maximum(tl.abs(ux), tl.abs(uy)) <= 1
            shape_alpha = _shape_alpha(ux, uy, tl.load(shape_ptr + bm), tl.load(softness_ptr + bm))
            alpha = tl.where(inside, tl.load(opacity_ptr + bm * T + t) * shape_alpha, 0.0)
            keep = alpha <= 0
            painted |= ~keep

            crop = src_box_ptr + bm * 4
            sx0, sx1, fx = _source_axis(ux, tl.load(crop + 0), tl.load(crop + 2), Ws)
            sy0, sy1, fy = _source_axis(uy, tl.load(crop + 1), tl.load(crop + 3), Hs)
            frame_ptr = source_ptr + b * source_sb + tl.load(src_frame_ptr + bm).to(tl.int64) * source_st
            row0 = frame_ptr + channel * source_sc + (sy0.to(tl.int64) * source_sh)[None, :]
            row1 = frame_ptr + channel * source_sc + (sy1.to(tl.int64) * source_sh)[None, :]
            col0 = (sx0.to(tl.int64) * source_sw)[None, :]
            col1 = (sx1.to(tl.int64) * source_sw)[None, :]
            taps = (channel < C) & ~keep[None, :]  # sample only where the tubelet shows
            v00 = tl.load(row0 + col0, mask=taps, other=0).to(tl.float32)
            v01 = tl.load(row0 + col1, mask=taps, other=0).to(tl.float32)
            v10 = tl.load(row1 + col0, mask=taps, other=0).to(tl.float32)
            v11 = tl.load(row1 + col1, mask=taps, other=0).to(tl.float32)
            top = v00 + fx[None, :] * (v01 - v00)
            bottom = v10 + fx[None, :] * (v11 - v10)
            value = (top + fy[None, :] * (bottom - top))[None, :, :]

            a = alpha[None, None, :]
            blended = tl.where(a >= 1, value, out * (1 - a) + value * a)
            out = tl.where(keep[None, None, :], out, _quantise(blended, dtype))

    tl.store(canvas_ptrs, out.to(dtype), mask=canvas_mask & painted[None, None, :])


def paint_(
    canvas: torch.Tensor,
    source: torch.Tensor,
    inv_affine: torch.Tensor,
    opacity: torch.Tensor,
    boxes: torch.Tensor,
    src_box: torch.Tensor,
    src_frame: torch.Tensor,
    shape: torch.Tensor,
    softness: torch.Tensor,
) -> None:
    """Launch :func:`paint_kernel`; arguments as :func:`tubelets.reference.paint_`.

    The caller has checked them: parameter tensors contiguous, of the documented dtypes and
    on the canvas's device; ``canvas`` and ``source`` of one dtype, any strides.
    """
    copies, batch, channels, frames, height, width = canvas.shape
    if canvas.numel() == 0 or inv_affine.shape[1] == 0:
        return
    tiles = triton.cdiv(height, BLOCK_H) * triton.cdiv(width, BLOCK_W)
    # Triton launches on the current CUDA device; -1 (CPU tensors, interpreter) is a no-op.
    with torch.cuda.device(canvas.device.index if canvas.is_cuda else -1):
        paint_kernel[(batch * frames * tiles,)](
            canvas, source, inv_affine, opacity, boxes, src_box, src_frame, shape, softness,
            copies, channels, frames, height, width,
            source.shape[-2], source.shape[-1], inv_affine.shape[1],
            *canvas.stride(), *source.stride(),
            P_BLOCK=triton.next_power_of_2(copies),
            C_BLOCK=triton.next_power_of_2(channels),
            BLOCK_H=BLOCK_H,
            BLOCK_W=BLOCK_W,
            num_warps=NUM_WARPS,
            enable_fp_fusion=False,
        )
