"""Paths over time: keyframes with interpolation, and smoothed random walks.

Every function is batched over leading dimensions ``(...)`` (clips × tubelets) and draws
its randomness from ``uniform(stream, shape) -> Tensor``, float64 values in ``[0, 1)`` for
the :class:`~tubelets.philox.Stream` named, so the caller decides the generator and the
device. Positions are pixel coordinates ``(x, y)``; everything is computed in float64.
"""
from __future__ import annotations

import functools
from typing import Callable

import torch

from .philox import Stream

Uniform = Callable[[Stream, tuple[int, ...]], torch.Tensor]


def keyframe_times(uniform: Uniform, stream: Stream, batch: tuple[int, ...], keyframes: int, frames: int,
                   device) -> torch.Tensor:
    """``(..., K)`` int64 sorted frame indices: the first, the last and ``K-2`` distinct others.

    ``K = min(keyframes, frames)``; a single frame gives the single keyframe 0 (§3.3). The
    interior keyframes are the frames of the ``K-2`` smallest of ``T-2`` uniforms (ties
    broken by frame), a uniformly random subset.
    """
    count = min(keyframes, frames)
    first = torch.zeros(*batch, 1, dtype=torch.int64, device=device)
    if count == 1:
        return first
    interior = uniform(stream, (*batch, frames - 2)).argsort(dim=-1, stable=True)[..., : count - 2] + 1
    return torch.cat([first, interior.sort(-1).values, first + frames - 1], -1)


def interpolate(times: torch.Tensor, values: torch.Tensor, frames: int, easing: torch.Tensor | None = None
                ) -> torch.Tensor:
    """``(..., T, D)`` through ``values`` ``(..., K, D)`` at ``times`` ``(..., K)``.

    Between keyframes ``t0 < t1`` the value is ``v0 + e(w) · (v1 - v0)``, ``w = (t - t0) /
    (t1 - t0)``, with ``e`` chosen per path by ``easing`` (``(...)`` int64 indices into
    :data:`tubelets.config.INTERPOLATIONS`: 0 ``w``, 1 ``w²``, 2 ``1 - (1 - w)²``); ``None``
    is piecewise-linear.
    """
    if times.shape[-1] == 1:
        return values.expand(*values.shape[:-2], frames, values.shape[-1])
    t = torch.arange(frames, device=times.device).expand(*times.shape[:-1], frames).contiguous()
    segment = (torch.searchsorted(times.contiguous(), t, right=True) - 1).clamp(0, times.shape[-1] - 2)
    t0, t1 = times.gather(-1, segment), times.gather(-1, segment + 1)
    weight = ((t - t0).double() / (t1 - t0).double())[..., None]
    if easing is not None:
        code = easing[..., None, None]
        weight = torch.where(code == 1, weight * weight, torch.where(code == 2, 1 - (1 - weight) * (1 - weight), weight))
    index = segment[..., None].expand(*segment.shape, values.shape[-1])
    v0, v1 = values.gather(-2, index), values.gather(-2, index + 1)
    return v0 + weight.to(values.dtype) * (v1 - v0)


def keyframed(uniform: Uniform, stream: Stream, times: torch.Tensor, low: float, high: float, identity: float,
              dims: int, frames: int, easing: torch.Tensor | None = None):
    """Transform parameters ``(..., T, dims)``: identity at the first keyframe, uniform in
    ``[low, high]`` at the others, interpolated in between as ``easing`` says (§3.4, Eq. 7:
    linear)."""
    values = low + (high - low) * uniform(stream, (*times.shape, dims))
    values[..., 0, :] = identity
    return interpolate(times, values, frames, easing)


def rotation_walk(uniform: Uniform, times: torch.Tensor, step: float, frames: int,
                  easing: torch.Tensor | None = None) -> torch.Tensor:
    """Angles ``(..., T)`` in degrees: 0 at the first keyframe, then a random walk whose
    change from keyframe ``t0`` to the next ``t1`` is uniform in ``±step · (t1 - t0)``
    (``step`` in degrees per frame), interpolated as ``easing`` says."""
    gaps = (times[..., 1:] - times[..., :-1]).double()
    change = (2 * uniform(Stream.ROTATION, (*times.shape[:-1], times.shape[-1]))[..., 1:] - 1) * step * gaps
    values = torch.cat([torch.zeros_like(times[..., :1], dtype=torch.float64), change.cumsum(-1)], -1)
    return interpolate(times, values[..., None], frames, easing)[..., 0]


def static_path(uniform: Uniform, batch: tuple[int, ...], frames: int, size: torch.Tensor) -> torch.Tensor:
    """``(..., T, 2)``: one uniform position held still (the "no motion" ablation, Table 3)."""
    start = uniform(Stream.STATIC_START, (*batch, 1, 2)) * (size - 1)
    return start.expand(*batch, frames, 2)


def linear_path(uniform: Uniform, times: torch.Tensor, step: tuple[float, float], frames: int, size: torch.Tensor,
                easing: torch.Tensor | None = None):
    """``(..., T, 2)`` through keyframe positions whose neighbours lie less than ``Δ`` apart.

    ``Δ`` is drawn per path from ``step`` (fractions of the frame, §4.1); each next
    keyframe is uniform in the disc of radius ``Δ`` around the previous one, clipped to
    the frame (Eq. 5); positions in between are interpolated as ``easing`` says (see
    :func:`interpolate`).
    """
    batch, count = times.shape[:-1], times.shape[-1]
    limit = size - 1
    delta = (step[0] + (step[1] - step[0]) * uniform(Stream.LINEAR_STEP, (*batch, 1))) * size
    radius = delta[..., None, :] * uniform(Stream.LINEAR_RADIUS, (*batch, count - 1, 1)).sqrt()
    angle = 2 * torch.pi * uniform(Stream.LINEAR_ANGLE, (*batch, count - 1))
    offsets = radius * torch.stack([angle.cos(), angle.sin()], -1)
    points = [uniform(Stream.LINEAR_START, (*batch, 2)) * limit]
    for k in range(count - 1):  # K is tiny (3 by default); each point depends on the last
        points.append(torch.minimum(torch.clamp(points[-1] + offsets[..., k, :], min=0), limit))
    return interpolate(times, torch.stack(points, -2), frames, easing)


def nonlinear_path(uniform: Uniform, batch, points: int, sigma: float, extent, frames: int, size: torch.Tensor,
                   square: bool = False):
    """``(..., T, 2)``: ``N`` uniform points, Gaussian-smoothed, resampled to ``T`` (Eq. 6).

    Smoothing and resampling are linear, so they are one ``(N, T)`` matrix
    (:func:`nonlinear_matrix`). Smoothing ``N=48`` uniform points with ``σ=8`` leaves a path
    a few pixels long around the frame centre, so the resampled path is stretched to span a
    fraction ``extent`` of the frame on each axis and placed uniformly inside it: the
    fraction is drawn per axis, or once for both if ``square``.
    """
    raw = uniform(Stream.NONLINEAR_POINTS, (*batch, 2, points))
    path = raw @ nonlinear_matrix(points, sigma, frames, raw.device)  # (..., 2, T)
    low = path.amin(-1, keepdim=True)
    span = path.amax(-1, keepdim=True) - low
    unit = torch.where(span > 0, (path - low) / span.clamp(min=1e-300), torch.full_like(path, 0.5))
    limit = (size - 1)[..., None]  # (2, 1)
    fraction = uniform(Stream.NONLINEAR_LENGTH, (*batch, 2, 1))
    if square:
        fraction = fraction[..., :1, :].expand(*batch, 2, 1)
    length = (extent[0] + (extent[1] - extent[0]) * fraction) * limit
    start = uniform(Stream.NONLINEAR_START, (*batch, 2, 1)) * (limit - length)
    return (start + unit * length).transpose(-1, -2)


@functools.lru_cache(maxsize=32)
def nonlinear_matrix(points: int, sigma: float, frames: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(N, T)`` float64 ``A`` with ``path = raw @ A``: reflect-mode Gaussian smoothing of
    ``N`` points, then linear resampling at ``T`` evenly spaced positions from the first
    point to the last. Built once per configuration and device (so that sampling inside a
    CUDA graph capture copies nothing from the host); not to be modified."""
    if torch.device(device).type != "cpu":
        return nonlinear_matrix(points, sigma, frames).to(device)
    smooth = gaussian_reflect_matrix(points, sigma)
    position = torch.linspace(0, points - 1, frames, dtype=torch.float64)
    left = position.floor().long().clamp(max=points - 2)
    weight = position - left
    resample = torch.zeros(points, frames, dtype=torch.float64)
    columns = torch.arange(frames)
    resample[left, columns] += 1 - weight
    resample[left + 1, columns] += weight
    return smooth @ resample


def gaussian_filter1d_reflect(x: torch.Tensor, sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """Gaussian smoothing along the last axis with half-sample reflection at the ends:
    ``scipy.ndimage.gaussian_filter1d(x, sigma, mode="reflect", truncate=4.0)`` for kernels
    no wider than :func:`gaussian_reflect_matrix` allows."""
    return x @ gaussian_reflect_matrix(x.shape[-1], sigma, truncate).to(x.dtype)


def gaussian_reflect_matrix(n: int, sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """``(n, n)`` float64 ``S`` with ``x @ S`` the reflect-mode Gaussian smoothing of ``x``.

    As in scipy, the kernel has radius ``int(truncate·σ + 0.5)`` and the signal is mirrored
    about its edges (``d c b a | a b c d | d c b a``), repeatedly if the kernel is longer
    than it. The mirrored signal repeats every ``2n`` samples, so the kernel is first folded
    onto ``2n`` taps: memory and time are O(n²). σ is clamped to ``2n`` (so the radius to
    about ``8n``), which bounds the cost whatever σ: a Gaussian that wide already weighs
    every sample alike to within 1e-3, as does any wider one.
    """
    sigma = min(sigma, 2 * n)
    radius = int(truncate * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    period = 2 * n
    folded = torch.zeros(period, dtype=torch.float64).index_add_(0, (offsets.long() % period), kernel)
    # Output i reads the mirrored sample at i + offset; fold that position into [0, n).
    position = (torch.arange(n)[:, None] + torch.arange(period)[None, :]) % period  # (i, offset mod 2n)
    source = torch.where(position >= n, period - 1 - position, position)
    smooth = torch.zeros(n, n, dtype=torch.float64)
    smooth.T.scatter_add_(1, source, folded.expand(n, period))  # smooth[j, i] += weight of x_j in output i
    return smooth
