"""Triton compositor: ``outs[p] = ins[p]`` with tubelets painted on, like :func:`tubelets.reference.paint_`.

One program owns one ``BLOCK_H × BLOCK_W`` tile of one frame ``(b, t)`` of one output, for
every channel, so no pixel is written by two programs
and each output pixel is written once. The grid covers whole frames: a program reads its
tile of the inputs, paints the tubelets whose box (computed here from the map, a little
wider than :func:`tubelets.params.frame_boxes`) meets it, and writes the tile, so the host never
reads the parameters. Pixels no tubelet shows on (alpha > 0) keep their bits; painting in
place, only painted pixels are written.

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
def _frame_box(inv_affine_ptr, H, W):
    """``(x0, y0, x1, y1)`` int32 box of one patch clipped to the frame; empty (``x1 < x0``)
    off the frame. :func:`tubelets.params.frame_boxes` in float32 (float64 division needs a
    stack frame on the GPU), widened by a margin far above float32's error in it: a box only
    has to hold the patch, since the per-pixel test decides."""
    a = tl.load(inv_affine_ptr + 0)
    b = tl.load(inv_affine_ptr + 1)
    c = tl.load(inv_affine_ptr + 2)
    d = tl.load(inv_affine_ptr + 3)
    e = tl.load(inv_affine_ptr + 4)
    f = tl.load(inv_affine_ptr + 5)
    det = a * e - b * d
    inverse = 1.0 / det
    f00, f01, f10, f11 = e * inverse, -b * inverse, -d * inverse, a * inverse
    centre_x = -(f00 * c + f01 * f)
    centre_y = -(f10 * c + f11 * f)
    margin_x = tl.abs(f00 * c) + tl.abs(f01 * f)
    margin_y = tl.abs(f10 * c) + tl.abs(f11 * f)
    extent_x = tl.abs(f00) + tl.abs(f01)
    extent_y = tl.abs(f10) + tl.abs(f11)
    extent_x += 1e-3 * (margin_x + extent_x) + 1
    extent_y += 1e-3 * (margin_y + extent_y) + 1
    last_x = (W - 1).to(tl.float32)
    last_y = (H - 1).to(tl.float32)
    x0 = tl.floor(centre_x - extent_x) - 1
    y0 = tl.floor(centre_y - extent_y) - 1
    x1 = tl.ceil(centre_x + extent_x) + 1
    y1 = tl.ceil(centre_y + extent_y) + 1
    # A singular map (non-finite box) takes the whole frame, as in the reference.
    x0 = tl.where(tl.abs(x0) < float("inf"), tl.maximum(x0, 0.0), 0.0)
    y0 = tl.where(tl.abs(y0) < float("inf"), tl.maximum(y0, 0.0), 0.0)
    x1 = tl.where(tl.abs(x1) < float("inf"), tl.minimum(x1, last_x), last_x)
    y1 = tl.where(tl.abs(y1) < float("inf"), tl.minimum(y1, last_y), last_y)
    empty = ~((x0 <= x1) & (y0 <= y1))
    x0 = tl.where(empty, 0.0, x0)
    y0 = tl.where(empty, 0.0, y0)
    x1 = tl.where(empty, -1.0, x1)
    y1 = tl.where(empty, -1.0, y1)
    return x0.to(tl.int32), y0.to(tl.int32), x1.to(tl.int32), y1.to(tl.int32)


@triton.jit
def paint_kernel(
    out_ptr, in_ptr,  # output and input (B, C, T, H, W); the same tensor to paint in place
    source_ptr,  # (B, C, Ts, Hs, Ws) pixels of the same dtype, read only
    inv_affine_ptr,  # (B, M, T, 2, 3) float32, contiguous: output pixel → patch coordinates
    opacity_ptr,  # (B, M, T) float32, contiguous
    src_box_ptr,  # (B, M, 4) int32, contiguous: inclusive crop (x0, y0, x1, y1) in the source
    src_frame_ptr,  # (B, M) int32, contiguous: source frame of each tubelet
    shape_ptr,  # (B, M) int32, contiguous: 0 rectangle, 1 ellipse, 2 rhombus
    softness_ptr,  # (B, M) float32, contiguous: edge ramp width in patch units, 0 = hard
    masks_ptr,  # (B, T, H, W) int8, contiguous: topmost tubelet per pixel (read only with MASKS)
    C, T, H, W,  # video sizes (B is implied by the grid); C colour channels
    Ts, Hs, Ws,  # source frames, height and width
    M,  # tubelets per clip
    out_sb, out_sc, out_st, out_sh, out_sw,  # strides in elements, likewise below
    in_sb, in_sc, in_st, in_sh, in_sw,
    source_sb, source_sc, source_st, source_sh, source_sw,
    IN_PLACE: tl.constexpr,  # outputs are their inputs: write painted pixels only
    PIXELS: tl.constexpr,  # paint the output (False: only the masks, out_ptr and in_ptr unused)
    MASKS: tl.constexpr,  # write the masks
    SOURCE_ALPHA: tl.constexpr,  # the source's channel C is an alpha channel
    ALPHA_UNIT: tl.constexpr,  # what an alpha of 1 is in the source's dtype (255 for uint8)
    C_BLOCK: tl.constexpr,  # next power of two ≥ C
    BLOCK_H: tl.constexpr,  # tile height, pixels (power of two)
    BLOCK_W: tl.constexpr,  # tile width, pixels (power of two)
):
    """Grid: (B·T·⌈H/BLOCK_H⌉·⌈W/BLOCK_W⌉,) programs, one per tile of each frame."""
    dtype: tl.constexpr = source_ptr.dtype.element_ty
    # Program id → (b, t, tile). Indices are int32; memory offsets are int64, since
    # B·C·T·H·W can exceed 2³¹, so b and t, which multiply strides, are int64.
    pid = tl.program_id(0)
    tiles_w = (W + BLOCK_W - 1) // BLOCK_W
    tiles = (H + BLOCK_H - 1) // BLOCK_H * tiles_w
    frame = pid // tiles  # b·T + t
    b, t = (frame // T).to(tl.int64), (frame % T).to(tl.int64)
    tile_x0 = (pid % tiles) % tiles_w * BLOCK_W
    tile_y0 = (pid % tiles) // tiles_w * BLOCK_H

    offs = tl.arange(0, BLOCK_H * BLOCK_W)
    x = tile_x0 + offs % BLOCK_W
    y = tile_y0 + offs // BLOCK_W
    in_frame = (x < W) & (y < H)
    xf, yf = x.to(tl.float32), y.to(tl.float32)
    c = tl.arange(0, C_BLOCK).to(tl.int64)[:, None]  # (C_BLOCK, 1)
    mask = (c < C) & in_frame[None, :]
    xl, yl = x.to(tl.int64)[None, :], y.to(tl.int64)[None, :]

    # The tile (C_BLOCK, pixels): its original values, and the float32 values being painted.
    out_ptrs = out_ptr + b * out_sb + t * out_st + c * out_sc + yl * out_sh + xl * out_sw
    if PIXELS:
        original = tl.load(in_ptr + b * in_sb + t * in_st + c * in_sc + yl * in_sh + xl * in_sw, mask=mask)
        out = original.to(tl.float32)
    else:
        out = tl.full((C_BLOCK, BLOCK_H * BLOCK_W), 0.0, tl.float32)
    painted = offs < 0  # pixels some tubelet shows on
    topmost = tl.full((BLOCK_H * BLOCK_W,), -1, tl.int32)  # the last tubelet painting each pixel

    for m in range(M):
        bm = b * M + m
        affine = inv_affine_ptr + (bm * T + t) * 6
        x0, y0, x1, y1 = _frame_box(affine, H, W)
        # Tubelets whose box misses the tile cost the box.
        if (tl.maximum(x0, tile_x0) <= tl.minimum(x1, tile_x0 + BLOCK_W - 1)) & (
            tl.maximum(y0, tile_y0) <= tl.minimum(y1, tile_y0 + BLOCK_H - 1)
        ):
            ux = (tl.load(affine + 0) * xf + tl.load(affine + 1) * yf) + tl.load(affine + 2)
            uy = (tl.load(affine + 3) * xf + tl.load(affine + 4) * yf) + tl.load(affine + 5)
            inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1) & in_frame
            inside &= tl.maximum(tl.abs(ux), tl.abs(uy)) <= 1
            shape_alpha = _shape_alpha(ux, uy, tl.load(shape_ptr + bm), tl.load(softness_ptr + bm))
            alpha = tl.where(inside, tl.load(opacity_ptr + bm * T + t) * shape_alpha, 0.0)
            keep = alpha <= 0

            crop = src_box_ptr + bm * 4
            sx0, sx1, fx = _source_axis(ux, tl.load(crop + 0), tl.load(crop + 2), Ws)
            sy0, sy1, fy = _source_axis(uy, tl.load(crop + 1), tl.load(crop + 3), Hs)
            src_frame = tl.minimum(tl.maximum(tl.load(src_frame_ptr + bm), 0), Ts - 1).to(tl.int64)
            if SOURCE_ALPHA:  # the source's alpha, a factor of the coverage in [0, 1]
                alpha_ptr = source_ptr + b * source_sb + src_frame * source_st + C * source_sc
                a0 = alpha_ptr + sy0.to(tl.int64) * source_sh
                a1 = alpha_ptr + sy1.to(tl.int64) * source_sh
                s0, s1 = sx0.to(tl.int64) * source_sw, sx1.to(tl.int64) * source_sw
                w00 = tl.load(a0 + s0, mask=~keep, other=0).to(tl.float32)
                w01 = tl.load(a0 + s1, mask=~keep, other=0).to(tl.float32)
                w10 = tl.load(a1 + s0, mask=~keep, other=0).to(tl.float32)
                w11 = tl.load(a1 + s1, mask=~keep, other=0).to(tl.float32)
                upper = w00 + fx * (w01 - w00)
                lower = w10 + fx * (w11 - w10)
                sample = upper + fy * (lower - upper)
                alpha = alpha * tl.minimum(tl.maximum(sample * (1.0 / ALPHA_UNIT), 0.0), 1.0)
                keep = alpha <= 0
            painted |= ~keep
            topmost = tl.where(keep, topmost, m)
            frame_ptr = source_ptr + b * source_sb + src_frame * source_st + c * source_sc
            row0 = frame_ptr + (sy0.to(tl.int64) * source_sh)[None, :]
            row1 = frame_ptr + (sy1.to(tl.int64) * source_sh)[None, :]
            col0 = (sx0.to(tl.int64) * source_sw)[None, :]
            col1 = (sx1.to(tl.int64) * source_sw)[None, :]
            taps = (c < C) & ~keep[None, :]  # sample only where the tubelet shows
            v00 = tl.load(row0 + col0, mask=taps, other=0).to(tl.float32)
            v01 = tl.load(row0 + col1, mask=taps, other=0).to(tl.float32)
            v10 = tl.load(row1 + col0, mask=taps, other=0).to(tl.float32)
            v11 = tl.load(row1 + col1, mask=taps, other=0).to(tl.float32)
            top = v00 + fx[None, :] * (v01 - v00)
            bottom = v10 + fx[None, :] * (v11 - v10)
            value = top + fy[None, :] * (bottom - top)

            a = alpha[None, :]
            blended = tl.where(a >= 1, value, out * (1 - a) + value * a)
            out = tl.where(keep[None, :], out, _quantise(blended, dtype))

    if PIXELS:
        store = mask & painted[None, :] if IN_PLACE else mask
        tl.store(out_ptrs, tl.where(painted[None, :], out.to(dtype), original), mask=store)
    if MASKS:
        tl.store(masks_ptr + ((b * T + t) * H + y) * W + x, topmost.to(tl.int8), mask=in_frame)


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
    """Launch :func:`paint_kernel` once per copy; arguments as :func:`tubelets.reference.paint_`.

    One copy a launch: two in one program need ~100 registers a thread and spill on sm_70,
    while a second launch only re-reads the patches' source pixels, from L2. The first
    launch writes the masks too (with no copies, one launch writes only them).
    The caller has checked the arguments: parameter tensors contiguous, of the documented
    dtypes and on the source's device; outputs, inputs and source of one dtype, any strides.
    """
    if outs:
        batch, channels, frames, height, width = outs[0].shape
    else:
        (batch, frames, height, width), channels = masks.shape, source.shape[1] - int(source_alpha)
    if batch * channels * frames * height * width == 0:
        return
    tiles = triton.cdiv(height, BLOCK_H) * triton.cdiv(width, BLOCK_W)
    # With no copy, the masks stand in for the output and input the kernel does not touch.
    launches = list(zip(outs, ins)) or [(masks.unsqueeze(1), masks.unsqueeze(1))]
    # Triton launches on the current CUDA device; -1 (CPU tensors, interpreter) is a no-op.
    with torch.cuda.device(source.device.index if source.is_cuda else -1):
        for i, (out, video) in enumerate(launches):
            paint_kernel[(batch * frames * tiles,)](
                out, video, source, inv_affine, opacity, src_box, src_frame, shape, softness,
                masks if masks is not None else opacity,
                channels, frames, height, width, *source.shape[2:], inv_affine.shape[1],
                *out.stride(), *video.stride(), *source.stride(),
                IN_PLACE=out.data_ptr() == video.data_ptr() and out.stride() == video.stride(),
                PIXELS=bool(outs),
                MASKS=masks is not None and i == 0,
                SOURCE_ALPHA=source_alpha,
                ALPHA_UNIT=255.0 if source.dtype == torch.uint8 else 1.0,
                C_BLOCK=triton.next_power_of_2(channels),
                BLOCK_H=BLOCK_H,
                BLOCK_W=BLOCK_W,
                num_warps=NUM_WARPS,
                enable_fp_fusion=False,
            )  # fmt: skip
