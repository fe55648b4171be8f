"""Paths and transform schedules follow §3.3–3.4 of the paper (arXiv:2303.11003)."""
import numpy as np
import pytest
import scipy.ndimage
import torch

from tubelets import trajectories
from tubelets.philox import Stream


def uniform_from(seed):
    """A ``uniform(stream, shape)`` from torch's generator (the streams are not used)."""
    generator = torch.Generator().manual_seed(seed)
    return lambda stream, shape: torch.rand(shape, generator=generator, dtype=torch.float64)


SIZE = torch.tensor([112.0, 112.0], dtype=torch.float64)


@pytest.mark.parametrize("sigma, length", [
    (sigma, length) for sigma in [0.5, 1.0, 3.0, 8.0, 20.0] for length in [1, 2, 5, 48, 100] if sigma <= 2 * length
])
def test_gaussian_smoothing_equals_scipy_reflect(sigma, length):
    """Up to σ = 2n, where σ is clamped."""
    x = torch.rand(4, length, dtype=torch.float64)
    expected = scipy.ndimage.gaussian_filter1d(x.numpy(), sigma, axis=-1, mode="reflect")
    np.testing.assert_allclose(trajectories.gaussian_filter1d_reflect(x, sigma).numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("length", [1, 2, 48])
@pytest.mark.parametrize("sigma", [2.0, 1e3, 1e6, 1e300])
def test_gaussian_smoothing_wider_than_the_signal_is_a_weighted_mean(sigma, length):
    """A huge σ costs no more than σ = 2n, where it is clamped: the matrix is ``(n, n)``,
    each output is a weighted mean of the inputs, with nearly equal weights."""
    smooth = trajectories.gaussian_reflect_matrix(length, sigma)
    assert smooth.shape == (length, length) and (smooth >= 0).all()
    torch.testing.assert_close(smooth.sum(0), torch.ones(length, dtype=torch.float64), rtol=0, atol=1e-12)
    if sigma >= 2 * length:
        torch.testing.assert_close(smooth, torch.full_like(smooth, 1 / length), rtol=1e-3, atol=0)


@pytest.mark.parametrize("frames", [1, 2, 3, 4, 16, 33])
@pytest.mark.parametrize("keyframes", [2, 3, 5])
def test_keyframe_times_include_first_and_last_and_are_distinct(frames, keyframes):
    times = trajectories.keyframe_times(uniform_from(0), Stream.MOTION_TIMES, (64, 3), keyframes, frames, "cpu")
    assert times.shape == (64, 3, min(keyframes, frames))
    assert (times[..., 0] == 0).all() and (times[..., -1] == frames - 1).all()
    assert (times.diff(dim=-1) > 0).all()


def kinks(path: torch.Tensor, atol: float = 1e-9) -> torch.Tensor:
    """Number of frames where a ``(..., T, 2)`` path changes direction or speed."""
    second = path.diff(dim=-2).diff(dim=-2).abs().amax(-1)
    return (second > atol).sum(-1)


def test_linear_paths_are_piecewise_linear_with_at_most_k_minus_2_kinks():
    uniform, k = uniform_from(1), 4
    times = trajectories.keyframe_times(uniform, Stream.MOTION_TIMES, (200,), k, 16, "cpu")
    path = trajectories.linear_path(uniform, times, (40 / 112, 80 / 112), 16, SIZE)
    assert path.shape == (200, 16, 2)
    assert (kinks(path) <= k - 2).all()
    assert (kinks(path) > 0).any(), "some paths must turn at an interior keyframe"
    keypoints = path.gather(-2, times[..., None].expand(-1, -1, 2))
    steps = keypoints.diff(dim=-2).norm(dim=-1)
    assert (steps < 80).all(), "neighbouring keyframes lie less than Δ apart (Δ ≤ 80 px)"
    assert ((path >= 0) & (path <= 111)).all()


def test_nonlinear_paths_are_smooth_curved_and_span_the_frame():
    uniform = uniform_from(2)
    path = trajectories.nonlinear_path(uniform, (300,), 48, 8.0, (0.3, 1.0), 16, SIZE)
    assert path.shape == (300, 16, 2)
    assert ((path >= 0) & (path <= 111 + 1e-9)).all()
    span = path.amax(-2) - path.amin(-2)
    assert (span >= 0.3 * 111 - 1e-6).all() and (span <= 111 + 1e-6).all()
    # Curved: the path leaves the straight line between its ends by more than a pixel.
    start, end = path[:, :1], path[:, -1:]
    direction = (end - start) / (end - start).norm(dim=-1, keepdim=True)
    offset = path - start
    across = (offset[..., 0] * direction[..., 1] - offset[..., 1] * direction[..., 0]).abs().amax(-1)
    assert (across > 1.0).float().mean() > 0.9
    # Smooth: accelerations are small against the frame-to-frame steps (no jumps).
    speed = path.diff(dim=-2).norm(dim=-1)
    acceleration = path.diff(dim=-2).diff(dim=-2).norm(dim=-1)
    assert acceleration.mean() < 0.5 * speed.mean()


def test_unsmoothed_points_would_not_be_smooth():
    """The smoothness check above can fail: raw uniform points jump around."""
    raw = torch.rand(300, 16, 2, dtype=torch.float64) * 111
    speed = raw.diff(dim=-2).norm(dim=-1)
    acceleration = raw.diff(dim=-2).diff(dim=-2).norm(dim=-1)
    assert not acceleration.mean() < 0.5 * speed.mean()


def test_static_paths_do_not_move():
    path = trajectories.static_path(uniform_from(3), (50, 2), 16, SIZE)
    assert (path == path[..., :1, :]).all()


@pytest.mark.parametrize("low, high, identity, dims", [(-90.0, 90.0, 0.0, 1), (0.5, 1.5, 1.0, 2), (-1.0, 1.0, 0.0, 2)])
def test_transform_schedules_start_at_identity_and_stay_in_range(low, high, identity, dims):
    uniform = uniform_from(4)
    times = trajectories.keyframe_times(uniform, Stream.TRANSFORM_TIMES, (500,), 3, 16, "cpu")
    values = trajectories.keyframed(uniform, Stream.ROTATION, times, low, high, identity, dims, 16)
    assert values.shape == (500, 16, dims)
    assert (values[:, 0] == identity).all()
    assert ((values >= low - 1e-9) & (values <= high + 1e-9)).all()
    assert (kinks(values) <= 1).all()
    keyed = values.gather(-2, times[..., None].expand(-1, -1, dims))[:, 1:]
    assert keyed.min() < low + 0.1 * (high - low) and keyed.max() > high - 0.1 * (high - low)
