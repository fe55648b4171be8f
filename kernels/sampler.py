"""Triton sampler: every parameter of a batch's tubelets in one launch, like
:func:`tubelets.sampling.sample_reference`.

One program owns one tubelet slot ``(b, m)`` (paint order) and writes every field of it:
``inv_affine``, ``opacity``, ``src_box``, ``src_frame``, ``shape``, ``softness``, ``centers``,
``angles``, ``scales``, ``shears`` and the keyframes. The steps are ``csrc/sampler.h``'s
(which mirror the reference's), vectorised over frames instead of looped:

* the crops of all ``M`` slots of the clip are drawn by every program of the clip (``M``
  is small), ranked by area, largest first and stably, and the program keeps the crop of
  rank ``m``, so the sort needs no second pass;
* the program also learns the slot its crop was drawn in, which decides whether the
  clip paints it (``num_tubelets=(low, high)``); with ``SAME_ON_BATCH`` every program
  draws as clip 0;
* keyframe times rank ``T-2`` uniforms against each other in a ``T × T`` comparison;
  each frame then finds its segment ``[t0, t1]`` among the keyframes;
* a linear path's keyframe positions depend each on the last, so they are a loop of
  ``K-1`` steps; a non-linear path is the ``(N, T)`` matrix of
  :func:`tubelets.trajectories.nonlinear_matrix` applied to ``N`` uniforms.

Every random number is ``tl.philox`` (Philox4x32-10, key = the seed's low then high 32
bits, counter ``(index // 4, b, m, stream)``), word ``index % 4``, times 2⁻³²: exactly
:mod:`tubelets.philox`. Arithmetic is float64 in the reference's order, stored as float32;
launch with ``enable_fp_fusion=False`` so that no multiply-add is contracted. Integers
(boxes, frames, shapes, keyframes) match the reference exactly; floats to float32 rounding.

The configuration is compile-time (one compile per motion, transforms, K, N and shapes);
sizes are runtime, but M, T and N round up to powers of two for the blocks, so a new
power of two compiles again. The ``T × T`` comparisons of the keyframes grow with T: for
sm_90, 16 frames take ≤ 128 registers and 32 frames ~160, without spills; 64 frames and
more spill (still correct; ``python -m tubelets.kernels.resources`` prints the numbers).
The options of ``TubeletConfig.official_code()`` (anchors, keyframed opacity, the rotation
walk's ``T × T`` sums) take ~174 registers for non-linear paths on sm_90, still without spills.

The kernel calls Triton's ``@triton.jit`` helpers (``tl.philox``, ``tl.sum``), so Triton's
interpreter runs it only when ``TRITON_INTERPRET=1`` was set before Triton was imported
(``tests/test_triton_sampler.py`` runs it in a child process).
"""
from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

NUM_WARPS = 2  # a program handles vectors of T (and N·T for non-linear paths) float64 values

# tubelets.philox.Stream (the kernels import nothing from the package; a test compares them).
CROP_SIZE = tl.constexpr(0)
CROP_CORNER = tl.constexpr(1)
SOURCE_FRAME = tl.constexpr(2)
SHAPE = tl.constexpr(3)
SOFTNESS = tl.constexpr(4)
OPACITY = tl.constexpr(5)
APPLIED = tl.constexpr(6)
STATIC_START = tl.constexpr(7)
MOTION_TIMES = tl.constexpr(8)
LINEAR_STEP = tl.constexpr(9)
LINEAR_RADIUS = tl.constexpr(10)
LINEAR_ANGLE = tl.constexpr(11)
LINEAR_START = tl.constexpr(12)
NONLINEAR_POINTS = tl.constexpr(13)
NONLINEAR_LENGTH = tl.constexpr(14)
NONLINEAR_START = tl.constexpr(15)
TRANSFORM_TIMES = tl.constexpr(16)
ROTATION_VALUES = tl.constexpr(17)
SCALE_VALUES = tl.constexpr(18)
SHEAR_VALUES = tl.constexpr(19)
COUNT = tl.constexpr(20)
EASING = tl.constexpr(21)
PATCH_ANCHOR = tl.constexpr(22)
SOFT_EDGE = tl.constexpr(23)
OPACITY_TIMES = tl.constexpr(24)

STATIC, LINEAR, NONLINEAR = tl.constexpr(0), tl.constexpr(1), tl.constexpr(2)  # native.MOTION_CODES
EASE_LINEAR, ACCELERATE, DECELERATE, EASE_RANDOM = (tl.constexpr(i) for i in range(4))  # config.INTERPOLATIONS
TWO_PI = tl.constexpr(2 * math.pi)
INF = tl.constexpr(math.inf)
RADIANS_PER_DEGREE = tl.constexpr(math.pi / 180)
# Slots of the ranges vector: (low, high) pairs in native.sample_triton's order, then p.
PATCH, STEP, EXTENT, SCALE_RANGE, ROTATION_RANGE, SHEAR_RANGE, OPACITY_RANGE, SOFTNESS_RANGE, P = (
    tl.constexpr(i) for i in range(0, 17, 2))
# Then native._config_arguments' extras: softness_p, patch_jitter, rotation_step, the (w, h) anchors.
SOFTNESS_P, JITTER, ROTATION_STEP, ANCHORS = (tl.constexpr(i) for i in range(17, 21))


@triton.jit
def _uniform(seed, clip, tubelet, stream, index):
    """float64 draws in ``[0, 1)``: draw ``index`` of ``stream`` of tubelet ``tubelet`` of clip
    ``clip`` (int32 scalars or tensors, broadcast together; ``seed`` the int64 key)."""
    index = tl.to_tensor(index)
    zero = index * 0
    c0, c1, c2, c3 = tl.philox(seed, index // 4, zero + clip, zero + tubelet, zero + stream)
    word = index % 4
    bits = tl.where(word == 0, c0, tl.where(word == 1, c1, tl.where(word == 2, c2, c3)))
    return bits.to(tl.float64) * 2.3283064365386963e-10  # 2⁻³²


@triton.jit
def _between(ranges_ptr, slot: tl.constexpr, unit):
    """``low + (high - low) · unit`` for the (low, high) pair at ``ranges_ptr[slot]``."""
    low = tl.load(ranges_ptr + slot)
    return low + (tl.load(ranges_ptr + slot + 1) - low) * unit


@triton.jit
def _round_half_even(x):
    """``torch.round`` (``nearbyint``) of float64 ``x``, exactly."""
    low = tl.floor(x)
    above = x - low
    odd = low - 2.0 * tl.floor(low * 0.5) != 0.0
    return tl.where((above > 0.5) | ((above == 0.5) & odd), low + 1.0, low)


@triton.jit
def _crop_axis(seed, clip, tubelets, axis: tl.constexpr, size, ranges_ptr, NUM_ANCHORS: tl.constexpr):
    """First pixel, last pixel and extent (float64, whole numbers) of the crops of
    ``tubelets`` along ``axis`` (0: x, 1: y) of a frame ``size`` pixels long: uniform in
    the patch_size range, or one of ``NUM_ANCHORS`` anchors, jittered (sampling._crops)."""
    unit = _uniform(seed, clip, tubelets, CROP_SIZE, axis)
    if NUM_ANCHORS > 0:
        pick = tl.minimum(tl.floor(_uniform(seed, clip, tubelets, PATCH_ANCHOR, 0) * NUM_ANCHORS), NUM_ANCHORS - 1.0)
        anchor = tl.load(ranges_ptr + ANCHORS + pick.to(tl.int32) * 2 + axis)
        jitter = tl.load(ranges_ptr + JITTER)
        extent = _round_half_even(anchor * tl.exp(-jitter + 2 * jitter * unit) * size)
    else:
        extent = _round_half_even(_between(ranges_ptr, PATCH, unit) * size)
    extent = tl.minimum(tl.maximum(extent, 1.0), size)
    corner = tl.floor(_uniform(seed, clip, tubelets, CROP_CORNER, axis) * (size - extent + 1.0))
    corner = tl.minimum(corner, size - extent)
    return corner, corner + extent - 1.0, extent


@triton.jit
def _key_frames(seed, clip, tubelet, stream, count, T, T_BLOCK: tl.constexpr):
    """``trajectories.keyframe_times`` of ``stream`` as masks over frames ``f = 0 …
    T_BLOCK-1``: whether ``f`` is one of the ``count = min(K, T)`` keyframes, and how many
    keyframes come before it (its index if it is one)."""
    f = tl.arange(0, T_BLOCK)
    interior = (f >= 1) & (f <= T - 2)
    value = _uniform(seed, clip, tubelet, stream, tl.maximum(f - 1, 0))
    # Rank each interior frame by its uniform, ties by frame; keep those ranked below count - 2.
    ahead = (value[None, :] < value[:, None]) | ((value[None, :] == value[:, None]) & (f[None, :] < f[:, None]))
    rank = tl.sum((ahead & interior[None, :]).to(tl.int32), axis=1)
    # (count as a vector: the interpreter makes a mask of int32, not bool, from a scalar & a vector)
    several = tl.zeros([T_BLOCK], tl.int32) + count > 1
    key = (f == 0) | (several & ((f == T - 1) | (interior & (rank < count - 2))))
    earlier_keys = tl.sum(((f[None, :] < f[:, None]) & key[None, :]).to(tl.int32), axis=1)
    return key, earlier_keys


@triton.jit
def _keyframes(seed, clip, tubelet, stream, count, T, times_ptr, STORE: tl.constexpr, T_BLOCK: tl.constexpr):
    """:func:`_key_frames`, storing (if ``STORE``) the ``count = min(K, T)`` sorted times
    (int64) at ``times_ptr``; returns, for frames ``t = 0 … T_BLOCK-1``, the index of the
    keyframe that starts ``t``'s segment and ``t``'s weight ``(t - t0) / (t1 - t0)`` towards
    the next (0 when there is one keyframe)."""
    f = tl.arange(0, T_BLOCK)
    key, earlier_keys = _key_frames(seed, clip, tubelet, stream, count, T, T_BLOCK)
    if STORE:
        tl.store(times_ptr + earlier_keys, f.to(tl.int64), mask=key)
    # Frame t (rows) lies in the segment that starts at its last keyframe t0 <= t, never the last one.
    starts = (f[None, :] <= f[:, None]) & (f[None, :] < T - 1) & key[None, :]
    t0 = tl.max(tl.where(starts, f[None, :], 0), axis=1)
    segment = tl.maximum(tl.sum(starts.to(tl.int32), axis=1) - 1, 0)
    t1 = tl.min(tl.where((f[None, :] > t0[:, None]) & key[None, :], f[None, :], 2 * T_BLOCK), axis=1)
    weight = (f - t0).to(tl.float64) / (t1 - t0).to(tl.float64)
    return segment, tl.where(count > 1, weight, 0.0)


@triton.jit
def _ease(weight, easing):
    """``e(w)`` of ``trajectories.interpolate`` for the ``easing`` (EASE_LINEAR, ACCELERATE or
    DECELERATE; a scalar) of a tubelet."""
    return tl.where(easing == ACCELERATE, weight * weight,
                    tl.where(easing == DECELERATE, 1 - (1 - weight) * (1 - weight), weight))


@triton.jit
def _keyed(seed, clip, tubelet, stream, segment, weight, ranges_ptr, slot: tl.constexpr, identity,
           DIMS: tl.constexpr, d: tl.constexpr):
    """``trajectories.keyframed`` component ``d`` of ``DIMS`` per frame: ``identity`` at the
    first keyframe, drawn from the range at ``slot`` at the others, linear in between."""
    start = _between(ranges_ptr, slot, _uniform(seed, clip, tubelet, stream, segment * DIMS + d))
    start = tl.where(segment == 0, identity, start)
    end = _between(ranges_ptr, slot, _uniform(seed, clip, tubelet, stream, (segment + 1) * DIMS + d))
    return start + weight * (end - start)


@triton.jit
def _rotation_walk(seed, clip, tubelet, count, T, segment, weight, ranges_ptr, T_BLOCK: tl.constexpr):
    """``trajectories.rotation_walk`` per frame: the angle at keyframe ``k`` is the sum of
    the changes ``(2u - 1) · step · (t_k - t_{k-1})`` up to ``k``; frames between two
    keyframes mix them by ``weight``."""
    f = tl.arange(0, T_BLOCK)
    key, index = _key_frames(seed, clip, tubelet, TRANSFORM_TIMES, count, T, T_BLOCK)
    previous = tl.max(tl.where((f[None, :] < f[:, None]) & key[None, :], f[None, :], 0), axis=1)
    change = (2 * _uniform(seed, clip, tubelet, ROTATION_VALUES, index) - 1) * tl.load(ranges_ptr + ROTATION_STEP)
    change = tl.where(key & (index >= 1), change * (f - previous).to(tl.float64), 0.0)
    counted = key[None, :] & (index[None, :] <= segment[:, None])  # (frame, keyframe): up to the segment's start
    start = tl.sum(tl.where(counted, change[None, :], 0.0), axis=1)
    end = start + tl.sum(tl.where(key[None, :] & (index[None, :] == segment[:, None] + 1), change[None, :], 0.0), axis=1)
    return start + weight * (end - start)


@triton.jit
def _nonlinear_axis(seed, clip, tubelet, axis: tl.constexpr, limit, matrix, valid, ranges_ptr,
                    POINTS: tl.constexpr, N_BLOCK: tl.constexpr, LENGTH_AXIS: tl.constexpr):
    """``trajectories.nonlinear_path`` along ``axis``: ``N`` uniforms through the ``(N_BLOCK,
    T_BLOCK)`` ``matrix``, rescaled to a drawn extent of ``[0, limit]``; frames where
    ``valid``; the stretch is drawn for ``LENGTH_AXIS`` (``axis``, or 0 for square paths)."""
    n = tl.arange(0, N_BLOCK)
    raw = tl.where(n < POINTS, _uniform(seed, clip, tubelet, NONLINEAR_POINTS, axis * POINTS + n), 0.0)
    path = tl.sum(raw[:, None] * matrix, axis=0)
    low = tl.min(tl.where(valid, path, INF), axis=0)
    span = tl.max(tl.where(valid, path, -INF), axis=0) - low
    unit = tl.where(span > 0, (path - low) / tl.where(span > 0, span, 1.0), 0.5)
    length = _between(ranges_ptr, EXTENT, _uniform(seed, clip, tubelet, NONLINEAR_LENGTH, LENGTH_AXIS)) * limit
    start = _uniform(seed, clip, tubelet, NONLINEAR_START, axis) * (limit - length)
    return start + unit * length


@triton.jit(do_not_specialize=["M", "T", "H", "W", "LOW"])
def sample_kernel(
    seed_ptr,  # () int64: the Philox key
    ranges_ptr,  # (20 + 2A,) float64: the (low, high) pairs of the slots above, p, then the extras
    matrix_ptr,  # (N, T) float64, contiguous: non-linear path = points @ matrix (read if NONLINEAR)
    inv_affine_ptr,  # (B, M, T, 2, 3) float32, contiguous: output pixel → patch coordinates
    opacity_ptr,  # (B, M, T) float32
    src_box_ptr,  # (B, M, 4) int32: inclusive crop (x0, y0, x1, y1), paint order
    src_frame_ptr,  # (B, M) int32
    shape_ptr,  # (B, M) int32: index into tubelets.params.SHAPES
    softness_ptr,  # (B, M) float32
    centers_ptr,  # (B, M, T, 2) float32: pixels
    angles_ptr,  # (B, M, T) float32: degrees
    scales_ptr,  # (B, M, T, 2) float32
    shears_ptr,  # (B, M, T, 2) float32
    motion_times_ptr,  # (B, M, min(K, T)) int64, written if LINEAR
    transform_times_ptr,  # (B, M, min(K, T)) int64
    M, T, H, W,  # tubelets per clip, frames, height, width (B is the grid over M)
    LOW,  # the fewest tubelets a clip paints (drawn uniformly from LOW … M when LOW < M)
    SAME_ON_BATCH: tl.constexpr,  # every clip draws clip 0's tubelets
    INTERPOLATION: tl.constexpr,  # EASE_LINEAR, ACCELERATE, DECELERATE or EASE_RANDOM
    NUM_ANCHORS: tl.constexpr,  # patch sizes: 0 uniform in the patch_size range, else anchors
    OPACITY_KEYS: tl.constexpr, SQUARE: tl.constexpr, WALK: tl.constexpr,  # opacity_keyframes, …
    MOTION: tl.constexpr,  # STATIC, LINEAR or NONLINEAR
    ROTATION: tl.constexpr, SCALE: tl.constexpr, SHEAR: tl.constexpr,  # which transforms
    KEYFRAMES: tl.constexpr,  # K
    POINTS: tl.constexpr,  # N, points of a non-linear path
    SHAPE_0: tl.constexpr, SHAPE_1: tl.constexpr, SHAPE_2: tl.constexpr,  # drawable shapes, padded
    NUM_SHAPES: tl.constexpr,
    M_BLOCK: tl.constexpr, T_BLOCK: tl.constexpr, N_BLOCK: tl.constexpr,  # powers of two ≥ M, T, N
):
    """Grid: (B·M,) programs, one per tubelet slot ``(b, m)`` in paint order."""
    pid = tl.program_id(0)
    b = pid // M
    m = pid % M
    bm = pid.to(tl.int64)
    seed = tl.load(seed_ptr)
    clip = 0 if SAME_ON_BATCH else b  # whose draws these are
    width, height, frames = W.to(tl.float64), H.to(tl.float64), T.to(tl.float64)

    # The clip's crops, drawn per slot; this slot takes the one ranked m by area, largest first.
    j = tl.arange(0, M_BLOCK)
    first_x, last_x, extent_x = _crop_axis(seed, clip, j, 0, width, ranges_ptr, NUM_ANCHORS)
    first_y, last_y, extent_y = _crop_axis(seed, clip, j, 1, height, ranges_ptr, NUM_ANCHORS)
    source_frame = tl.minimum(tl.floor(_uniform(seed, clip, j, SOURCE_FRAME, 0) * frames), frames - 1.0)
    area = extent_x * extent_y
    ahead = (area[None, :] > area[:, None]) | ((area[None, :] == area[:, None]) & (j[None, :] < j[:, None]))
    rank = tl.sum((ahead & (j < M)[None, :]).to(tl.int32), axis=1)
    mine = (rank == m) & (j < M)
    x0, y0 = tl.sum(tl.where(mine, first_x, 0.0), axis=0), tl.sum(tl.where(mine, first_y, 0.0), axis=0)
    x1, y1 = tl.sum(tl.where(mine, last_x, 0.0), axis=0), tl.sum(tl.where(mine, last_y, 0.0), axis=0)
    tl.store(src_box_ptr + bm * 4 + 0, x0.to(tl.int32))
    tl.store(src_box_ptr + bm * 4 + 1, y0.to(tl.int32))
    tl.store(src_box_ptr + bm * 4 + 2, x1.to(tl.int32))
    tl.store(src_box_ptr + bm * 4 + 3, y1.to(tl.int32))
    tl.store(src_frame_ptr + bm, tl.sum(tl.where(mine, source_frame, 0.0), axis=0).to(tl.int32))

    choice = tl.minimum(tl.floor(_uniform(seed, clip, m, SHAPE, 0) * NUM_SHAPES), NUM_SHAPES - 1.0)
    tl.store(shape_ptr + bm, tl.where(choice == 0, SHAPE_0, tl.where(choice == 1, SHAPE_1, SHAPE_2)))
    softness = _between(ranges_ptr, SOFTNESS_RANGE, _uniform(seed, clip, m, SOFTNESS, 0))
    soft = tl.where(_uniform(seed, clip, m, SOFT_EDGE, 0) < tl.load(ranges_ptr + SOFTNESS_P), 1.0, 0.0)
    tl.store(softness_ptr + bm, (softness * soft).to(tl.float32))
    applied = tl.where(_uniform(seed, clip, 0, APPLIED, 0) < tl.load(ranges_ptr + P), 1.0, 0.0)
    # The clip paints the slots drawn first, as many as it draws from LOW … M (sampling._active).
    origin = tl.sum(tl.where(mine, j, 0), axis=0)
    extra = tl.minimum(tl.floor(_uniform(seed, clip, 0, COUNT, 0) * (M - LOW + 1).to(tl.float64)),
                       (M - LOW).to(tl.float64))
    active = tl.where((LOW >= M) | (origin.to(tl.float64) < LOW + extra), 1.0, 0.0)
    t = tl.arange(0, T_BLOCK)
    valid = t < T
    count = tl.minimum(T, KEYFRAMES)  # keyframes: min(K, T)
    if OPACITY_KEYS:  # levels at keyframes of their own, linear in between
        segment, weight = _keyframes(seed, clip, m, OPACITY_TIMES, count, T, opacity_ptr, False, T_BLOCK)
        first = _between(ranges_ptr, OPACITY_RANGE, _uniform(seed, clip, m, OPACITY, segment))
        last = _between(ranges_ptr, OPACITY_RANGE, _uniform(seed, clip, m, OPACITY, segment + 1))
        opacity = first + weight * (last - first)
    else:
        opacity = tl.zeros([T_BLOCK], tl.float64) + _between(ranges_ptr, OPACITY_RANGE, _uniform(seed, clip, m, OPACITY, 0))
    opacity = (opacity * applied * active).to(tl.float32)
    if INTERPOLATION == EASE_RANDOM:
        easing = tl.minimum(tl.floor(_uniform(seed, clip, m, EASING, 0) * 3.0), 2.0).to(tl.int32)
    else:
        easing = INTERPOLATION

    limit_x, limit_y = width - 1.0, height - 1.0
    if MOTION == STATIC:
        cx = tl.zeros([T_BLOCK], tl.float64) + _uniform(seed, clip, m, STATIC_START, 0) * limit_x
        cy = tl.zeros([T_BLOCK], tl.float64) + _uniform(seed, clip, m, STATIC_START, 1) * limit_y
    elif MOTION == LINEAR:
        segment, weight = _keyframes(seed, clip, m, MOTION_TIMES, count, T, motion_times_ptr + bm * count, True, T_BLOCK)
        weight = _ease(weight, easing)
        step = _between(ranges_ptr, STEP, _uniform(seed, clip, m, LINEAR_STEP, 0))
        px = _uniform(seed, clip, m, LINEAR_START, 0) * limit_x
        py = _uniform(seed, clip, m, LINEAR_START, 1) * limit_y
        # The positions at each frame's segment ends: keyframe `segment` and the next.
        x_start, y_start = tl.zeros([T_BLOCK], tl.float64) + px, tl.zeros([T_BLOCK], tl.float64) + py
        x_end, y_end = tl.zeros([T_BLOCK], tl.float64), tl.zeros([T_BLOCK], tl.float64)
        for k in range(0, count - 1):  # each keyframe moves from the last, within the disc of radius Δ
            root = tl.sqrt(_uniform(seed, clip, m, LINEAR_RADIUS, k))
            angle = TWO_PI * _uniform(seed, clip, m, LINEAR_ANGLE, k)
            px = tl.minimum(tl.maximum(px + step * width * root * tl.cos(angle), 0.0), limit_x)
            py = tl.minimum(tl.maximum(py + step * height * root * tl.sin(angle), 0.0), limit_y)
            x_start, y_start = tl.where(segment == k + 1, px, x_start), tl.where(segment == k + 1, py, y_start)
            x_end, y_end = tl.where(segment == k, px, x_end), tl.where(segment == k, py, y_end)
        cx = x_start + weight * (x_end - x_start)
        cy = y_start + weight * (y_end - y_start)
    else:
        n = tl.arange(0, N_BLOCK)
        matrix = tl.load(matrix_ptr + n[:, None] * T + t[None, :], mask=(n[:, None] < POINTS) & valid[None, :],
                         other=0.0)
        cx = _nonlinear_axis(seed, clip, m, 0, limit_x, matrix, valid, ranges_ptr, POINTS, N_BLOCK, 0)
        cy = _nonlinear_axis(seed, clip, m, 1, limit_y, matrix, valid, ranges_ptr, POINTS, N_BLOCK, 0 if SQUARE else 1)
    # Snap to the crop's pixel grid (sampling._snap_to_crop_grid).
    phase_x = (x0 + x1) * 0.5 - tl.floor((x0 + x1) * 0.5)
    phase_y = (y0 + y1) * 0.5 - tl.floor((y0 + y1) * 0.5)
    cx = _round_half_even(cx - phase_x) + phase_x
    cy = _round_half_even(cy - phase_y) + phase_y

    segment, weight = _keyframes(seed, clip, m, TRANSFORM_TIMES, count, T, transform_times_ptr + bm * count, True, T_BLOCK)
    weight = _ease(weight, easing)
    zero = tl.zeros([T_BLOCK], tl.float64)
    angle, scale_x, scale_y, shear_x, shear_y = zero, zero + 1.0, zero + 1.0, zero, zero
    if ROTATION and WALK:
        angle = _rotation_walk(seed, clip, m, count, T, segment, weight, ranges_ptr, T_BLOCK)
    elif ROTATION:
        angle = _keyed(seed, clip, m, ROTATION_VALUES, segment, weight, ranges_ptr, ROTATION_RANGE, 0.0, 1, 0)
    if SCALE:
        scale_x = _keyed(seed, clip, m, SCALE_VALUES, segment, weight, ranges_ptr, SCALE_RANGE, 1.0, 2, 0)
        scale_y = _keyed(seed, clip, m, SCALE_VALUES, segment, weight, ranges_ptr, SCALE_RANGE, 1.0, 2, 1)
    if SHEAR:
        shear_x = _keyed(seed, clip, m, SHEAR_VALUES, segment, weight, ranges_ptr, SHEAR_RANGE, 0.0, 2, 0)
        shear_y = _keyed(seed, clip, m, SHEAR_VALUES, segment, weight, ranges_ptr, SHEAR_RANGE, 0.0, 2, 1)

    # The inverse map (params.compile_inv_affine): R(angle) · Y(shear_y) · X(shear_x) · diag(scale · half).
    theta = angle * RADIANS_PER_DEGREE
    cos, sin = tl.cos(theta), tl.sin(theta)
    sx, sy = scale_x * ((x1 - x0 + 1.0) / 2), scale_y * ((y1 - y0 + 1.0) / 2)
    a00, a01 = sx, shear_x * sy
    a10, a11 = shear_y * sx, (1 + shear_x * shear_y) * sy
    f00, f01 = cos * a00 - sin * a10, cos * a01 - sin * a11
    f10, f11 = sin * a00 + cos * a10, sin * a01 + cos * a11
    det = f00 * f11 - f01 * f10
    i00, i01, i10, i11 = f11 / det, -f01 / det, -f10 / det, f00 / det

    frame = bm * T + t
    maps = inv_affine_ptr + frame * 6
    tl.store(maps + 0, i00.to(tl.float32), mask=valid)
    tl.store(maps + 1, i01.to(tl.float32), mask=valid)
    tl.store(maps + 2, (-(i00 * cx + i01 * cy)).to(tl.float32), mask=valid)
    tl.store(maps + 3, i10.to(tl.float32), mask=valid)
    tl.store(maps + 4, i11.to(tl.float32), mask=valid)
    tl.store(maps + 5, (-(i10 * cx + i11 * cy)).to(tl.float32), mask=valid)
    tl.store(opacity_ptr + frame, opacity, mask=valid)
    tl.store(angles_ptr + frame, angle.to(tl.float32), mask=valid)
    tl.store(centers_ptr + frame * 2, cx.to(tl.float32), mask=valid)
    tl.store(centers_ptr + frame * 2 + 1, cy.to(tl.float32), mask=valid)
    tl.store(scales_ptr + frame * 2, scale_x.to(tl.float32), mask=valid)
    tl.store(scales_ptr + frame * 2 + 1, scale_y.to(tl.float32), mask=valid)
    tl.store(shears_ptr + frame * 2, shear_x.to(tl.float32), mask=valid)
    tl.store(shears_ptr + frame * 2 + 1, shear_y.to(tl.float32), mask=valid)


def sample_(
    outputs: list[torch.Tensor],
    seed: torch.Tensor,
    ranges: torch.Tensor,
    matrix: torch.Tensor,
    sizes: list[int],
    motion: int,
    transforms: list[bool],
    keyframes: int,
    points: int,
    shapes: list[int],
    options: list[int],
) -> None:
    """Launch :func:`sample_kernel` once for the batch, on ``seed``'s device.

    ``outputs`` are the fields of :class:`tubelets.Tubelets` in order, contiguous, shaped as
    ``tubelets.native._sample_outputs`` makes them; ``sizes`` is ``[B, M, T, H, W]``;
    ``transforms`` flags rotation, scale, shear; ``shapes`` (1 to 3) index ``SHAPES``;
    ``options`` are those of ``tubelets.native._config_arguments``. The
    caller has checked the arguments; the host reads none of the tensors.
    """
    batch, count, frames, height, width = sizes
    if batch * count == 0:
        return
    drawable = (*shapes, shapes[-1], shapes[-1])[:3]
    # Triton launches on the current CUDA device; -1 (CPU tensors, interpreter) is a no-op.
    with torch.cuda.device(seed.device.index if seed.is_cuda else -1):
        sample_kernel[(batch * count,)](
            seed, ranges, matrix, *outputs, count, frames, height, width, options[0],
            SAME_ON_BATCH=bool(options[1]), INTERPOLATION=options[2], NUM_ANCHORS=(len(ranges) - ANCHORS.value) // 2,
            OPACITY_KEYS=bool(options[3]), SQUARE=bool(options[4]), WALK=bool(options[5]),
            MOTION=motion, ROTATION=transforms[0], SCALE=transforms[1], SHEAR=transforms[2],
            KEYFRAMES=keyframes, POINTS=points,
            SHAPE_0=drawable[0], SHAPE_1=drawable[1], SHAPE_2=drawable[2], NUM_SHAPES=len(shapes),
            M_BLOCK=triton.next_power_of_2(count), T_BLOCK=triton.next_power_of_2(frames),
            N_BLOCK=triton.next_power_of_2(points) if motion == NONLINEAR else 1,
            num_warps=NUM_WARPS,
            enable_fp_fusion=False,
        )  # fmt: skip
